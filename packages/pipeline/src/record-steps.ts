/**
 * @module Record steps: normalization, script and code-switching, quality, repetition, token bounds and PII,
 * applied to one sample at a time. Each decision is returned with its step, reason code and details, so a
 * dropped or changed record is kept with why.
 */

import type {
  Bounds,
  ChatSample,
  DatasetKind,
  RecordStep,
  RlPromptSample,
  Sample,
  StepStats,
  TextSample,
} from "@sovereign/schemas";
import type { RejectedRecord } from "@sovereign/shards";
import {
  checkQuality,
  checkRepetition,
  containsCjk,
  normalizeThai,
  type PiiKind,
  redactPii,
  removeZeroWidth,
  type SegmentedText,
  scriptStats,
  segmentText,
  unifyWhitespace,
} from "@sovereign/thai";
import type { Qwen3Tokenizer } from "@sovereign/tokenizer";
import { selectedSlots, type TextSlot } from "./fields";

/** A step's name in stats and rejected records: its position and type, e.g. `3-quality`. */
export function stepName(index: number, type: string): string {
  return `${index + 1}-${type}`;
}

export type RecordContext = {
  kind: DatasetKind;
  /** Loaded when the pipeline has a tokens step. */
  tokenizer?: Qwen3Tokenizer;
};

export type TokenCounts = { total: number; byField: Record<string, number> };

export type RecordOutcome = {
  /** The sample as the steps left it; undefined when a step dropped it. */
  sample?: Sample;
  tokens?: TokenCounts;
  /** Changes (`modified`, with the sample before the change) and the drop, in step order. */
  audits: RejectedRecord[];
};

type Decision =
  | { kind: "keep" }
  | { kind: "flag"; flag: string; detail: unknown }
  | { kind: "modified"; reason: string; detail: unknown; before: Sample }
  | { kind: "drop"; reason: string; message: string; detail: unknown };

const KEEP: Decision = { kind: "keep" };

/** Counts of one step over the records it saw. */
export function emptyStats(index: number, step: RecordStep | { type: string }): StepStats {
  return {
    step: stepName(index, step.type),
    type: step.type,
    in: 0,
    out: 0,
    dropped: {},
    modified: 0,
    flagged: 0,
  };
}

export function mergeStats(into: StepStats[], add: readonly StepStats[]): StepStats[] {
  for (const s of add) {
    let target = into.find((t) => t.step === s.step);
    if (!target) {
      target = { ...s, in: 0, out: 0, modified: 0, flagged: 0, dropped: {} };
      into.push(target);
    }
    target.in += s.in;
    target.out += s.out;
    target.modified += s.modified;
    target.flagged += s.flagged;
    for (const [reason, n] of Object.entries(s.dropped))
      target.dropped[reason] = (target.dropped[reason] ?? 0) + n;
  }
  return into;
}

const clone = (sample: Sample): Sample => structuredClone(sample);

/**
 * Run the record steps over one sample, counting into `stats` (one entry per step, same order). The sample is
 * changed in place by modifying steps; the audit keeps each original.
 */
export function applyRecordSteps(
  steps: readonly RecordStep[],
  sample: Sample,
  location: string,
  context: RecordContext,
  stats: StepStats[],
): RecordOutcome {
  const audits: RejectedRecord[] = [];
  let tokens: TokenCounts | undefined;
  // Word segmentation is the costliest part of the quality and repetition checks: one per text and sample.
  const segmentations = new Map<string, SegmentedText>();
  const segmented = (text: string): SegmentedText => {
    let found = segmentations.get(text);
    if (!found) {
      found = segmentText(text);
      segmentations.set(text, found);
    }
    return found;
  };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i] as RecordStep;
    const counter = stats[i] as StepStats;
    counter.in++;
    const decision = decide(step, sample, context, (t) => (tokens = t), segmented);
    const base = { step: counter.step, location, source: sample.source };
    if (decision.kind === "drop") {
      counter.dropped[decision.reason] = (counter.dropped[decision.reason] ?? 0) + 1;
      audits.push({
        ...base,
        action: "dropped",
        reason: decision.reason,
        message: decision.message,
        detail: decision.detail,
        record: sample,
      });
      return { audits };
    }
    counter.out++;
    if (decision.kind === "modified") {
      counter.modified++;
      audits.push({
        ...base,
        action: "modified",
        reason: decision.reason,
        message: `kept with changes: ${describeChange(decision.reason, decision.detail)}; the record is the sample before them`,
        detail: decision.detail,
        record: decision.before,
      });
    } else if (decision.kind === "flag") {
      counter.flagged++;
      const meta = sample.meta as { flags?: unknown };
      const flags = Array.isArray(meta.flags) ? (meta.flags as string[]) : [];
      if (!flags.includes(decision.flag)) meta.flags = [...flags, decision.flag];
      (sample.meta as Record<string, unknown>).flagDetails = {
        ...((sample.meta as { flagDetails?: Record<string, unknown> }).flagDetails ?? {}),
        [decision.flag]: decision.detail,
      };
    }
  }
  if (tokens) {
    const meta = sample.meta as Record<string, unknown>;
    meta.stats = {
      ...((meta.stats as Record<string, unknown> | undefined) ?? {}),
      tokens: tokens.total,
      tokensByField: tokens.byField,
    };
  }
  return { sample, ...(tokens ? { tokens } : {}), audits };
}

