/**
 * What a run's spec makes of its data and settings, before any engine: OPD reads one set of examples (a chat set's
 * prompts with their dataset responses) and gets the Typhoon-S release's defaults; InK-GRPO's corpus is dealt
 * `ceBatchSize` rows per update, its long documents split into `seqLen` pieces that together train all of it.
 */
import { decodeFrame, IGNORE_INDEX } from "@sovereign/batches";
import { engineHyper, TrainingRunSpec, type TrainingRunSpecInput } from "@sovereign/schemas";
import { LocalBlobStore } from "@sovereign/shards";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlane, rolesOf } from "../src/data-plane";
import { pinnedVersions } from "../src/versions";
import { createStack, type TestStack } from "./helpers";

const chat = (i: number) => ({
  id: `c${i}`,
  messages: [
    { role: "user", content: `ข้อ ${i}: เมืองหลวงของประเทศไทยคือเมืองอะไร` },
    { role: "assistant", content: `กรุงเทพมหานคร (${i})` },
  ],
});

const LONG = `มาตรา ๔๒๐ ${"ผู้ใดจงใจหรือประมาทเลินเล่อ ทำต่อบุคคลอื่นโดยผิดกฎหมาย ".repeat(12)}`;

const opd = (datasets: Record<string, string>, hyper: Record<string, unknown> = {}): TrainingRunSpecInput =>
  ({
    stage: "opd",
    model: { tiny: "tiny" },
    teacher: { tiny: "tiny-2" },
    datasets,
    hyper: { totalSteps: 1, seqLen: 256, rowsPerStep: 4, ...hyper },
  }) as TrainingRunSpecInput;

