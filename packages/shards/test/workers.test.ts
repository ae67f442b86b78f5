/** @module Worker threads: builds give the same results with and without them, and fail cleanly. */
import { spawn } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ChatSample, TextSample } from "@sovereign/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBlobStore } from "../src/blob-store";
import { type BuiltVersion, DatasetBuilder } from "../src/builder";
import { WorkerPool } from "../src/worker-pool";
import {
  buildVersion,
  collectIndex,
  jsonl,
  readAllSamples,
  tempDirs,
  textRecords,
  writeText,
} from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

/** Chat records of every shape the format carries: tool calls with null content, tool turns, tools, BOM, emoji. */
function chatRecords(n: number, prefix: string) {
  return Array.from({ length: n }, (_, i) => {
    const id = `${prefix}-${String(i).padStart(4, "0")}`;
    switch (i % 4) {
      case 0:
        return {
          id,
          messages: [
            { role: "system", content: "ตอบเป็นภาษาไทย" },
            { role: "user", content: `\uFEFFขอสูตรต้มยำกุ้งหน่อย ${i}` },
            { role: "assistant", content: `ได้เลยค่ะ 🍲 ขั้นที่ ${i}\n"ต้มน้ำ"\t\\ ก่อน` },
          ],
        };
      case 1:
        return {
          id,
          source: "tools",
          meta: { n: i, nested: { list: [1, "สอง", null] } },
          messages: [
            { role: "user", content: `Convert ${i} USD to THB` },
            {
              role: "assistant",
              content: null,
              tool_calls: [
                { id: `call_${i}`, type: "function", function: { name: "fx", arguments: `{"amount":${i}}` } },
              ],
            },
            { role: "tool", content: String(36 * i), tool_call_id: `call_${i}`, name: "fx" },
            { role: "assistant", content: `${i} USD ≈ ${36 * i} บาท` },
          ],
          tools: [
            {
              type: "function",
              function: { name: "fx", description: "แปลงสกุลเงิน", parameters: { type: "object", rate: 36.5 } },
            },
          ],
        };
      case 2:
        return { id, messages: [{ role: "user", content: "สวัสดี".repeat(1 + (i % 7)) }] };
      default:
        return { id, meta: { i }, messages: [{ role: "user", content: "" }] };
    }
  });
}

function textSample(id: string, text: string): TextSample {
  return { id, source: "unit", meta: {}, text };
}

/** Everything a version is: the manifest bytes, hash, card, shard bytes and the sample index, in order. */
async function everything(store: LocalBlobStore, version: BuiltVersion) {
  return {
    hash: version.hash,
    manifest: Buffer.from(version.manifestBytes).toString("utf8"),
    card: version.card,
    shards: await Promise.all(
      version.manifest.shards.map(async (s) => Buffer.from(await store.get(s.sha256)).toString("hex")),
    ),
    index: await collectIndex(version),
  };
}

