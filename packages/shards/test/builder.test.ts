import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { ChatSample, Sample, TextSample } from "@sovereign/schemas";
import { MANIFEST_FORMAT, Manifest } from "@sovereign/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBlobStore } from "../src/blob-store";
import { type BuildProgress, DatasetBuilder, sampleContentHash } from "../src/builder";
import { canonicalJson, sha256Hex } from "../src/hashing";
import { configHash, manifestHash, schemaFingerprint } from "../src/manifest";
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

const chatRecords = [
  {
    id: "c1",
    messages: [
      { role: "system", content: "ตอบเป็นภาษาไทย" },
      { role: "user", content: "ขอสูตรต้มยำกุ้งหน่อย" },
      { role: "assistant", content: "ได้เลยค่ะ 🍲 เริ่มจากต้มน้ำ…" },
    ],
  },
  {
    id: "c2",
    messages: [
      { role: "user", content: "Convert 100 USD to THB" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "call_a", type: "function", function: { name: "fx", arguments: '{"amount":100}' } },
        ],
      },
      { role: "tool", content: "3600", tool_call_id: "call_a", name: "fx" },
      { role: "assistant", content: "100 USD ≈ 3,600 บาท" },
    ],
    tools: [{ type: "function", function: { name: "fx", description: "currency conversion" } }],
    meta: { origin: "hand-written" },
  },
  { id: "c3", source: "forum", messages: [{ role: "user", content: "สวัสดี" }] },
];

function textSample(id: string, text: string, source = "unit"): TextSample {
  return { id, source, meta: {}, text };
}

function newBuilder(
  dir: string,
  limits?: { maxRows?: number; maxBytes?: number },
  onProgress?: (p: BuildProgress) => void,
) {
  const store = new LocalBlobStore(join(dir, "store"));
  const builder = new DatasetBuilder({
    dataset: "unit",
    kind: "text",
    store,
    scratchDir: join(dir, "scratch"),
    pipeline: { name: "unit", config: { a: 1 } },
    limits,
    onProgress,
  });
  return { store, builder };
}

async function twoSplitInputs(
  dir: string,
  trainRecords = textRecords(25, "train"),
  testRecords = textRecords(7, "test"),
) {
  return [
    { path: await writeText(dir, "train.jsonl", jsonl(trainRecords)), split: "train" },
    { path: await writeText(dir, "test.jsonl", jsonl(testRecords)), split: "test" },
  ];
}

describe("DatasetBuilder determinism", () => {
  it("the same inputs and config built twice into separate stores give the same version and shard hashes", async () => {
    const inputDir = await temp.make();
    const inputs = await twoSplitInputs(inputDir);
    const a = await buildVersion({ dir: await temp.make(), kind: "text", inputs, limits: { maxRows: 4 } });
    const b = await buildVersion({ dir: await temp.make(), kind: "text", inputs, limits: { maxRows: 4 } });
    expect(a.store.root).not.toBe(b.store.root);
    expect(a.version.hash).toBe(b.version.hash);
    expect(a.version.manifest.shards.length).toBeGreaterThan(2);
    expect(a.version.manifest.shards.map((s) => s.sha256)).toEqual(
      b.version.manifest.shards.map((s) => s.sha256),
    );
    expect(Buffer.from(a.version.manifestBytes).equals(Buffer.from(b.version.manifestBytes))).toBe(true);
    expect(a.version.card).toBe(b.version.card);
    expect(a.version.cardSha256).toBe(b.version.cardSha256);
    expect(await collectIndex(a.version)).toEqual(await collectIndex(b.version));
  });

  it("chat versions are deterministic too", async () => {
    const inputDir = await temp.make();
    const inputs = [{ path: await writeText(inputDir, "chat.jsonl", jsonl(chatRecords)), split: "train" }];
    const a = await buildVersion({ dir: await temp.make(), kind: "chat", inputs });
    const b = await buildVersion({ dir: await temp.make(), kind: "chat", inputs });
    expect(a.version.hash).toBe(b.version.hash);
    expect(a.version.manifest.shards.map((s) => s.sha256)).toEqual(
      b.version.manifest.shards.map((s) => s.sha256),
    );
  });

  it("changing one row changes the version hash and that shard's hash only", async () => {
    const records = textRecords(12, "r");
    const changed = structuredClone(records);
    (changed[10] as { text: string }).text += " (แก้ไข)";
    const base = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: await twoSplitInputs(await temp.make(), records, []),
      limits: { maxRows: 5 },
    });
    const edited = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: await twoSplitInputs(await temp.make(), changed, []),
      limits: { maxRows: 5 },
    });
    expect(edited.version.hash).not.toBe(base.version.hash);
    const baseShas = base.version.manifest.shards.map((s) => s.sha256);
    const editedShas = edited.version.manifest.shards.map((s) => s.sha256);
    expect(editedShas).toHaveLength(3);
    expect(editedShas.slice(0, 2)).toEqual(baseShas.slice(0, 2));
    expect(editedShas[2]).not.toBe(baseShas[2]);
  });

  it("the pipeline config and parents are part of the version", async () => {
    const inputs = await twoSplitInputs(await temp.make());
    const base = await buildVersion({ dir: await temp.make(), kind: "text", inputs });
    const otherConfig = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      pipelineConfig: { step: "ingest", minChars: 2 },
    });
    const parent = sha256Hex("parent");
    const withParents = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      parents: [parent, parent],
    });
    expect(otherConfig.version.hash).not.toBe(base.version.hash);
    expect(otherConfig.version.manifest.shards).toEqual(base.version.manifest.shards);
    expect(withParents.version.hash).not.toBe(base.version.hash);
    expect(withParents.version.manifest.parents).toEqual([parent]);
    // Key order in the config does not matter (canonical JSON).
    const reordered = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      pipelineConfig: { minChars: 1, step: "ingest" },
    });
    expect(reordered.version.hash).toBe(base.version.hash);
  });
});

