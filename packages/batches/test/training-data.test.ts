/**
 * The data plane end to end over real Parquet versions built with the shard builder and the real tokenizer:
 * packing invariants, coverage of every trained token per epoch, determinism and resumption, rank sharding,
 * prompt batches, and the tokenized-document cache.
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Sample } from "@sovereign/schemas";
import type { LocalBlobStore } from "@sovereign/shards";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type DecodedFrame,
  Documentizer,
  decodeFrame,
  IGNORE_INDEX,
  openTrainingData,
  type TrainingData,
  type TrainingDataOptions,
  type VersionInput,
} from "../src/index";
import {
  buildVersion,
  chatSamples,
  countingTokenizer,
  promptSamples,
  tempDirs,
  textSamples,
} from "./helpers";

const temp = tempDirs();
afterAll(() => temp.cleanup());

let dir: string;
let store: LocalBlobStore;
let chat: VersionInput;
let corpus: VersionInput;
let prompts: VersionInput;
let counting: Awaited<ReturnType<typeof countingTokenizer>>;
const chatData = { train: chatSamples(40), test: chatSamples(5, "held-out") };
const textData = { krisdika_codes: textSamples(30) };
const promptData = { train: promptSamples(6) };

beforeAll(async () => {
  dir = await temp.make();
  counting = await countingTokenizer();
  // Shards of 16 rows, so versions span several shards; all versions share one store.
  ({ store, version: chat } = await buildVersion(dir, "chat", chatData, { maxRows: 16 }));
  ({ version: corpus } = await buildVersion(dir, "text", textData));
  ({ version: prompts } = await buildVersion(dir, "rl-prompt", promptData));
});

const opened: TrainingData[] = [];
afterEach(() => {
  for (const data of opened.splice(0)) data.close();
});

async function open(overrides: Partial<TrainingDataOptions> = {}): Promise<TrainingData> {
  const data = await openTrainingData({
    store,
    versions: [chat],
    role: "train",
    tokenizer: counting.tokenizer,
    run: "run-1",
    seqLen: 96,
    seed: 1,
    rowsPerStep: 4,
    cacheDir: join(dir, "cache"),
    ...overrides,
  });
  opened.push(data);
  return data;
}

const rowsOf = (frame: DecodedFrame, name: string, seqLen: number): Int32Array[] => {
  const data = frame.arrays[name] as Int32Array;
  return Array.from({ length: data.length / seqLen }, (_, r) => data.subarray(r * seqLen, (r + 1) * seqLen));
};

/** Trained (input token, target) pairs of a batch: what the loss sees. */
function trainedPairs(frame: DecodedFrame): string[] {
  const { input_ids, labels } = frame.arrays as Record<string, Int32Array>;
  const out: string[] = [];
  labels?.forEach((label, i) => {
    if (label !== IGNORE_INDEX) out.push(`${input_ids?.[i]}>${label}`);
  });
  return out;
}

