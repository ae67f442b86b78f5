/**
 * @module The text a reviewer may edit in a sample, as named form fields: each message's content, each tool
 * call's arguments, a corpus document's text, an RL prompt's turns and its reference answer. The structure
 * (roles, ids, tool definitions, meta) stays as it is, so an edit cannot break a sample's shape; the edited
 * sample is still validated against its kind before it is kept.
 */
import type { DatasetKind, Sample } from "@sovereign/schemas";

export type EditableField = {
  /** The form field's name: `f.` and the JSON path, e.g. `f.messages.2.content`. */
  name: string;
  path: (string | number)[];
  label: string;
  value: string;
};

export function editableFields(kind: DatasetKind, sample: Sample): EditableField[] {
  const fields: EditableField[] = [];
  const add = (path: (string | number)[], label: string, value: string) =>
    fields.push({ name: `f.${path.join(".")}`, path, label, value });
  if (kind === "chat" && "messages" in sample) {
    for (const [i, m] of sample.messages.entries()) {
      if (typeof m.content === "string") add(["messages", i, "content"], `${i + 1} · ${m.role}`, m.content);
      if (m.role !== "assistant") continue;
      for (const [j, call] of (m.tool_calls ?? []).entries())
        add(
          ["messages", i, "tool_calls", j, "function", "arguments"],
          `${i + 1} · ${call.function.name}() arguments`,
          call.function.arguments,
        );
    }
  } else if (kind === "text" && "text" in sample) {
    add(["text"], "text", sample.text);
  } else if (kind === "rl-prompt" && "prompt" in sample) {
    for (const [i, m] of sample.prompt.entries())
      add(["prompt", i, "content"], `${i + 1} · ${m.role}`, m.content);
    add(["reward_model", "ground_truth"], "reference answer", sample.reward_model.ground_truth);
  }
  return fields;
}

/**
 * The sample with the form's values in its editable fields. Browsers send a textarea's line breaks as CRLF;
 * they are read back as LF so an untouched field stays byte-equal. A form field that names no editable field
 * is refused, by name.
 */
export function applyFields(kind: DatasetKind, sample: Sample, form: Record<string, unknown>): Sample {
  const fields = new Map(editableFields(kind, sample).map((f) => [f.name, f]));
  const edited = structuredClone(sample) as unknown as Record<string, unknown>;
  for (const [name, raw] of Object.entries(form)) {
    if (!name.startsWith("f.")) continue;
    const field = fields.get(name);
    if (!field) throw new Error(`form field ${name} is not an editable field of this sample`);
    if (typeof raw !== "string") throw new Error(`form field ${name} must be text`);
    let target = edited as Record<string | number, unknown>;
    for (const key of field.path.slice(0, -1)) target = target[key] as Record<string | number, unknown>;
    target[field.path.at(-1) as string | number] = raw.replace(/\r\n?/g, "\n");
  }
  return edited as unknown as Sample;
}
