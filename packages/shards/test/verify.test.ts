import { readFile, rm, writeFile } from "node:fs/promises";
import type { Manifest, TextSample } from "@sovereign/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { BlobIntegrityError, type LocalBlobStore } from "../src/blob-store";
import { manifestHash } from "../src/manifest";
import { readShardBytes, readVersionSamples, shardLabel, verifyVersion } from "../src/verify";
import { buildVersion, jsonl, tempDirs, textRecords, writeText } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

async function flipByte(store: LocalBlobStore, sha256: string, at = 100): Promise<void> {
  const path = store.pathOf(sha256);
  const bytes = await readFile(path);
  const i = Math.min(at, bytes.length - 1);
  bytes[i] = (bytes[i] ?? 0) ^ 0x01;
  await writeFile(path, bytes);
}

/** A version with two splits, four shards and one rejected-records file. */
async function sampleVersion() {
  const dir = await temp.make();
  const bad = `${jsonl(textRecords(5, "train"))}not json\n`;
  const inputs = [
    { path: await writeText(dir, "train.jsonl", bad), split: "train" },
    { path: await writeText(dir, "test.jsonl", jsonl(textRecords(3, "test"))), split: "test" },
  ];
  return buildVersion({ dir, kind: "text", inputs, limits: { maxRows: 2 }, ingest: { maxRejected: 1 } });
}

describe("verifyVersion", () => {
  it("reports ok for an intact version, every shard and rejected file checked", async () => {
    const { store, version } = await sampleVersion();
    const progress: [number, number][] = [];
    const report = await verifyVersion(store, version.hash, version.manifest, (d, t) =>
      progress.push([d, t]),
    );
    expect(report.ok).toBe(true);
    expect(report.version).toBe(version.hash);
    expect(report.manifest).toEqual({ ok: true, actual: version.hash });
    expect(report.shards.map((s) => s.path)).toEqual([
      "data/test-00000-of-00002.parquet",
      "data/test-00001-of-00002.parquet",
      "data/train-00000-of-00003.parquet",
      "data/train-00001-of-00003.parquet",
      "data/train-00002-of-00003.parquet",
      "rejected/input.jsonl",
    ]);
    expect(report.shards.every((s) => s.ok && s.error === undefined)).toBe(true);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6].map((d) => [d, 6]));
  });

  it("a flipped byte in one stored shard gives ok:false naming that shard and the version", async () => {
    const { store, version } = await sampleVersion();
    const target = version.manifest.shards[3];
    if (!target) throw new Error("fixture has too few shards");
    await flipByte(store, target.sha256);
    const report = await verifyVersion(store, version.hash, version.manifest);
    expect(report.ok).toBe(false);
    expect(report.manifest.ok).toBe(true);
    const bad = report.shards.filter((s) => !s.ok);
    expect(bad).toHaveLength(1);
    expect(bad[0]?.path).toBe(target.path);
    expect(bad[0]?.sha256).toBe(target.sha256);
    expect(bad[0]?.error).toContain(target.path);
    expect(bad[0]?.error).toContain(version.hash);
    expect(bad[0]?.error).toContain(shardLabel(target, version.hash));
  });

  it("a corrupt rejected-records file is reported too", async () => {
    const { store, version } = await sampleVersion();
    const rejected = version.manifest.rejected[0];
    if (!rejected) throw new Error("fixture has no rejected file");
    await flipByte(store, rejected.sha256, 5);
    const report = await verifyVersion(store, version.hash, version.manifest);
    expect(report.ok).toBe(false);
    expect(report.shards.filter((s) => !s.ok).map((s) => s.path)).toEqual(["rejected/input.jsonl"]);
  });

  it("a missing shard is reported, not thrown", async () => {
    const { store, version } = await sampleVersion();
    const target = version.manifest.shards[0];
    if (!target) throw new Error("fixture has no shards");
    await rm(store.pathOf(target.sha256));
    const report = await verifyVersion(store, version.hash, version.manifest);
    expect(report.ok).toBe(false);
    expect(report.shards[0]).toMatchObject({ path: target.path, ok: false, status: "missing" });
    expect(report.shards[0]?.error).toMatch(/missing/);
  });

  it("a shard whose size differs from the manifest is reported", async () => {
    const { store, version } = await sampleVersion();
    const shards = version.manifest.shards.map((s, i) => (i === 1 ? { ...s, bytes: s.bytes + 1 } : s));
    const manifest: Manifest = { ...version.manifest, shards };
    const report = await verifyVersion(store, manifestHash(manifest), manifest);
    expect(report.ok).toBe(false);
    expect(report.manifest.ok).toBe(true);
    expect(report.shards[1]).toMatchObject({ path: shards[1]?.path, ok: false });
    expect(report.shards[1]?.error).toMatch(/size/);
  });

  it("a tampered manifest (hash mismatch) gives manifest.ok false", async () => {
    const { store, version } = await sampleVersion();
    const tampered: Manifest = structuredClone(version.manifest);
    const first = tampered.shards[0];
    if (!first) throw new Error("fixture has no shards");
    first.rows += 1;
    const report = await verifyVersion(store, version.hash, tampered);
    expect(report.ok).toBe(false);
    expect(report.manifest.ok).toBe(false);
    expect(report.manifest.actual).toBe(manifestHash(tampered));
    expect(report.manifest.actual).not.toBe(version.hash);
    // The blobs themselves are intact.
    expect(report.shards.every((s) => s.ok)).toBe(true);

    const renamed = await verifyVersion(store, version.hash, { ...version.manifest, dataset: "other-name" });
    expect(renamed.manifest.ok).toBe(false);
    expect(renamed.ok).toBe(false);
  });

  it("with the stored files, re-hashes manifest.json and the card: corrupt and missing told apart", async () => {
    const { store, version } = await sampleVersion();
    const stored = { cardSha256: version.cardSha256 };
    const files = async () =>
      (await verifyVersion(store, version.hash, version.manifest, undefined, stored)).shards;
    expect((await files()).slice(0, 2)).toMatchObject([
      {
        path: "manifest.json",
        sha256: version.hash,
        ok: true,
        status: "ok",
        bytes: version.manifestBytes.length,
      },
      { path: "README.md", sha256: version.cardSha256, ok: true, status: "ok" },
    ]);

    await flipByte(store, version.cardSha256, 10);
    await rm(store.pathOf(version.hash));
    const report = await verifyVersion(store, version.hash, version.manifest, undefined, stored);
    expect(report.ok).toBe(false);
    // The manifest as the caller holds it still hashes to the version: only its stored copy is gone.
    expect(report.manifest.ok).toBe(true);
    const [manifest, card, ...rest] = report.shards;
    expect(manifest).toMatchObject({ path: "manifest.json", ok: false, status: "missing" });
    expect(manifest?.error).toContain(`manifest.json of version ${version.hash}`);
    expect(card).toMatchObject({ path: "README.md", ok: false, status: "corrupt" });
    expect(card?.error).toContain(`README.md of version ${version.hash}: stored bytes hash to`);
    expect(rest.every((s) => s.ok && s.status === "ok")).toBe(true);
  });

  it("a manifest checked against the wrong version hash is not ok", async () => {
    const { store, version } = await sampleVersion();
    const wrong = `${version.hash.slice(0, 63)}${version.hash.endsWith("0") ? "1" : "0"}`;
    const report = await verifyVersion(store, wrong, version.manifest);
    expect(report.manifest).toEqual({ ok: false, actual: version.hash });
    expect(report.ok).toBe(false);
  });
});

