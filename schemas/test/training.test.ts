/** The run spec's GRPO settings: defaults, the refused values and the check that mini-batches split a step. */
import { describe, expect, it } from "vitest";
import { TrainingRunSpec } from "../src/training";

const hash = "ab".repeat(32);
const grpoSpec = (hyper: Record<string, unknown>) => ({
  stage: "grpo",
  model: { tiny: "tiny" },
  datasets: { prompts: hash },
  hyper: { totalSteps: 2, rowsPerStep: 32, groupSize: 8, ...hyper },
});

function issues(spec: unknown): string[] {
  const parsed = TrainingRunSpec.safeParse(spec);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("GRPO settings", () => {
  it("default to one update per pass, no dual clip and the population std", () => {
    const { hyper } = TrainingRunSpec.parse(grpoSpec({}));
    expect([hyper.miniBatchSize, hyper.dualClip, hyper.advantageStd]).toEqual([0, 0, "population"]);
  });

  it("take mini-batches that split the step's rollouts, as 32 prompts x 8 samples into 4 of 64", () => {
    const { hyper } = TrainingRunSpec.parse(
      grpoSpec({ miniBatchSize: 64, dualClip: 3, advantageStd: "sample", ppoEpochs: 2 }),
    );
    expect([hyper.miniBatchSize, hyper.dualClip, hyper.advantageStd]).toEqual([64, 3, "sample"]);
    expect(issues(grpoSpec({ miniBatchSize: 256 }))).toEqual([]);
  });

  it("refuse a mini-batch that does not split the step, naming the field and the counts", () => {
    expect(issues(grpoSpec({ miniBatchSize: 48 }))).toEqual([
      "hyper.miniBatchSize: a step's 256 rollouts (rowsPerStep 32 × groupSize 8) do not split into mini-batches of 48",
    ]);
    expect(issues(grpoSpec({ miniBatchSize: -1 }))[0]).toMatch(/^hyper\.miniBatchSize: /);
  });

  it("refuse a dual clip of 1 or less, and an unknown std", () => {
    for (const dualClip of [1, 0.5, -2])
      expect(issues(grpoSpec({ dualClip }))).toEqual(["hyper.dualClip: dualClip is 0 (off) or above 1"]);
    expect(issues(grpoSpec({ advantageStd: "batch" }))[0]).toMatch(/^hyper\.advantageStd: /);
  });
});