describe("DatasetBuilder manifest", () => {
  it("writes a valid manifest whose sha256 is the version hash, stored with the card", async () => {
    const { store, version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: await twoSplitInputs(await temp.make()),
    });
    const m = version.manifest;
    expect(Manifest.parse(m)).toEqual(m);
    expect(m.format).toBe(MANIFEST_FORMAT);
    expect(m.dataset).toBe("thai-test");
    expect(m.kind).toBe("text");
    expect(m.schema.fingerprint).toBe(schemaFingerprint("text"));
    expect(m.pipeline).toEqual({
      name: "test-pipeline",
      configHash: configHash({ step: "ingest", minChars: 1 }),
    });
    expect(m.parents).toEqual([]);
    expect(m.rejected).toEqual([]);
    expect(version.hash).toBe(sha256Hex(version.manifestBytes));
    expect(version.hash).toBe(manifestHash(m));
    expect(new TextDecoder().decode(version.manifestBytes)).toBe(canonicalJson(m));
    expect(Buffer.from(await store.get(version.hash)).equals(Buffer.from(version.manifestBytes))).toBe(true);
    expect(new TextDecoder().decode(await store.get(version.cardSha256))).toBe(version.card);
    for (const shard of m.shards) {
      expect(await store.verify(shard.sha256)).toEqual({ ok: true, bytes: shard.bytes });
    }
  });

  it("the schema fingerprint differs by kind", () => {
    expect(
      new Set([schemaFingerprint("chat"), schemaFingerprint("text"), schemaFingerprint("rl-prompt")]).size,
    ).toBe(3);
  });

  it("stores shards whose rows are the input samples, completed with source/meta/tools", async () => {
    const inputDir = await temp.make();
    const { store, version } = await buildVersion({
      dir: await temp.make(),
      kind: "chat",
      inputs: [{ path: await writeText(inputDir, "chat.jsonl", jsonl(chatRecords)), split: "train" }],
    });
    const [rows] = await readAllSamples(store, version);
    expect(rows).toHaveLength(3);
    const expected: ChatSample[] = [
      { ...(chatRecords[0] as object), source: "chat.jsonl", meta: {}, tools: null } as ChatSample,
      { ...(chatRecords[1] as object), source: "chat.jsonl" } as ChatSample,
      { ...(chatRecords[2] as object), meta: {}, tools: null } as ChatSample,
    ];
    expect(rows?.map((r) => canonicalJson(r))).toEqual(expected.map((r) => canonicalJson(r)));
  });
});