describe("packed rows", () => {
  it("are exactly seqLen long, restart positions per document and never label across documents", async () => {
    const data = await open();
    for (let step = 0; step < 6; step++) {
      const frame = decodeFrame(data.batchFrame(step, 0, 1));
      expect(frame.header).toMatchObject({
        version: 1,
        run: "run-1",
        step,
        rank: 0,
        world: 1,
        role: "train",
      });
      expect(frame.header).toMatchObject({ rows: 4, seqLen: 96 });
      for (const a of frame.header.arrays) expect(a.shape).toEqual([4, 96]);
      const ids = rowsOf(frame, "input_ids", 96);
      const labels = rowsOf(frame, "labels", 96);
      const positions = rowsOf(frame, "position_ids", 96);
      for (let r = 0; r < 4; r++) {
        const id = ids[r] as Int32Array;
        const label = labels[r] as Int32Array;
        const pos = positions[r] as Int32Array;
        expect(pos[0]).toBe(0);
        expect(label[95]).toBe(IGNORE_INDEX);
        for (let t = 0; t < 95; t++) {
          const next = pos[t + 1] as number;
          expect(next === 0 || next === (pos[t] as number) + 1).toBe(true);
          if (label[t] !== IGNORE_INDEX) {
            expect(next).toBe((pos[t] as number) + 1);
            expect(label[t]).toBe(id[t + 1]);
          }
        }
      }
    }
  });

  it("cover every trained token exactly once per epoch", async () => {
    const data = await open({ rowsPerStep: 1 });
    const seen: string[] = [];
    for (let step = 0; step < data.rowsInEpoch(0); step++)
      seen.push(...trainedPairs(decodeFrame(data.batchFrame(step, 0, 1))));

    const documentizer = new Documentizer(counting.real, {
      role: "train",
      seqLen: 96,
      overlong: "truncate",
      thinking: true,
    });
    const expected: string[] = [];
    for (const sample of chatData.train as Sample[]) {
      for (const { ids, mask } of documentizer.documents("chat", sample).documents)
        for (let i = 1; i < ids.length; i++) if (mask?.[i]) expected.push(`${ids[i - 1]}>${ids[i]}`);
    }
    expect(seen.length).toBe(data.stats.trainedTokens);
    expect(seen.sort()).toEqual(expected.sort());
    expect(data.stats).toMatchObject({ samples: 40, documents: 40, dropped: { overlong: 0, untrained: 0 } });
    expect(data.stats.truncated).toBeGreaterThan(0); // the long multi-turn samples exceed 96 tokens
    expect(data.stats.rowsPerEpoch).toBe(data.rowsInEpoch(0));
  });

  it("mix versions of chat and text in one order", async () => {
    const data = await open({ versions: [corpus, chat], role: "corpus", rowsPerStep: 2 });
    expect(data.stats).toMatchObject({ samples: 70, documents: 70 });
    const other = await open({ versions: [chat, corpus], role: "corpus", rowsPerStep: 2 });
    expect(Buffer.from(other.batchFrame(3, 0, 1)).equals(Buffer.from(data.batchFrame(3, 0, 1)))).toBe(true);
  });
});

describe("order", () => {
  it("gives the same bytes on every call and after reopening", async () => {
    const a = await open();
    const first = a.batchFrame(2, 0, 1);
    expect(Buffer.from(a.batchFrame(2, 0, 1)).equals(Buffer.from(first))).toBe(true);
    const b = await open();
    expect(Buffer.from(b.batchFrame(2, 0, 1)).equals(Buffer.from(first))).toBe(true);
  });

  it("depends on the seed", async () => {
    const a = await open({ seed: 1 });
    const b = await open({ seed: 2 });
    expect(Buffer.from(a.batchFrame(0, 0, 1)).equals(Buffer.from(b.batchFrame(0, 0, 1)))).toBe(false);
  });

  it("resumed at step k equals continuing, across epochs", async () => {
    const continuing = await open();
    const stepsPerEpoch = Math.ceil(continuing.rowsInEpoch(0) / 4);
    const frames: Uint8Array[] = [];
    for (let step = 0; step <= 3 * stepsPerEpoch; step++) frames.push(continuing.batchFrame(step, 0, 1));
    for (const k of [1, stepsPerEpoch, 2 * stepsPerEpoch + 1, 3 * stepsPerEpoch]) {
      const resumed = await open();
      expect(Buffer.from(resumed.batchFrame(k, 0, 1)).equals(Buffer.from(frames[k] as Uint8Array))).toBe(
        true,
      );
      resumed.close();
      opened.pop();
    }
    // Epoch 1 is a different shuffle of the same documents: same trained tokens, other rows.
    const rows0 = continuing.rowsInEpoch(0);
    const oneRow = await open({ rowsPerStep: 1 });
    const epoch = (e: number) => {
      const start = e === 0 ? 0 : rows0;
      return Array.from({ length: oneRow.rowsInEpoch(e) }, (_, i) =>
        trainedPairs(decodeFrame(oneRow.batchFrame(start + i, 0, 1))),
      );
    };
    const [e0, e1] = [epoch(0), epoch(1)];
    expect(e1.flat().sort()).toEqual(e0.flat().sort());
    expect(e1).not.toEqual(e0);
  });
});

