/** @module Declarative curation pipelines: record steps, deduplication and the runner that writes versions. */
export * from "./fields";
export {
  countOutcomes,
  type GeneratedOutcome,
  generateConstrained,
  JUDGE_PROMPT_TH,
  parseJudgeScore,
  type SeedRecord,
} from "./generate";
export * from "./record-steps";
export { RENDER_THAI_PROMPT, renderThai, verbatimValues } from "./render-thai";
export * from "./runner";
export {
  type Ask,
  droppingTeacherError,
  resolveTeacherEndpoints,
  TeacherPool,
  type TeacherRole,
  type TeacherTargets,
  teacherTargets,
} from "./teacher";
export * from "./unit";
export * from "./validate";