describe("DatasetBuilder shard limits", () => {
  it("maxRows splits a split into shards named data/{split}-{i:05d}-of-{n:05d}.parquet", async () => {
    const records = textRecords(10, "row");
    const { store, version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: [{ path: await writeText(await temp.make(), "in.jsonl", jsonl(records)), split: "train" }],
      limits: { maxRows: 3 },
    });
    const shards = version.manifest.shards;
    expect(shards.map((s) => s.path)).toEqual([
      "data/train-00000-of-00004.parquet",
      "data/train-00001-of-00004.parquet",
      "data/train-00002-of-00004.parquet",
      "data/train-00003-of-00004.parquet",
    ]);
    expect(shards.map((s) => s.rows)).toEqual([3, 3, 3, 1]);
    expect(shards.every((s) => s.split === "train")).toBe(true);
    expect(version.manifest.splits).toEqual({ train: { rows: 10 } });
    const ids = (await readAllSamples(store, version)).flat().map((s) => s.id);
    expect(ids).toEqual(records.map((r) => r.id));
    for (const s of shards) expect(s.bytes).toBe((await store.get(s.sha256)).byteLength);
  });

  it("maxRows equal to the row count gives exactly one full shard", async () => {
    const { version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: [
        { path: await writeText(await temp.make(), "in.jsonl", jsonl(textRecords(6))), split: "train" },
      ],
      limits: { maxRows: 6 },
    });
    expect(version.manifest.shards.map((s) => [s.path, s.rows])).toEqual([
      ["data/train-00000-of-00001.parquet", 6],
    ]);
  });

  it("maxBytes splits by uncompressed row size, and an oversize row gets a shard of its own", async () => {
    const dir = await temp.make();
    const { store, builder } = newBuilder(dir, { maxBytes: 300 });
    const samples = [
      textSample("a", "ก".repeat(20)),
      textSample("b", "ข".repeat(20)),
      textSample("c", "x".repeat(1000)),
      textSample("d", "ค".repeat(20)),
      textSample("e", "ง".repeat(20)),
      textSample("f", "จ".repeat(20)),
    ];
    const size = (s: Sample) => Buffer.byteLength(JSON.stringify(s));
    // Each Thai row is ~110 bytes, so two fit in 300 bytes and three do not.
    expect(size(samples[0] as Sample) * 2).toBeLessThanOrEqual(300);
    expect(size(samples[0] as Sample) * 3).toBeGreaterThan(300);
    for (const s of samples) expect(await builder.add("train", s, "test")).toBeUndefined();
    const version = await builder.finish();
    expect(version.manifest.shards.map((s) => s.rows)).toEqual([2, 1, 2, 1]);
    expect(version.manifest.shards.map((s) => s.path)).toEqual([
      "data/train-00000-of-00004.parquet",
      "data/train-00001-of-00004.parquet",
      "data/train-00002-of-00004.parquet",
      "data/train-00003-of-00004.parquet",
    ]);
    const rows = (await readAllSamples(store, version)).map((shard) => shard.map((s) => s.id));
    expect(rows).toEqual([["a", "b"], ["c"], ["d", "e"], ["f"]]);
  });

  it("refuses non-positive limits", async () => {
    const dir = await temp.make();
    expect(() => newBuilder(dir, { maxRows: 0 })).toThrow(/positive/);
    expect(() => newBuilder(dir, { maxBytes: 0 })).toThrow(/positive/);
  });

  it("builds several splits, manifest ordered by split name then shard index", async () => {
    const dir = await temp.make();
    const inputs = [
      { path: await writeText(dir, "train.jsonl", jsonl(textRecords(5, "tr"))), split: "train" },
      { path: await writeText(dir, "validation.jsonl", jsonl(textRecords(2, "va"))), split: "validation" },
      { path: await writeText(dir, "test.jsonl", jsonl(textRecords(3, "te"))), split: "test" },
    ];
    const { store, version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      limits: { maxRows: 2 },
    });
    expect(version.manifest.shards.map((s) => [s.path, s.split, s.rows])).toEqual([
      ["data/test-00000-of-00002.parquet", "test", 2],
      ["data/test-00001-of-00002.parquet", "test", 1],
      ["data/train-00000-of-00003.parquet", "train", 2],
      ["data/train-00001-of-00003.parquet", "train", 2],
      ["data/train-00002-of-00003.parquet", "train", 1],
      ["data/validation-00000-of-00001.parquet", "validation", 2],
    ]);
    expect(version.manifest.splits).toEqual({
      test: { rows: 3 },
      train: { rows: 5 },
      validation: { rows: 2 },
    });
    expect(Object.keys(version.manifest.splits)).toEqual(["test", "train", "validation"]);
    const bySplit = (await readAllSamples(store, version)).map((rows, i) => ({
      split: version.manifest.shards[i]?.split,
      ids: rows.map((r) => r.id),
    }));
    expect(bySplit.filter((s) => s.split === "test").flatMap((s) => s.ids)).toEqual([
      "te-0000",
      "te-0001",
      "te-0002",
    ]);
  });

  it("one input file can feed a split that another file also feeds", async () => {
    const dir = await temp.make();
    const inputs = [
      { path: await writeText(dir, "a.jsonl", jsonl(textRecords(2, "a"))), split: "train" },
      { path: await writeText(dir, "b.jsonl", jsonl(textRecords(2, "b"))), split: "train" },
    ];
    const { store, version } = await buildVersion({ dir: await temp.make(), kind: "text", inputs });
    expect(version.manifest.splits).toEqual({ train: { rows: 4 } });
    expect((await readAllSamples(store, version)).flat().map((s) => [s.id, s.source])).toEqual([
      ["a-0000", "a.jsonl"],
      ["a-0001", "a.jsonl"],
      ["b-0000", "b.jsonl"],
      ["b-0001", "b.jsonl"],
    ]);
  });
});

