/**
 * @module Rollout rewards: completions decoded from token ids and scored by the constraint registry's
 * verifiers, by legal-answer matching (verdict and cited sections), by normalized exact match or token F1
 * over Thai word segments, or by an LLM judge.
 */
export { answerTokens, bagF1, exactMatch, normalizeAnswer, tokenF1 } from "./answer";
export {
  CompletionDecoder,
  type CompletionTokenizer,
  type DecodedCompletion,
  specialTokenId,
  splitThinking,
} from "./completion";
export { parseRewardSpec, type RewardModel, type RewardSpec, RewardSpecError } from "./ground-truth";
export {
  JUDGE_SYSTEM_PROMPT_TH,
  type Judge,
  type JudgeOptions,
  type JudgeVerdict,
  judgeRequest,
  makeJudge,
  parseJudgeScore,
} from "./judge";
export {
  DEFAULT_LABEL_WEIGHT,
  findLegalPrediction,
  type LegalDetail,
  type LegalTruth,
  normalizeSection,
  scoreLegal,
} from "./legal";
export { type RewardDetail, type RolloutItem, type ScoreOptions, scoreRollouts } from "./score";