describe("DatasetBuilder with worker threads", () => {
  it("gives byte-identical versions with workers 0 and 2: manifest, shards, card, index and rows", async () => {
    const inputDir = await temp.make();
    const inputs = [
      { path: await writeText(inputDir, "train.jsonl", jsonl(chatRecords(57, "train"))), split: "train" },
      {
        path: await writeText(inputDir, "test.jsonl", jsonl(chatRecords(13, "test").reverse())),
        split: "test",
      },
    ];
    const limits = { maxRows: 4 };
    const here = await buildVersion({ dir: await temp.make(), kind: "chat", inputs, limits, workers: 0 });
    const workers = await buildVersion({ dir: await temp.make(), kind: "chat", inputs, limits, workers: 2 });
    expect(here.version.manifest.shards.length).toBe(15 + 4);
    expect(await everything(workers.store, workers.version)).toEqual(
      await everything(here.store, here.version),
    );
    expect(await readAllSamples(workers.store, workers.version)).toEqual(
      await readAllSamples(here.store, here.version),
    );
  });

  it("keeps manifest and index order with many shards in flight across interleaved splits", async () => {
    const build = async (workers: number) => {
      const dir = await temp.make();
      const store = new LocalBlobStore(join(dir, "store"));
      const builder = new DatasetBuilder({
        dataset: "interleaved",
        kind: "text",
        store,
        scratchDir: join(dir, "scratch"),
        pipeline: { name: "unit", config: {} },
        limits: { maxRows: 3, maxBytes: 400 },
        workers,
      });
      const splits = ["validation", "train", "test"];
      for (let i = 0; i < 150; i++) {
        const text = `${i % 5 === 0 ? "ข้อความยาว ".repeat(i % 11) : "short"} ${i}`;
        await builder.add(splits[i % 3] as string, textSample(`row-${i}`, text), `in:${i}`);
      }
      return { store, version: await builder.finish() };
    };
    const here = await build(0);
    const workers = await build(3);
    expect(here.version.manifest.shards.length).toBeGreaterThan(40);
    expect(await everything(workers.store, workers.version)).toEqual(
      await everything(here.store, here.version),
    );
    const index = await collectIndex(workers.version);
    expect(index.map((e) => e.position)).toEqual([...index.keys()]);
    const shards = workers.version.manifest.shards;
    for (const entry of index) expect(shards[entry.shardOrdinal]?.split).toBe(entry.split);
  });

  it("reports a shard a worker cannot encode as a rejected add or finish naming the shard", async () => {
    for (const workers of [0, 2]) {
      const dir = await temp.make();
      const builder = new DatasetBuilder({
        dataset: "broken",
        kind: "chat",
        store: new LocalBlobStore(join(dir, "store")),
        scratchDir: join(dir, "scratch"),
        pipeline: { name: "unit", config: {} },
        limits: { maxRows: 1 },
        workers,
      });
      const ok = { id: "ok", source: "s", meta: {}, messages: [{ role: "user", content: "x" }], tools: null };
      const broken = { ...ok, id: "broken", messages: null } as unknown as ChatSample;
      const run = async () => {
        await builder.add("train", ok as ChatSample, "in:1");
        await builder.add("train", broken, "in:2");
        for (let i = 3; i < 8; i++)
          await builder.add("train", { ...ok, id: `ok-${i}` } as ChatSample, `in:${i}`);
        await builder.finish();
      };
      const error = await run().catch((e: unknown) => e as Error);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^encoding shard 1 of split train failed: .*null/);
      await builder.abort();
      expect(await readdir(join(dir, "scratch"))).toEqual([]);
    }
  });

  it("refuses a non-finite number in tool parameters, as the content hash refuses it without workers", async () => {
    for (const workers of [0, 2]) {
      const dir = await temp.make();
      const builder = new DatasetBuilder({
        dataset: "nan",
        kind: "chat",
        store: new LocalBlobStore(join(dir, "store")),
        scratchDir: join(dir, "scratch"),
        pipeline: { name: "unit", config: {} },
        workers,
      });
      const sample: ChatSample = {
        id: "nan",
        source: "s",
        meta: {},
        messages: [{ role: "user", content: "x" }],
        tools: [{ type: "function", function: { name: "f", parameters: { scale: Number.NaN } } }],
      };
      const run = async () => {
        await builder.add("train", sample, "in:1");
        await builder.finish();
      };
      await expect(run()).rejects.toThrow("$.tools[0].function.parameters.scale: NaN has no JSON form");
      await builder.abort();
    }
  });

  it("abort() with shards in flight stops the workers and removes the scratch files", async () => {
    const dir = await temp.make();
    const builder = new DatasetBuilder({
      dataset: "aborted",
      kind: "text",
      store: new LocalBlobStore(join(dir, "store")),
      scratchDir: join(dir, "scratch"),
      pipeline: { name: "unit", config: {} },
      limits: { maxRows: 50 },
      workers: 2,
    });
    for (const [i, record] of textRecords(130).entries()) {
      await builder.add("train", { ...record, source: "unit" } as TextSample, `in:${i}`);
    }
    await builder.abort();
    expect(await readdir(join(dir, "scratch")).catch(() => [])).toEqual([]);
    await expect(builder.finish()).rejects.toThrow(/already finished/);
  });

  it("a build left unfinished does not keep the process alive", async () => {
    const dir = await temp.make();
    const src = resolve(import.meta.dirname, "../src");
    const script = await writeText(
      dir,
      "unfinished.mts",
      `import { LocalBlobStore } from ${JSON.stringify(join(src, "blob-store.ts"))};
import { DatasetBuilder } from ${JSON.stringify(join(src, "builder.ts"))};
const builder = new DatasetBuilder({
  dataset: "unfinished", kind: "text", store: new LocalBlobStore(${JSON.stringify(join(dir, "store"))}),
  scratchDir: ${JSON.stringify(join(dir, "scratch"))}, pipeline: { name: "unit", config: {} },
  limits: { maxRows: 2 }, workers: 2,
});
for (let i = 0; i < 9; i++) await builder.add("train", { id: "r" + i, source: "s", meta: {}, text: "t" + i }, "x");
console.log("added, not finished");
`,
    );
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: resolve(src, "../../.."),
      // Killed rather than left behind if the workers do keep it alive.
      timeout: 30_000,
    });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.stderr.on("data", (chunk) => {
      out += chunk;
    });
    const code = await new Promise<number | null>((done) => child.on("exit", done));
    expect(out).toContain("added, not finished");
    expect(code).toBe(0);
  });
});

describe("WorkerPool", () => {
  const echo = new URL("./fixtures/echo-worker.cjs", import.meta.url);

  it("runs jobs, and rejects a job whose worker fails or exits, then carries on with a fresh worker", async () => {
    const pool = new WorkerPool(echo, 2, "echoing");
    try {
      expect(await Promise.all([1, 2, 3].map((n) => pool.run<number>(n)))).toEqual([1, 2, 3]);
      await expect(pool.run("fail")).rejects.toMatchObject({ name: "RangeError", message: "refused" });
      await expect(pool.run("exit")).rejects.toThrow("echoing: a worker thread exited with code 3");
      await expect(pool.run("throw")).rejects.toThrow(
        "echoing: a worker thread failed: thrown outside any job handler",
      );
      expect(await pool.run<string>("still here")).toBe("still here");
    } finally {
      await pool.close();
    }
    await expect(pool.run(4)).rejects.toThrow("echoing: the worker threads were already stopped");
  });

  it("close() rejects the jobs still waiting for a worker", async () => {
    const pool = new WorkerPool(echo, 1, "echoing");
    const first = pool.run(1);
    const waiting = pool.run(2);
    const closing = pool.close();
    await expect(waiting).rejects.toThrow("echoing: stopped before the job started");
    await expect(first).rejects.toThrow(/stopped/);
    await closing;
  });
});