describe("reading a version back", () => {
  it("readVersionSamples yields every shard's samples in manifest order, optionally one split", async () => {
    const { store, version } = await sampleVersion();
    const all: string[] = [];
    for await (const { shard, samples } of readVersionSamples(store, version.hash, version.manifest)) {
      expect(samples).toHaveLength(shard.rows);
      all.push(...samples.map((s) => s.id));
    }
    expect(all).toEqual([
      ...textRecords(3, "test").map((r) => r.id),
      ...textRecords(5, "train").map((r) => r.id),
    ]);
    const test: TextSample[] = [];
    for await (const { samples } of readVersionSamples(store, version.hash, version.manifest, "test")) {
      test.push(...(samples as TextSample[]));
    }
    expect(test.map((s) => s.text)).toEqual(textRecords(3, "test").map((r) => r.text));
  });

  it("refuses a corrupt shard with BlobIntegrityError naming the shard and the version", async () => {
    const { store, version } = await sampleVersion();
    const target = version.manifest.shards[2];
    if (!target) throw new Error("fixture has too few shards");
    await flipByte(store, target.sha256);
    const error = await readShardBytes(store, version.hash, target).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobIntegrityError);
    expect((error as Error).message).toContain(`shard ${target.path} of version ${version.hash}`);
    const reading = async () => {
      for await (const _ of readVersionSamples(store, version.hash, version.manifest)) {
        // consume
      }
    };
    await expect(reading()).rejects.toThrow(target.path);
  });
});