describe("ranks", () => {
  it("split a step into equal consecutive parts whose union is the world-1 step", async () => {
    const data = await open({ rowsPerStep: 8 });
    for (const step of [0, 5]) {
      const whole = decodeFrame(data.batchFrame(step, 0, 1));
      for (const world of [2, 4, 8]) {
        const parts = Array.from({ length: world }, (_, rank) =>
          decodeFrame(data.batchFrame(step, rank, world)),
        );
        for (const [rank, part] of parts.entries())
          expect(part.header).toMatchObject({ rank, world, rows: 8 / world });
        for (const name of ["input_ids", "labels", "position_ids"]) {
          const joined = parts.flatMap((p) => Array.from(p.arrays[name] as Int32Array));
          expect(joined).toEqual(Array.from(whole.arrays[name] as Int32Array));
        }
      }
    }
  });

  it("refuse a world that does not divide rowsPerStep, and ranks outside the world", async () => {
    const data = await open({ rowsPerStep: 6 });
    expect(() => data.batchFrame(0, 0, 4)).toThrow(/rowsPerStep 6 does not split evenly over a world of 4/);
    expect(() => data.batchFrame(0, 2, 2)).toThrow(/rank 2 is outside world 2/);
    expect(() => data.batchFrame(-1, 0, 1)).toThrow(/step must be a non-negative integer/);
  });
});

describe("prompt batches", () => {
  it("carry ragged prompt ids rendered for generation, named so rollouts can find their reward model", async () => {
    const data = await open({ versions: [prompts], role: "prompts", rowsPerStep: 4 });
    expect(data.stats).toMatchObject({ documents: 6, rowsPerEpoch: 6, trainedTokens: 0 });
    const seen = new Map<string, number>();
    for (let step = 0; step < 3; step++) {
      const frame = decodeFrame(data.batchFrame(step, 0, 1));
      const offsets = frame.arrays.prompt_offsets as Int32Array;
      const tokens = frame.arrays.prompt_tokens as Int32Array;
      const named = frame.header.prompts as { id: string; index: number }[];
      expect(frame.header).toMatchObject({ role: "prompts", rows: 4 });
      expect(offsets.length).toBe(5);
      expect(offsets[4]).toBe(tokens.length);
      for (const [i, { id, index }] of named.entries()) {
        expect(index).toBe(i);
        const info = data.prompt(id);
        const sample = promptData.train.find((s) => s.id === info?.sampleId);
        expect(id).toBe(`${prompts.hash.slice(0, 12)}/${sample?.id}`);
        expect(info?.rewardModel).toEqual(sample?.reward_model);
        const ids = Array.from(tokens.subarray(offsets[i], offsets[i + 1]));
        expect(ids).toEqual(Array.from(info?.ids ?? []));
        expect(counting.real.decode(ids)).toBe(
          counting.real.renderChat(sample?.prompt ?? [], { addGenerationPrompt: true }),
        );
        seen.set(id, (seen.get(id) ?? 0) + 1);
      }
    }
    // 12 prompts drawn from 6: two whole epochs, every prompt twice.
    expect([...seen.values()]).toEqual(new Array(6).fill(2));
    expect(data.prompt("nope")).toBeUndefined();
    // RL prompts have no dataset responses.
    const frame = decodeFrame(data.batchFrame(0, 0, 1));
    expect(frame.header.arrays.map((a) => a.name)).toEqual(["prompt_offsets", "prompt_tokens"]);
  });

  it("of a chat set carry each prompt's dataset response, the conversation's last answer", async () => {
    const data = await open({ role: "prompts", rowsPerStep: 4, seqLen: 4096 });
    for (let step = 0; step < 3; step++) {
      for (const rank of [0, 1]) {
        const frame = decodeFrame(data.batchFrame(step, rank, 2));
        const arrays = frame.arrays as Record<string, Int32Array>;
        const [offsets, tokens] = [arrays.prompt_offsets as Int32Array, arrays.prompt_tokens as Int32Array];
        const [ends, responses] = [
          arrays.completion_offsets as Int32Array,
          arrays.completion_tokens as Int32Array,
        ];
        expect(ends.length).toBe(3);
        expect(ends[2]).toBe(responses.length);
        for (const [i, { id }] of (frame.header.prompts as { id: string }[]).entries()) {
          const info = data.prompt(id);
          const sample = chatData.train.find((s) => s.id === info?.sampleId);
          const prompt = Array.from(tokens.subarray(offsets[i], offsets[i + 1]));
          const response = Array.from(responses.subarray(ends[i], ends[i + 1]));
          expect(prompt).toEqual(Array.from(info?.ids ?? []));
          const messages = sample?.messages ?? [];
          const answer = messages.at(-1)?.content as string;
          expect(counting.real.decode(prompt)).toBe(
            counting.real.renderChat(messages.slice(0, -1), { addGenerationPrompt: true }),
          );
          expect(counting.real.decode(response)).toBe(`<think>\n\n</think>\n\n${answer}<|im_end|>`);
        }
      }
    }
  });
});

