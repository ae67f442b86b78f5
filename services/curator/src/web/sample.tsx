/**
 * @module How the review page shows what is reviewed: chat turns (system prompts, user and assistant turns,
 * tool calls with their arguments, tool results), the tools offered, corpus text, RL prompts with their
 * reference, a generated sample's constraints and verdicts, and a dropped record with the filter's reason.
 */
import type { Sample } from "@sovereign/schemas";
import type { ReviewItem } from "../review";
import type { DiffPart } from "./diff";

/** JSON text pretty-printed when it parses, as it is when it does not. */
function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

type Message = {
  role: string;
  content: string | null;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
  name?: string;
};
type Tool = { function: { name: string; description?: string; parameters?: unknown } };

function Turn(props: { message: Message; index: number }) {
  const m = props.message;
  return (
    <div class={`card turn ${m.role}`} data-turn={String(props.index)}>
      <div class="role">
        {props.index + 1} · {m.role}
        {m.role === "tool" && (m.name || m.tool_call_id) ? (
          <span class="muted"> — {[m.name, m.tool_call_id].filter(Boolean).join(" · ")}</span>
        ) : null}
      </div>
      {m.content !== null && m.content !== "" ? (
        m.role === "tool" ? (
          <pre>{pretty(m.content)}</pre>
        ) : (
          <div class="content" lang="th">
            {m.content}
          </div>
        )
      ) : null}
      {m.tool_calls?.map((call) => (
        <div class="call">
          <span class="small muted">calls</span> <code>{call.function.name}</code>{" "}
          <span class="small muted">({call.id})</span>
          <pre>{pretty(call.function.arguments)}</pre>
        </div>
      ))}
    </div>
  );
}

function Tools(props: { tools: Tool[] }) {
  return (
    <details class="card" open>
      <summary>
        <strong>Tools offered</strong> <span class="muted small">({props.tools.length})</span>
      </summary>
      {props.tools.map((t) => (
        <div class="call">
          <code>{t.function.name}</code>
          {t.function.description ? <span lang="th"> — {t.function.description}</span> : null}
          {t.function.parameters ? <pre>{json(t.function.parameters)}</pre> : null}
        </div>
      ))}
    </details>
  );
}

type Autoif = {
  constraints?: { id?: string; params?: unknown }[];
  placement?: string;
  instructionLanguage?: string;
  responseLanguage?: string;
  verification?: { id?: string; pass?: boolean; detail?: string }[];
  teacherModel?: string;
  candidates?: number;
  passed?: number;
};

/** A generated sample's constraints: each with its parameters and whether the answer passed its verifier. */
function Constraints(props: { autoif: Autoif }) {
  const a = props.autoif;
  const verdicts = new Map((a.verification ?? []).map((v) => [v.id, v]));
  return (
    <div class="card">
      <strong>Constraints</strong>{" "}
      <span class="small muted">
        {[
          a.placement && `in the ${a.placement} turn`,
          a.instructionLanguage && `instructions ${a.instructionLanguage}`,
          a.responseLanguage && `answer ${a.responseLanguage}`,
          a.teacherModel && `by ${a.teacherModel}`,
          a.candidates !== undefined && `${a.passed ?? "?"}/${a.candidates} candidates passed`,
        ]
          .filter(Boolean)
          .join(" · ")}
      </span>
      <ul>
        {(a.constraints ?? []).map((c) => {
          const { id, params } = c;
          const v = verdicts.get(id);
          return (
            <li data-constraint={id}>
              <code>{id}</code>{" "}
              {v ? (
                <span class={`tag ${v.pass ? "pass" : "fail"}`} title={v.detail}>
                  {v.pass ? "passed" : "failed"}
                </span>
              ) : null}
              {params && Object.keys(params).length ? (
                <span class="small muted"> {JSON.stringify(params)}</span>
              ) : null}
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/** A sample of any kind, readably; its meta (constraints first) after it. */
export function SampleView(props: { sample: Sample }) {
  const s = props.sample as Sample & {
    messages?: Message[];
    tools?: Tool[] | null;
    text?: string;
    prompt?: Message[];
    reward_model?: { style: string; ground_truth: string };
  };
  const { autoif, ...meta } = (s.meta ?? {}) as { autoif?: Autoif } & Record<string, unknown>;
  return (
    <div>
      {s.tools?.length ? <Tools tools={s.tools} /> : null}
      {s.messages?.map((m, i) => (
        <Turn message={m} index={i} />
      ))}
      {s.text !== undefined ? (
        <div class="card">
          <div class="content" lang="th">
            {s.text}
          </div>
        </div>
      ) : null}
      {s.prompt?.map((m, i) => (
        <Turn message={m} index={i} />
      ))}
      {s.reward_model ? (
        <div class="card">
          <span class="role">reference ({s.reward_model.style})</span>
          <pre lang="th">{pretty(s.reward_model.ground_truth)}</pre>
        </div>
      ) : null}
      {autoif ? <Constraints autoif={autoif} /> : null}
      {Object.keys(meta).length ? (
        <details class="card">
          <summary class="small">meta</summary>
          <pre>{json(meta)}</pre>
        </details>
      ) : null}
    </div>
  );
}

/** A record a filter dropped: the step and reason, what the filter said, and the record itself. */
export function RejectedView(props: {
  rejected: NonNullable<ReviewItem["rejected"]>;
  kept?: Sample | undefined;
}) {
  const r = props.rejected;
  const record = r.record as Sample | undefined;
  const looksLikeSample =
    record && typeof record === "object" && ("messages" in record || "text" in record || "prompt" in record);
  return (
    <div>
      <div class="notice">
        <dl class="kv">
          <dt>filter</dt>
          <dd>
            <code>{r.step}</code> dropped it: <strong data-reason={r.reason}>{r.reason}</strong>
          </dd>
          <dt>why</dt>
          <dd lang="th">{r.message}</dd>
          <dt>from</dt>
          <dd>
            {r.source} <span class="muted small">{r.location}</span>
          </dd>
        </dl>
        {r.detail ? (
          <details>
            <summary class="small">detail</summary>
            <pre>{json(r.detail)}</pre>
          </details>
        ) : null}
      </div>
      <h2>The dropped record</h2>
      {looksLikeSample ? <SampleView sample={record as Sample} /> : <pre>{json(r.record)}</pre>}
      {props.kept ? (
        <>
          <h2>The sample kept in its place</h2>
          <SampleView sample={props.kept} />
        </>
      ) : null}
    </div>
  );
}

/** A diff as text with its removals struck and its additions marked. */
export function DiffView(props: { parts: DiffPart[] }) {
  return (
    <div class="diff" lang="th">
      {props.parts.map((p) =>
        p.op === "same" ? p.text : p.op === "del" ? <del>{p.text}</del> : <ins>{p.text}</ins>,
      )}
    </div>
  );
}
