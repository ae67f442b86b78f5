/**
 * @module The `render-thai` step: the user turns of a conversation translated into Thai by the teacher, for sets
 * (tool use above all) whose requests exist in English only. A tool call is only right if its arguments match
 * what the user asked for, so every function name and argument value that the original turn spells out must
 * come through the translation character for character; a rendering that loses one, is cut off or is not Thai
 * is not used, and why is recorded.
 */
import type { ChatSample, RenderThaiStep, StepStats } from "@sovereign/schemas";
import { type CompletionChoice, isTruncated } from "@sovereign/teacher";
import { scriptStats } from "@sovereign/thai";
import { countOutcomes, type GeneratedOutcome, mapConcurrently, type SeedRecord } from "./generate";
import { type Ask, droppingTeacherError, TeacherPool, type TeacherTargets } from "./teacher";

/**
 * The translator's system turn. In English, as translation prompts to instruction-tuned models usually are; the
 * values to keep are listed after it, one per line, for each turn.
 */
export const RENDER_THAI_PROMPT =
  "Translate the user's message into natural, fluent Thai, as a Thai speaker would write the same request. " +
  "Do not answer it and do not add anything. Reply with the Thai translation only.";

const VERBATIM_NOTE =
  "Copy each of the following exactly as written, character for character, wherever it appears (do not translate, transliterate or reformat it):";

export type RenderOptions = {
  targets: TeacherTargets;
  cacheDir: string;
  tokensSpent?: number;
  stats: StepStats;
};

/** Why a rendering was not used. */
type RenderFailure = {
  reason: "truncated" | "lost-verbatim" | "not-thai";
  message: string;
  detail?: unknown;
};

export async function renderThai(
  step: RenderThaiStep,
  seeds: readonly SeedRecord[],
  options: RenderOptions,
): Promise<{ outcomes: GeneratedOutcome[]; tokens: number }> {
  const pool = new TeacherPool(step.teacher, options.targets, options);
  const ask = pool.ask("teacher");
  const outcomes = await mapConcurrently(seeds, step.teacher.concurrency, (seed) =>
    renderOne(step, seed, ask, pool.model("teacher"), options.stats.step),
  );
  countOutcomes(outcomes, options.stats);
  return { outcomes, tokens: pool.tokens };
}

/**
 * Strings a faithful translation of `text` must keep: the conversation's function names and the leaves of its
 * tool calls' arguments (strings, and numbers and booleans as JSON writes them) that occur in `text` as they are.
 * Longest first, so a value inside another is checked after the one that holds it.
 */
export function verbatimValues(sample: ChatSample, text: string): string[] {
  const values = new Set<string>();
  const add = (value: string) => {
    if (value.trim() !== "" && text.includes(value)) values.add(value);
  };
  for (const tool of sample.tools ?? []) add(tool.function.name);
  const leaves = (value: unknown): void => {
    if (typeof value === "string") add(value);
    else if (typeof value === "number" || typeof value === "boolean") add(String(value));
    else if (Array.isArray(value)) value.forEach(leaves);
    else if (value && typeof value === "object") Object.values(value).forEach(leaves);
  };
  for (const message of sample.messages) {
    if (message.role !== "assistant" || !message.tool_calls) continue;
    for (const call of message.tool_calls) {
      add(call.function.name);
      try {
        leaves(JSON.parse(call.function.arguments));
      } catch {
        // Arguments were validated on import; a sample built by hand with bad JSON has no values to keep.
      }
    }
  }
  return [...values].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
}

async function renderOne(
  step: RenderThaiStep,
  seed: SeedRecord,
  ask: Ask,
  model: string,
  stepName: string,
): Promise<GeneratedOutcome> {
  const original = seed.sample;
  const audit = (action: "dropped" | "modified", reason: string, message: string, detail?: unknown) => ({
    step: stepName,
    location: seed.location,
    source: original.source,
    action,
    reason,
    message,
    ...(detail === undefined ? {} : { detail }),
    record: original,
  });
  const failed = (failure: RenderFailure): GeneratedOutcome => {
    if (step.onFailure === "drop")
      return { audit: audit("dropped", failure.reason, failure.message, failure.detail) };
    return {
      sample: {
        ...original,
        meta: {
          ...original.meta,
          thaiRendering: { model, used: false, reason: failure.reason, message: failure.message },
        },
      },
    };
  };

  const messages = original.messages.slice();
  const kept: string[][] = [];
  for (const [i, message] of original.messages.entries()) {
    if (message.role !== "user" || message.content.trim() === "") continue;
    const verbatim = verbatimValues(original, message.content);
    let reply: CompletionChoice | undefined;
    try {
      const result = await ask({
        messages: [
          {
            role: "system",
            content: verbatim.length
              ? `${RENDER_THAI_PROMPT}\n${VERBATIM_NOTE}\n${verbatim.map((v) => `- ${v}`).join("\n")}`
              : RENDER_THAI_PROMPT,
          },
          { role: "user", content: message.content },
        ],
        n: 1,
        temperature: step.teacher.temperature,
        max_tokens: step.teacher.max_tokens,
      });
      reply = result.choices[0];
    } catch (error) {
      return { audit: audit("dropped", "teacher-error", droppingTeacherError(error)) };
    }
    const text = reply?.text.trim() ?? "";
    if (!reply || isTruncated(reply))
      return failed({ reason: "truncated", message: `turn ${i}: the rendering was cut off at max_tokens` });
    const lost = verbatim.filter((value) => !text.includes(value));
    if (lost.length)
      return failed({
        reason: "lost-verbatim",
        message: `turn ${i}: the rendering lost ${lost.map((v) => JSON.stringify(v)).join(", ")}`,
        detail: { turn: i, lost, rendering: text },
      });
    // The kept values are often Latin (names, codes), so they do not count against the Thai share.
    const rest = verbatim.reduce((t, value) => t.split(value).join(" "), text);
    const thai = scriptStats(rest).share.thai;
    if (!(thai >= step.minThaiRatio))
      return failed({
        reason: "not-thai",
        message: `turn ${i}: ${(thai * 100).toFixed(0)}% of the rendering's letters are Thai, need ${(step.minThaiRatio * 100).toFixed(0)}%`,
        detail: { turn: i, rendering: text },
      });
    messages[i] = { role: "user", content: text };
    kept.push(verbatim);
  }
  if (!kept.length) return { sample: original };
  const sample: ChatSample = {
    ...original,
    messages,
    meta: {
      ...original.meta,
      thaiRendering: { model, used: true, turns: kept.length, verbatim: kept.flat() },
    },
  };
  return {
    sample,
    audit: audit("modified", "rendered-thai", `${kept.length} user turn(s) rendered in Thai by ${model}`),
  };
}
