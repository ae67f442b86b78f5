/**
 * @module The dataset versions a training run is pinned to: looked up by hash in the curator's registry (the
 * same database), checked against the role they fill, and re-verified shard by shard against the blob store
 * before any training starts, so a run never trains on bytes other than the ones its hash names.
 */
import type { Database } from "@sovereign/db";
import { ServiceError } from "@sovereign/http";
import {
  type DatasetKind,
  type DatasetRole,
  type DatasetRoles,
  type Manifest,
  tables,
} from "@sovereign/schemas";
import { type BlobStore, verifyVersion } from "@sovereign/shards";
import { eq, inArray } from "drizzle-orm";

/** The sample kinds each role can read: RL prompts for `prompts` (OPD also samples from chat prompts). */
export const ROLE_KINDS: Record<DatasetRole, DatasetKind[]> = {
  train: ["chat"],
  prompts: ["rl-prompt", "chat"],
  corpus: ["text"],
};

export type PinnedVersion = {
  role: DatasetRole;
  hash: string;
  dataset: string;
  kind: DatasetKind;
  status: string;
  manifest: Manifest;
};

/** Each role's version as the registry has it; unknown hashes, drafts and wrong kinds are refused by name. */
export async function pinnedVersions(db: Database, roles: DatasetRoles): Promise<PinnedVersion[]> {
  const wanted = Object.entries(roles).filter((e): e is [DatasetRole, string] => typeof e[1] === "string");
  if (!wanted.length) return [];
  const rows = await db
    .select({
      hash: tables.datasetVersions.hash,
      status: tables.datasetVersions.status,
      manifest: tables.datasetVersions.manifest,
      dataset: tables.datasets.name,
      kind: tables.datasets.kind,
    })
    .from(tables.datasetVersions)
    .innerJoin(tables.datasets, eq(tables.datasets.id, tables.datasetVersions.datasetId))
    .where(
      inArray(
        tables.datasetVersions.hash,
        wanted.map(([, hash]) => hash),
      ),
    );
  const byHash = new Map(rows.map((r) => [r.hash, r]));
  return wanted.map(([role, hash]) => {
    const row = byHash.get(hash);
    if (!row)
      throw new ServiceError("BAD_REQUEST", `datasets.${role}: version ${hash} is not in the registry`);
    if (row.status === "draft")
      throw new ServiceError(
        "CONFLICT",
        `datasets.${role}: version ${hash} of ${row.dataset} is a draft; commit it before training on it`,
      );
    if (!ROLE_KINDS[role].includes(row.kind))
      throw new ServiceError(
        "BAD_REQUEST",
        `datasets.${role}: version ${hash} of ${row.dataset} holds ${row.kind} samples, but ${role} needs ${ROLE_KINDS[role].join(" or ")}`,
      );
    return { role, hash, dataset: row.dataset, kind: row.kind, status: row.status, manifest: row.manifest };
  });
}

/**
 * Re-hashes the manifest and every shard of each version; the first mismatch throws, naming the shard, its
 * version and role, and what differs.
 */
export async function verifyPinned(
  store: BlobStore,
  versions: readonly PinnedVersion[],
  onShard?: (role: DatasetRole, done: number, total: number) => void,
): Promise<void> {
  for (const version of versions) {
    const report = await verifyVersion(store, version.hash, version.manifest, (done, total) =>
      onShard?.(version.role, done, total),
    );
    if (!report.manifest.ok)
      throw new ServiceError(
        "INTEGRITY_ERROR",
        `datasets.${version.role}: the manifest of version ${version.hash} hashes to ${report.manifest.actual}`,
      );
    const bad = report.shards.find((s) => !s.ok);
    if (bad)
      throw new ServiceError(
        "INTEGRITY_ERROR",
        `datasets.${version.role}: shard ${bad.path} of version ${version.hash} (${version.dataset}) failed verification: ${bad.error ?? "sha256 mismatch"}`,
      );
  }
}