const problems = (spec: TrainingRunSpecInput) => {
  const parsed = TrainingRunSpec.safeParse(spec);
  return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("run specs", () => {
  const [a, b] = ["ab".repeat(32), "cd".repeat(32)];

  it("give OPD the Typhoon-S release's settings, and GRPO its own sampling defaults", () => {
    const spec = TrainingRunSpec.parse(opd({ train: a }));
    expect(engineHyper(spec.stage, spec.hyper)).toMatchObject({
      lambda: 0.25,
      divergence: "forward_kl",
      beta: 0,
      temperature: 1,
      topP: 0.95,
      maxTokens: 2048,
    });
    const grpo = TrainingRunSpec.parse({ ...opd({ prompts: a }), stage: "grpo", teacher: undefined });
    expect(engineHyper(grpo.stage, grpo.hyper)).toMatchObject({ topP: 1, maxTokens: 512 });
    // A spec's own values win, and the keys that shape the run never reach the engine.
    const own = TrainingRunSpec.parse(opd({ train: a }, { topP: 0.9, maxTokens: 64 }));
    const hyper = engineHyper(own.stage, own.hyper);
    expect(hyper).toMatchObject({ topP: 0.9, maxTokens: 64 });
    for (const key of ["totalSteps", "seqLen", "rowsPerStep", "ceBatchSize", "thinking"])
      expect(hyper).not.toHaveProperty(key);
  });

  it("let OPD read one set of examples, and dataset responses only from a chat train set", () => {
    expect(problems(opd({ train: a }))).toEqual([]);
    expect(problems(opd({ prompts: a }, { lambda: 1 }))).toEqual([]);
    expect(problems(opd({ train: a, prompts: b }))).toEqual([
      expect.stringMatching(/^datasets\.prompts: on-policy distillation reads its examples from one dataset/),
    ]);
    expect(problems(opd({ prompts: a }))).toEqual([
      "hyper.lambda: lambda 0.25 trains a share of the examples on dataset responses, which only a train dataset (chat) has; with prompts alone set lambda to 1",
    ]);
  });
});

describe("the data plane", () => {
  let stack: TestStack;
  let train: string;
  let prompts: string;
  let corpus: string;
  let data: DataPlane;

  beforeAll(async () => {
    stack = await createStack();
    train = await stack.version(
      "dp-chat",
      "chat",
      Array.from({ length: 6 }, (_, i) => chat(i)),
    );
    prompts = await stack.version("dp-prompts", "rl-prompt", [
      {
        id: "p1",
        prompt: [{ role: "user", content: "ตอบ 1" }],
        reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "1" }) },
      },
    ]);
    corpus = await stack.version("dp-corpus", "text", [
      { id: "long", text: LONG },
      { id: "short", text: "มาตรา ๑๙ บุคคลบรรลุนิติภาวะเมื่ออายุยี่สิบปีบริบูรณ์" },
    ]);
    data = new DataPlane({
      store: new LocalBlobStore(stack.trainer.config.blobDir),
      cacheDir: stack.trainer.config.cacheDir,
    });
  }, 120_000);

  afterAll(async () => {
    data?.close();
    await stack?.cleanup();
  });

  const prepare = async (id: string, input: TrainingRunSpecInput) => {
    const spec = TrainingRunSpec.parse(input);
    const versions = await pinnedVersions({ db: stack.trainer.database.db }, spec.datasets);
    await data.prepare(id, spec, versions);
    return { spec, versions };
  };

  it("deals OPD its examples as prompts with their dataset responses, and no packed rows", async () => {
    const { spec, versions } = await prepare("opd-run", opd({ train }));
    expect([...rolesOf(spec, versions).keys()]).toEqual(["prompts"]);
    const frame = decodeFrame(data.data("opd-run", "prompts").batchFrame(0, 0, 1));
    expect(frame.header.arrays.map((x) => x.name)).toEqual([
      "prompt_offsets",
      "prompt_tokens",
      "completion_offsets",
      "completion_tokens",
    ]);
    expect(frame.header.rows).toBe(4);
    const tokenizer = await loadQwen3Tokenizer();
    const { completion_offsets: ends, completion_tokens: tokens } = frame.arrays as Record<
      string,
      Int32Array
    >;
    for (let i = 0; i < 4; i++) {
      const response = tokenizer.decode(Array.from(tokens?.subarray(ends?.[i], ends?.[i + 1]) ?? []));
      expect(response).toMatch(/^กรุงเทพมหานคร \(\d\)<\|im_end\|>$/); // after the prompt's empty think block
    }
    expect(() => data.data("opd-run", "train")).toThrow(/train data of training run opd-run/);
  });

  it("deals InK-GRPO's corpus ceBatchSize rows per update, and trains all of a document longer than seqLen", async () => {
    const seqLen = 32;
    const ink = (hyper: Record<string, unknown>) =>
      ({
        stage: "ink-grpo",
        model: { tiny: "tiny" },
        datasets: { prompts, corpus },
        hyper: { totalSteps: 1, seqLen, rowsPerStep: 2, ...hyper },
      }) as TrainingRunSpecInput;
    await prepare("ink-run", ink({ ceBatchSize: 3 }));
    const rows = data.data("ink-run", "corpus");
    expect(rows.rowsPerStep).toBe(3);
    expect(data.data("ink-run", "prompts").rowsPerStep).toBe(2);
    expect(decodeFrame(rows.batchFrame(0, 0, 1)).header.rows).toBe(3);
    expect(decodeFrame(rows.batchFrame(0, 2, 3)).header.rows).toBe(1);
    expect(() => rows.batchFrame(0, 0, 2)).toThrow(
      /hyper\.ceBatchSize 3 does not split evenly over a world of 2/,
    );

    // Every next-token pair of the long document is a trained (input, label) pair of some row of an epoch.
    const tokenizer = await loadQwen3Tokenizer();
    const ids = [...tokenizer.encode(LONG), tokenizer.encode("<|endoftext|>")[0] as number];
    expect(ids.length).toBeGreaterThan(3 * seqLen);
    const trained = new Set<string>();
    const steps = Math.ceil(rows.rowsInEpoch(0) / 3);
    for (let step = 0; step < steps; step++) {
      const { input_ids, labels } = decodeFrame(rows.batchFrame(step, 0, 1)).arrays as Record<
        string,
        Int32Array
      >;
      labels?.forEach((label, i) => {
        if (label !== IGNORE_INDEX) trained.add(`${input_ids?.[i]}>${label}`);
      });
    }
    const missing = ids.slice(1).filter((id, t) => !trained.has(`${ids[t]}>${id}`));
    expect(missing).toEqual([]);

    // Without ceBatchSize, the corpus takes the prompts' rowsPerStep.
    await prepare("ink-default", ink({}));
    expect(data.data("ink-default", "corpus").rowsPerStep).toBe(2);
  });
});