describe("the document cache", () => {
  it("is reused on reopen without tokenizing again", async () => {
    const cacheDir = join(await temp.make(), "cache");
    const before = counting.calls();
    const first = await open({ versions: [chat, corpus], cacheDir });
    expect(first.stats.cache).toEqual({ hits: 0, builds: 2 });
    expect(counting.calls() - before).toBe(40 + 30); // the chat version's train split and every corpus split
    const reopened = await open({ versions: [chat, corpus], cacheDir });
    expect(reopened.stats.cache).toEqual({ hits: 2, builds: 0 });
    expect(counting.calls() - before).toBe(70);
    expect(Buffer.from(reopened.batchFrame(1, 0, 1)).equals(Buffer.from(first.batchFrame(1, 0, 1)))).toBe(
      true,
    );
    expect(reopened.stats).toEqual({ ...first.stats, cache: { hits: 2, builds: 0 } });
  });

  it("is rebuilt when damaged, and kept apart per key", async () => {
    const cacheDir = join(await temp.make(), "cache");
    const first = await open({ cacheDir });
    const [name] = await readdir(join(cacheDir, chat.hash));
    const path = join(cacheDir, chat.hash, name as string);
    const bytes = await readFile(path);
    bytes[200] = (bytes[200] as number) ^ 0xff;
    await writeFile(path, bytes);
    const events: { hit: boolean; problem?: string }[] = [];
    const rebuilt = await open({ cacheDir, onCache: (e) => events.push(e) });
    expect(events).toEqual([expect.objectContaining({ hit: false, problem: "checksum mismatch" })]);
    expect(Buffer.from(rebuilt.batchFrame(0, 0, 1)).equals(Buffer.from(first.batchFrame(0, 0, 1)))).toBe(
      true,
    );

    await open({ cacheDir, seqLen: 128 });
    await open({ cacheDir, overlong: "drop" });
    expect(await readdir(join(cacheDir, chat.hash))).toHaveLength(3);
  });
});

describe("opening", () => {
  it("refuses a kind the role cannot use, a manifest that is not the version's, and an empty result", async () => {
    await expect(open({ versions: [prompts], role: "train" })).rejects.toThrow(
      /rl-prompt samples, which cannot feed the train role/,
    );
    await expect(open({ versions: [corpus], role: "prompts" })).rejects.toThrow(
      /text samples, which cannot feed the prompts role/,
    );
    await expect(open({ versions: [{ hash: chat.hash, manifest: corpus.manifest }] })).rejects.toThrow(
      /hashes to/,
    );
    await expect(open({ versions: [{ ...chat, splits: ["dev"] }] })).rejects.toThrow(/has no split "dev"/);
    await expect(open({ seqLen: 4, overlong: "drop" })).rejects.toThrow(/has no documents/);
  });

  it("reads the splits asked for", async () => {
    const data = await open({ versions: [{ ...chat, splits: ["train", "test"] }] });
    expect(data.stats.samples).toBe(45);
  });
});
