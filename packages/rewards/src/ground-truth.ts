/**
 * @module What a prompt's `reward_model` asks for, read once into a typed spec.
 *
 * - `style: "model"`: an LLM judge scores the answer; `ground_truth` (possibly empty) is its reference.
 * - `style: "rule"`, with `ground_truth` as JSON:
 *   - `{"constraints": [{id, params}, …]}` or a bare list of `{id, params}`: instruction constraints from the
 *     registry, every one parsed (unknown ids and bad parameters are refused here, not at scoring time);
 *   - `{"label": boolean, "articles": [string, …]}` (either member may be absent): a legal answer, as
 *     `thai-legal-rl-prompts` writes it;
 *   - `{"answer": string}`, `{"answers": [string, …]}`, a JSON string or number, or a list of strings:
 *     reference answers;
 *   - text that is not JSON: itself the one reference answer.
 */
import { type Constraint, parseConstraint } from "@sovereign/constraints";

export type RewardModel = { style: string; ground_truth: string };

export type RewardSpec =
  | { grader: "constraints"; constraints: Constraint[] }
  | { grader: "legal"; label?: boolean; articles?: string[] }
  | { grader: "answer"; references: string[] }
  | { grader: "judge"; reference: string };

export class RewardSpecError extends Error {
  readonly code = "BAD_REWARD_SPEC";
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === "string");

export function parseRewardSpec(rewardModel: RewardModel): RewardSpec {
  const { style, ground_truth: truth } = rewardModel;
  if (style === "model") return { grader: "judge", reference: truth };
  if (style !== "rule")
    throw new RewardSpecError(`reward style ${JSON.stringify(style)} is neither "rule" nor "model"`);
  let value: unknown;
  try {
    value = JSON.parse(truth);
  } catch {
    return { grader: "answer", references: [truth] };
  }
  if (typeof value === "string" || typeof value === "number")
    return { grader: "answer", references: [String(value)] };
  if (isStringList(value) && value.length > 0) return { grader: "answer", references: value };
  if (Array.isArray(value)) return constraintsSpec(value);
  if (isObject(value)) {
    if (Array.isArray(value.constraints)) return constraintsSpec(value.constraints);
    if ("label" in value || "articles" in value) return legalSpec(value);
    if (typeof value.answer === "string") return { grader: "answer", references: [value.answer] };
    if (isStringList(value.answers) && value.answers.length > 0)
      return { grader: "answer", references: value.answers };
  }
  throw new RewardSpecError(`rule ground truth ${truth.slice(0, 200)} has no shape a grader reads`);
}

function constraintsSpec(list: unknown[]): RewardSpec {
  if (list.length === 0) throw new RewardSpecError("ground truth lists no constraints");
  const constraints = list.map((item, i) => {
    if (!isObject(item) || typeof item.id !== "string")
      throw new RewardSpecError(`constraint ${i}: expected {id, params}, got ${JSON.stringify(item)}`);
    const parsed = parseConstraint({ id: item.id, params: isObject(item.params) ? item.params : {} });
    if (!parsed.ok) throw new RewardSpecError(`constraint ${i}: ${parsed.error}`);
    return parsed.constraint;
  });
  return { grader: "constraints", constraints };
}

function legalSpec(value: Record<string, unknown>): RewardSpec {
  const { label, articles } = value;
  if (label !== undefined && typeof label !== "boolean")
    throw new RewardSpecError(
      `legal ground truth: label must be true or false, got ${JSON.stringify(label)}`,
    );
  if (articles !== undefined && !isStringList(articles))
    throw new RewardSpecError(
      `legal ground truth: articles must be a list of strings, got ${JSON.stringify(articles)}`,
    );
  if (label === undefined && articles === undefined)
    throw new RewardSpecError("legal ground truth has neither label nor articles");
  return {
    grader: "legal",
    ...(label === undefined ? {} : { label }),
    ...(articles === undefined ? {} : { articles }),
  };
}