function decide(
  step: RecordStep,
  sample: Sample,
  context: RecordContext,
  setTokens: (t: TokenCounts) => void,
  segmented: (text: string) => SegmentedText,
): Decision {
  switch (step.type) {
    case "generate-constrained":
    case "render-thai":
      throw new Error(`${step.type} runs over a whole unit before the record steps (see ./teacher-steps)`);
    case "normalize":
      return rewrite(context.kind, sample, step.fields, "normalized", (text) =>
        step.thai ? normalizeThai(text) : unifyWhitespace(removeZeroWidth(text.normalize("NFC"))),
      );
    case "pii": {
      const found: Record<string, number> = {};
      const redact = (text: string) => {
        const { text: out, matches } = redactPii(text, step.kinds as PiiKind[]);
        for (const m of matches) found[m.kind] = (found[m.kind] ?? 0) + 1;
        return out;
      };
      if (step.action === "drop") {
        for (const slot of selectedSlots(context.kind, sample, step.fields)) redact(slot.value);
        if (Object.keys(found).length === 0) return KEEP;
        return {
          kind: "drop",
          reason: "pii",
          message: `personal data found: ${describeCounts(found)}`,
          detail: { found },
        };
      }
      const decision = rewrite(context.kind, sample, step.fields, "pii-redacted", redact);
      return decision.kind === "modified"
        ? { ...decision, detail: { ...(decision.detail as object), found } }
        : decision;
    }
    case "script":
      return scriptDecision(step, sample, context.kind);
    case "quality":
      return ruleDecision(context.kind, sample, step.fields, "quality", step.minChars, (text) =>
        checkQuality(segmented(text), step.thresholds as never),
      );
    case "repetition":
      return ruleDecision(context.kind, sample, step.fields, "repetition", 0, (text) =>
        checkRepetition(segmented(text), step.thresholds as never),
      );
    case "tokens": {
      const tokenizer = context.tokenizer;
      if (!tokenizer) throw new Error("the tokens step needs the tokenizer loaded");
      const counts = countTokens(tokenizer, context.kind, sample);
      setTokens(counts);
      const checks: [string, number, Bounds | undefined][] = [["total", counts.total, step.total]];
      for (const [field, bounds] of Object.entries(step.perField))
        checks.push([field, counts.byField[field] ?? 0, bounds]);
      for (const [field, n, bounds] of checks) {
        if (!bounds) continue;
        if (bounds.min !== undefined && n < bounds.min)
          return {
            kind: "drop",
            reason: "too-few-tokens",
            message: `${field}: ${n} tokens, fewer than ${bounds.min}`,
            detail: { field, tokens: n, min: bounds.min },
          };
        if (bounds.max !== undefined && n > bounds.max)
          return {
            kind: "drop",
            reason: "too-many-tokens",
            message: `${field}: ${n} tokens, more than ${bounds.max}`,
            detail: { field, tokens: n, max: bounds.max },
          };
      }
      return KEEP;
    }
  }
}

/** `pii-redacted: 1 phone, 1 email in messages[1]`: what a modifying step changed, for people reading the audit. */
function describeChange(reason: string, detail: unknown): string {
  const { fields, found } = detail as { fields?: string[]; found?: Record<string, number> };
  const what = found ? `${reason} (${describeCounts(found)})` : reason;
  return fields?.length ? `${what} in ${fields.join(", ")}` : what;
}

function describeCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
}

