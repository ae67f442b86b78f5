/**
 * @module Reading a version back: verified shard bytes, decoded rows, and a full re-hash report.
 */
import type { Manifest, Sample, ShardEntry } from "@sovereign/schemas";
import type { BlobStore } from "./blob-store";
import { manifestHash } from "./manifest";
import { readShardRows } from "./parquet";

export function shardLabel(shard: Pick<ShardEntry, "path">, versionHash: string): string {
  return `shard ${shard.path} of version ${versionHash}`;
}

/** Verified bytes of one shard; a mismatch throws BlobIntegrityError naming the shard and the version. */
export function readShardBytes(
  store: BlobStore,
  versionHash: string,
  shard: ShardEntry,
): Promise<Uint8Array> {
  return store.get(shard.sha256, shardLabel(shard, versionHash));
}

/** Every sample of a version, shard by shard (one shard in memory at a time), each shard verified first. */
export async function* readVersionSamples(
  store: BlobStore,
  versionHash: string,
  manifest: Manifest,
  split?: string,
): AsyncGenerator<{ shard: ShardEntry; samples: Sample[] }> {
  for (const shard of manifest.shards) {
    if (split !== undefined && shard.split !== split) continue;
    const bytes = await readShardBytes(store, versionHash, shard);
    yield { shard, samples: readShardRows(manifest.kind, bytes) };
  }
}

export type VerifyReport = {
  version: string;
  ok: boolean;
  manifest: { ok: boolean; actual: string };
  shards: { path: string; sha256: string; bytes: number; ok: boolean; error?: string }[];
};

/** Re-hash the manifest and every shard and rejected-record file of a version; never throws on a bad blob. */
export async function verifyVersion(
  store: BlobStore,
  versionHash: string,
  manifest: Manifest,
  onShard?: (done: number, total: number) => void,
): Promise<VerifyReport> {
  const actual = manifestHash(manifest);
  const entries = [...manifest.shards, ...manifest.rejected];
  const shards: VerifyReport["shards"] = [];
  for (const [i, entry] of entries.entries()) {
    const result = await store.verify(entry.sha256, shardLabel(entry, versionHash));
    shards.push({
      path: entry.path,
      sha256: entry.sha256,
      bytes: entry.bytes,
      ok: result.ok && result.bytes === entry.bytes,
      ...(result.ok
        ? result.bytes === entry.bytes
          ? {}
          : { error: `size ${result.bytes} differs from the manifest's ${entry.bytes}` }
        : { error: result.error.message }),
    });
    onShard?.(i + 1, entries.length);
  }
  const manifestOk = actual === versionHash;
  return {
    version: versionHash,
    ok: manifestOk && shards.every((s) => s.ok),
    manifest: { ok: manifestOk, actual },
    shards,
  };
}
