/**
 * @module Scoring a batch of rollouts: each completion decoded (completion.ts), its prompt's reward model
 * read (ground-truth.ts), and the matching grader run:
 *
 * - constraints: 1 when every constraint passes (`verifyAll`), else 0; with `constraintCredit: "fraction"`,
 *   the share that pass;
 * - legal: label match and section F1 (legal.ts);
 * - answer: token F1 over Thai word segments against the best reference, or with `answerMetric: "exact"`
 *   1 for a normalized exact match and 0 otherwise (answer.ts);
 * - judge: score / 10 from the LLM judge (judge.ts); a reply without a score gives 0.
 *
 * An empty answer (nothing generated, or only a think block) scores 0 whatever the grader: some constraints
 * (no commas, forbidden words) would otherwise pay for saying nothing. A completion cut off by the length
 * limit is scored as it stands (its detail says `stopped: false`). A reward model no grader reads, or a
 * judge-style prompt with no judge configured, throws: a run should stop rather than train on zeros.
 */
import { verifyAll } from "@sovereign/constraints";
import { exactMatch, tokenF1 } from "./answer";
import { CompletionDecoder, type CompletionTokenizer } from "./completion";
import { parseRewardSpec, type RewardModel, type RewardSpec } from "./ground-truth";
import type { Judge } from "./judge";
import { DEFAULT_LABEL_WEIGHT, type LegalDetail, scoreLegal } from "./legal";

export type RolloutItem = {
  rewardModel: RewardModel;
  completionIds: ArrayLike<number>;
  /** The prompt's turns; the judge needs them. */
  prompt?: readonly { role: string; content: string | null }[];
};

export type ScoreOptions = {
  tokenizer: CompletionTokenizer;
  judge?: Judge;
  constraintCredit?: "all" | "fraction";
  answerMetric?: "f1" | "exact";
  /** Legal prompts: the label's share of the reward, the sections' F1 having the rest. */
  labelWeight?: number;
};

export type RewardDetail = {
  reward: number;
  grader: RewardSpec["grader"];
  stopped: boolean;
  /** Characters of the answer scored (after any think block). */
  answerChars: number;
  /** Ids past the tokenizer's vocabulary (the model's padding rows), left out of the answer. */
  unknownIds?: number;
  empty?: true;
  constraints?: { passed: number; total: number; verdicts: { id: string; pass: boolean; detail: string }[] };
  legal?: LegalDetail;
  answer?: { f1: number; exact: boolean };
  judge?: { score: number | null; reply?: string };
};

export async function scoreRollouts(
  items: readonly RolloutItem[],
  options: ScoreOptions,
): Promise<{ rewards: Float32Array; details: RewardDetail[] }> {
  const decoder = new CompletionDecoder(options.tokenizer);
  const specs = items.map((item) => parseRewardSpec(item.rewardModel));
  if (!options.judge && specs.some((s) => s.grader === "judge"))
    throw new Error('rollouts include prompts with reward style "model", and no judge is configured');
  const details = await Promise.all(
    items.map((item, i) =>
      scoreOne(item, specs[i] as RewardSpec, decoder.decode(item.completionIds), options),
    ),
  );
  return { rewards: Float32Array.from(details, (d) => d.reward), details };
}

async function scoreOne(
  item: RolloutItem,
  spec: RewardSpec,
  completion: { answer: string; stopped: boolean; unknownIds?: number },
  options: ScoreOptions,
): Promise<RewardDetail> {
  const { answer, stopped, unknownIds } = completion;
  const base = {
    grader: spec.grader,
    stopped,
    answerChars: answer.length,
    ...(unknownIds ? { unknownIds } : {}),
  };
  if (answer.length === 0) return { reward: 0, ...base, empty: true };
  switch (spec.grader) {
    case "constraints": {
      const { pass, results } = verifyAll(answer, spec.constraints);
      const passed = results.filter((r) => r.pass).length;
      const reward = options.constraintCredit === "fraction" ? passed / results.length : pass ? 1 : 0;
      return { reward, ...base, constraints: { passed, total: results.length, verdicts: results } };
    }
    case "legal": {
      const { reward, detail } = scoreLegal(answer, spec, options.labelWeight ?? DEFAULT_LABEL_WEIGHT);
      return { reward, ...base, legal: detail };
    }
    case "answer": {
      const f1 = Math.max(...spec.references.map((r) => tokenF1(answer, r)));
      const exact = spec.references.some((r) => exactMatch(answer, r));
      return {
        reward: options.answerMetric === "exact" ? (exact ? 1 : 0) : f1,
        ...base,
        answer: { f1, exact },
      };
    }
    case "judge": {
      const verdict = await (options.judge as Judge)(item.prompt ?? [], answer, spec.reference);
      return {
        reward: verdict.score === null ? 0 : verdict.score / 10,
        ...base,
        judge:
          verdict.score === null
            ? { score: null, reply: verdict.reply.slice(0, 200) }
            : { score: verdict.score },
      };
    }
  }
}