/** Apply `change` to each selected text; a change anywhere is one `modified` decision listing the fields. */
function rewrite(
  kind: DatasetKind,
  sample: Sample,
  fields: RecordStep["fields" & keyof RecordStep] | readonly string[],
  reason: string,
  change: (text: string) => string,
): Decision {
  const slots = selectedSlots(kind, sample, fields as never);
  const updates: [TextSlot, string][] = [];
  for (const slot of slots) {
    const next = change(slot.value);
    if (next !== slot.value) updates.push([slot, next]);
  }
  if (updates.length === 0) return KEEP;
  const before = clone(sample);
  for (const [slot, next] of updates) slot.set(next);
  return { kind: "modified", reason, detail: { fields: updates.map(([slot]) => slot.path) }, before };
}

type RuleCheck = { pass: boolean; failures: { rule: string; value: number; limit: number }[] };

function ruleDecision(
  kind: DatasetKind,
  sample: Sample,
  fields: readonly string[],
  family: string,
  minChars: number,
  check: (text: string) => RuleCheck,
): Decision {
  for (const slot of selectedSlots(kind, sample, fields as never)) {
    if (slot.value.trim().length === 0 || slot.value.length < minChars) continue;
    const result = check(slot.value);
    if (result.pass) continue;
    const first = result.failures[0];
    const reason = `${family}:${first?.rule ?? "failed"}`;
    const failures = result.failures
      .map((f) => `${f.rule} ${round(f.value)} (limit ${round(f.limit)})`)
      .join(", ");
    return {
      kind: "drop",
      reason,
      message: `${slot.path}: ${failures}`,
      detail: { field: slot.path, failures: result.failures },
    };
  }
  return KEEP;
}

const round = (x: number) => Math.round(x * 1000) / 1000;

function scriptDecision(
  step: Extract<RecordStep, { type: "script" }>,
  sample: Sample,
  kind: DatasetKind,
): Decision {
  for (const slot of selectedSlots(kind, sample, step.fields)) {
    const stats = scriptStats(slot.value);
    if (stats.letters === 0) continue;
    const share = stats.share.thai;
    if (step.minThaiShare !== undefined && share < step.minThaiShare)
      return {
        kind: "drop",
        reason: "thai-share",
        message: `${slot.path}: Thai letters are ${round(share)} of its letters, under ${step.minThaiShare}`,
        detail: { field: slot.path, share, min: step.minThaiShare },
      };
    if (step.maxThaiShare !== undefined && share > step.maxThaiShare)
      return {
        kind: "drop",
        reason: "thai-share",
        message: `${slot.path}: Thai letters are ${round(share)} of its letters, over ${step.maxThaiShare}`,
        detail: { field: slot.path, share, max: step.maxThaiShare },
      };
  }
  if (step.codeSwitching === "off") return KEEP;
  // What the model writes: assistant turns, a corpus text, a reference answer. A user may well quote Chinese.
  for (const slot of selectedSlots(kind, sample, ["assistant", "text", "ground_truth"])) {
    if (!containsCjk(slot.value)) continue;
    const stats = scriptStats(slot.value);
    const detail = { field: slot.path, cjk: stats.cjk, letters: stats.letters };
    if (step.codeSwitching === "flag") return { kind: "flag", flag: "code-switching", detail };
    return {
      kind: "drop",
      reason: "code-switching",
      message: `${slot.path}: ${stats.cjk} CJK letter(s) in the text the model is to write`,
      detail,
    };
  }
  return KEEP;
}

/** Tokens of the sample as the model sees it: the chat-template rendering, per role and in all. */
export function countTokens(tokenizer: Qwen3Tokenizer, kind: DatasetKind, sample: Sample): TokenCounts {
  if (kind === "text") {
    const n = tokenizer.count((sample as TextSample).text);
    return { total: n, byField: { text: n } };
  }
  if (kind === "rl-prompt") {
    const s = sample as RlPromptSample;
    const prompt = tokenizer.count(tokenizer.renderChat(s.prompt, { addGenerationPrompt: true }));
    const groundTruth = tokenizer.count(s.reward_model.ground_truth);
    return { total: prompt, byField: { prompt, ground_truth: groundTruth } };
  }
  const s = sample as ChatSample;
  const counts = tokenizer.countChat(s.messages, s.tools);
  const byField: Record<string, number> = { ...counts.byRole, tools: counts.tools };
  byField.prompt = (counts.byRole.system ?? 0) + (counts.byRole.user ?? 0);
  return { total: counts.total, byField };
}