describe("DatasetBuilder sample index", () => {
  it("yields every sample once with the shard ordinal, row and position it has in the version", async () => {
    const dir = await temp.make();
    const inputs = await twoSplitInputs(dir, textRecords(11, "train"), textRecords(5, "test"));
    const { store, version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      limits: { maxRows: 3 },
    });
    const shards = await readAllSamples(store, version);
    const total = 16;
    const entries = await collectIndex(version, 4);
    expect(entries).toHaveLength(total);
    expect(new Set(entries.map((e) => e.sampleId)).size).toBe(total);
    expect(entries.map((e) => e.position).sort((a, b) => a - b)).toEqual([...Array(total).keys()]);
    const flat = shards.flat();
    for (const e of entries) {
      const shard = version.manifest.shards[e.shardOrdinal];
      const sample = shards[e.shardOrdinal]?.[e.row];
      expect(sample?.id).toBe(e.sampleId);
      expect(shard?.split).toBe(e.split);
      expect(e.source).toBe(sample?.source);
      expect(e.contentHash).toBe(sampleContentHash("text", sample as Sample));
      expect(flat[e.position]?.id).toBe(e.sampleId);
    }
  });

  it("yields entries in manifest order (position ascending), even when splits were flushed out of name order", async () => {
    const dir = await temp.make();
    // train is read (and flushed) before test, but test comes first in the manifest.
    const inputs = await twoSplitInputs(dir, textRecords(5, "train"), textRecords(4, "test"));
    const { version } = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs,
      limits: { maxRows: 2 },
    });
    const entries = await collectIndex(version);
    expect(entries.map((e) => e.position)).toEqual([...Array(9).keys()]);
    expect(entries.map((e) => e.shardOrdinal)).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4]);
    expect(entries.map((e) => e.row)).toEqual([0, 1, 0, 1, 0, 1, 0, 1, 0]);
    expect(entries.slice(0, 4).every((e) => e.split === "test")).toBe(true);
  });

  it("batches by batchSize", async () => {
    const inputs = await twoSplitInputs(await temp.make(), textRecords(10, "x"), []);
    const { version } = await buildVersion({ dir: await temp.make(), kind: "text", inputs });
    const sizes: number[] = [];
    for await (const batch of version.sampleIndex(4)) sizes.push(batch.length);
    expect(sizes).toEqual([4, 4, 2]);
  });

  it("an empty version has no shards and an empty index", async () => {
    const inputs = await twoSplitInputs(await temp.make(), [], []);
    const { version } = await buildVersion({ dir: await temp.make(), kind: "text", inputs });
    expect(version.manifest.shards).toEqual([]);
    expect(version.manifest.splits).toEqual({});
    expect(await collectIndex(version)).toEqual([]);
  });

  it("dispose removes the scratch files but keeps the blobs", async () => {
    const dir = await temp.make();
    const { store, version } = await buildVersion({
      dir,
      kind: "text",
      inputs: await twoSplitInputs(await temp.make()),
    });
    expect((await readdir(join(dir, "scratch"))).length).toBe(1);
    await version.dispose();
    expect(await readdir(join(dir, "scratch"))).toEqual([]);
    for (const s of version.manifest.shards) expect(await store.has(s.sha256)).toBe(true);
  });
});

