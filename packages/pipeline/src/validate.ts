/**
 * @module Checks of a spec that its zod schema cannot make alone: the filter thresholds it overrides must
 * exist and have the right type, and n-gram sizes stay small. Run when a run is queued, so a typo fails the
 * request, not a worker later, and again when a worker takes the run.
 */
import type { PipelineSpec } from "@sovereign/schemas";
import { REPETITION_DEFAULTS, THAI_QUALITY_DEFAULTS, withThresholds } from "@sovereign/thai";

/**
 * The largest n-gram a repetition threshold may name: the filter measures every size up to the largest named,
 * one pass over the text each, so a size near the text's length would cost its length squared (Gopher's rules
 * stop at 10).
 */
export const MAX_NGRAM_SIZE = 64;

/** Problems with the spec, each with the path of the field (`steps.4.thresholds`); empty when it is sound. */
export function specProblems(spec: PipelineSpec): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  spec.steps.forEach((step, i) => {
    if (step.type !== "quality" && step.type !== "repetition") return;
    try {
      if (step.type === "quality") withThresholds(THAI_QUALITY_DEFAULTS, step.thresholds, "quality");
      else withThresholds(REPETITION_DEFAULTS, step.thresholds, "repetition");
    } catch (error) {
      problems.push({ path: `steps.${i}.thresholds`, message: (error as Error).message });
      return;
    }
    if (step.type !== "repetition") return;
    for (const name of ["maxTopNgramCharFraction", "maxDuplicateNgramCharFraction"]) {
      const sizes = Object.keys((step.thresholds[name] as object | undefined) ?? {}).map(Number);
      const over = sizes.filter((size) => size > MAX_NGRAM_SIZE);
      if (over.length)
        problems.push({
          path: `steps.${i}.thresholds.${name}`,
          message: `n-gram sizes go up to ${MAX_NGRAM_SIZE}, not ${over.join(", ")}`,
        });
    }
  });
  return problems;
}
