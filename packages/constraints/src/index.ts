/**
 * @module Typed, verifiable instruction constraints for AutoIF-style instruction-following data and for
 * scoring RL rollouts: IFEval's 25 types plus Thai-specific ones, each with a parameter schema, a pure
 * verifier, Thai and English phrasings, language applicability and conflicts.
 */
export {
  BUILT_IN_PARAMS,
  type ComposedPrompt,
  type ComposeOptions,
  composePrompt,
  hash32,
  mulberry32,
  type ParamContext,
  type ParamGenerator,
  type PromptLanguage,
  type Rng,
  type SeedQuery,
  SYSTEM_TEMPLATES,
  THAI_ANSWER_INSTRUCTION,
  USER_TEMPLATES,
} from "./compose";
export { IFEVAL_TYPES, LANGUAGE_NAMES } from "./ifeval";
export {
  type DiscardedProposal,
  type DiscardReason,
  eligibleTypes,
  type ProposalContext,
  type ProposalResult,
  parseProposals,
  proposalMessages,
} from "./propose";
export {
  type ConstraintVerdict,
  compatible,
  getConstraint,
  type ParseResult,
  parseConstraint,
  registry,
  verifyAll,
} from "./registry";
export { countSentences, countWords, detectLanguage, splitSentences } from "./text";
export { POLITE_PARTICLES, THAI_TYPES } from "./thai";
export {
  type Constraint,
  type ConstraintType,
  compare,
  defineConstraint,
  type Languages,
  RELATIONS,
  type Relation,
  type Verdict,
} from "./types";