describe("DatasetBuilder add/reject/finish", () => {
  it("refuses a split name the shard layout cannot carry, at the first sample", async () => {
    const { builder } = newBuilder(await temp.make());
    await expect(builder.add("Train Set", textSample("x", "y"), "a.jsonl:1")).rejects.toThrow(
      /split name "Train Set"/,
    );
    await builder.abort();
  });

  it("rejects a duplicate id with reason duplicate-id and keeps the first", async () => {
    const dir = await temp.make();
    const { store, builder } = newBuilder(dir);
    expect(await builder.add("train", textSample("same", "first"), "a.jsonl:1")).toBeUndefined();
    const dup = await builder.add("test", textSample("same", "second"), "b.jsonl:7");
    expect(dup).toMatchObject({ reason: "duplicate-id", location: "b.jsonl:7" });
    expect(dup?.message).toContain('"same"');
    expect(dup?.record).toMatchObject({ id: "same", text: "second" });
    expect(builder.accepted).toBe(1);
    const version = await builder.finish();
    expect(version.manifest.splits).toEqual({ train: { rows: 1 } });
    expect((await readAllSamples(store, version)).flat().map((s) => (s as TextSample).text)).toEqual([
      "first",
    ]);
  });

  it("reports progress as shards are written and records rejected", async () => {
    const dir = await temp.make();
    const progress: BuildProgress[] = [];
    const { builder } = newBuilder(dir, { maxRows: 2 }, (p) => progress.push({ ...p }));
    for (const id of ["a", "b", "c"]) await builder.add("train", textSample(id, `ข้อความ ${id}`), id);
    await builder.reject({ reason: "malformed", location: "x:1", message: "bad", record: "{" });
    await builder.finish();
    expect(progress[0]).toMatchObject({ accepted: 2, rejected: 0, shards: 1 });
    expect(progress.at(-1)).toMatchObject({ accepted: 3, rejected: 1, shards: 2 });
    expect(progress.at(-1)?.shardBytes).toBeGreaterThan(0);
    expect(builder.rejected).toBe(1);
  });

  it("keeps rejected records in the store, listed in manifest.rejected", async () => {
    const dir = await temp.make();
    const { store, builder } = newBuilder(dir);
    await builder.add("train", textSample("ok", "fine"), "in:1");
    await builder.reject({ reason: "malformed", location: "in:2", message: "not JSON", record: "{oops" });
    await builder.reject({
      reason: "invalid",
      location: "in:3",
      message: "text: too short",
      record: { text: "" },
    });
    const version = await builder.finish();
    expect(version.manifest.rejected).toHaveLength(1);
    const entry = version.manifest.rejected[0];
    expect(entry).toMatchObject({ path: "rejected/input.jsonl", rows: 2 });
    const lines = new TextDecoder()
      .decode(await store.get(entry?.sha256 ?? ""))
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { reason: "malformed", location: "in:2", message: "not JSON", record: "{oops" },
      { reason: "invalid", location: "in:3", message: "text: too short", record: { text: "" } },
    ]);
    expect(entry?.bytes).toBe((await store.get(entry?.sha256 ?? "")).byteLength);
  });

  it("refuses use after finish", async () => {
    const { builder } = newBuilder(await temp.make());
    await builder.add("train", textSample("a", "a"), "x");
    await builder.finish();
    await expect(builder.add("train", textSample("b", "b"), "x")).rejects.toThrow(/already finished/);
    await expect(builder.finish()).rejects.toThrow(/already finished/);
    await expect(
      builder.reject({ reason: "malformed", location: "x", message: "m", record: null }),
    ).rejects.toThrow(/already finished/);
  });

  it("abort removes the scratch directory", async () => {
    const dir = await temp.make();
    const { builder } = newBuilder(dir, { maxRows: 1 });
    await builder.add("train", textSample("a", "a"), "x");
    expect((await readdir(join(dir, "scratch"))).length).toBe(1);
    await builder.abort();
    expect(await readdir(join(dir, "scratch"))).toEqual([]);
    await expect(builder.add("train", textSample("b", "b"), "x")).rejects.toThrow();
  });

  it("sampleContentHash covers content only, not id/source/meta", () => {
    const a = textSample("a", "เนื้อหาเดียวกัน", "s1");
    const b = { ...textSample("b", "เนื้อหาเดียวกัน", "s2"), meta: { x: 1 } };
    expect(sampleContentHash("text", a)).toBe(sampleContentHash("text", b));
    expect(sampleContentHash("text", a)).not.toBe(sampleContentHash("text", textSample("a", "อื่น")));
    expect(sampleContentHash("text", a)).toBe(sha256Hex(canonicalJson({ text: "เนื้อหาเดียวกัน" })));
  });

  it("scratch files live under the scratch dir only", async () => {
    const dir = await temp.make();
    const { builder } = newBuilder(dir);
    await builder.add("train", textSample("a", "a"), "x");
    await builder.finish();
    const builds = await readdir(join(dir, "scratch"));
    expect(builds).toHaveLength(1);
    expect(builds[0]).toMatch(/^build-/);
    const buildDir = join(dir, "scratch", builds[0] ?? "");
    const files = await readdir(buildDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect((await stat(join(buildDir, f))).size).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(["scratch", "store"]);
  });
});
