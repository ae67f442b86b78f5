/**
 * @module Reading a version back: verified shard bytes, decoded rows, and a full re-hash report.
 */
import type { Manifest, Sample, ShardEntry } from "@sovereign/schemas";
import { BlobNotFoundError, type BlobStore } from "./blob-store";
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

/** `missing`: the store has no blob by that hash; `corrupt`: its bytes hash to something else, or differ in size. */
export type FileStatus = "ok" | "corrupt" | "missing";

export type VerifyReport = {
  version: string;
  ok: boolean;
  /** Whether the manifest (as the caller holds it) hashes to the version id. */
  manifest: { ok: boolean; actual: string };
  /** Every file checked: the stored manifest and card when asked for, then shards and rejected records. */
  shards: {
    path: string;
    sha256: string;
    /** The size the manifest gives; for the manifest and card, which it does not list, the stored size. */
    bytes?: number;
    ok: boolean;
    status: FileStatus;
    error?: string;
  }[];
};

/** A version's own files in the blob store, beside its shards: `manifest.json` (named by the version hash) and the card. */
export type StoredVersionFiles = { cardSha256: string };

type Entry = { path: string; sha256: string; bytes?: number; label: string };

/**
 * Re-hash the manifest and every shard and rejected-record file of a version; with `stored`, the blobs of its
 * `manifest.json` and card (`README.md`) too. Never throws on a bad blob: a missing one is reported `missing`,
 * one whose bytes do not match `corrupt`.
 */
export async function verifyVersion(
  store: BlobStore,
  versionHash: string,
  manifest: Manifest,
  onShard?: (done: number, total: number) => void,
  stored?: StoredVersionFiles,
): Promise<VerifyReport> {
  const actual = manifestHash(manifest);
  const entries: Entry[] = [
    ...(stored
      ? [
          { path: "manifest.json", sha256: versionHash, label: `manifest.json of version ${versionHash}` },
          { path: "README.md", sha256: stored.cardSha256, label: `README.md of version ${versionHash}` },
        ]
      : []),
    ...[...manifest.shards, ...manifest.rejected].map((e) => ({ ...e, label: shardLabel(e, versionHash) })),
  ];
  const shards: VerifyReport["shards"] = [];
  for (const [i, entry] of entries.entries()) {
    const result = await store.verify(entry.sha256, entry.label);
    const bytes = entry.bytes ?? (result.ok ? result.bytes : undefined);
    const base = { path: entry.path, sha256: entry.sha256, ...(bytes !== undefined ? { bytes } : {}) };
    if (!result.ok) {
      const status = result.error instanceof BlobNotFoundError ? "missing" : "corrupt";
      shards.push({ ...base, ok: false, status, error: result.error.message });
    } else if (bytes !== result.bytes) {
      shards.push({
        ...base,
        ok: false,
        status: "corrupt",
        error: `${entry.label}: size ${result.bytes} differs from the manifest's ${bytes}`,
      });
    } else shards.push({ ...base, ok: true, status: "ok" });
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
