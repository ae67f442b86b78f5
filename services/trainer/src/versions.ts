/**
 * @module The dataset versions a training run is pinned to: looked up by hash in the curator's registry (the
 * same database, or the curator's HTTP API), checked against the role they fill, fetched into the trainer's blob
 * store when they come over HTTP, and re-verified shard by shard before any training starts, so a run never
 * trains on bytes other than the ones its hash names.
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

/** Where versions are looked up: the registry's tables, or a curator over HTTP (`/v1/versions/{hash}`). */
export type VersionSource = { db: Database } | { curatorUrl: string; curatorToken?: string };

/**
 * Each role's version as the registry has it; unknown hashes, drafts and wrong kinds are refused by name (the
 * spec field `field(role)`, `datasets.<role>` by default).
 */
export async function pinnedVersions(
  source: VersionSource,
  roles: DatasetRoles,
  field: (role: DatasetRole) => string = (role) => `datasets.${role}`,
): Promise<PinnedVersion[]> {
  if ("curatorUrl" in source) return pinnedOverHttp(source, roles, field);
  const { db } = source;
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
    return checkRole(role, hash, row, field(role));
  });
}

/**
 * The statute corpus a run's tools search (`tools.corpus`): a committed text version, pinned and checked as the
 * corpus role's datasets are; undefined for a run without tools.
 */
export async function pinnedToolCorpus(
  source: VersionSource,
  spec: { tools?: { corpus: string } | undefined },
): Promise<PinnedVersion | undefined> {
  if (!spec.tools) return undefined;
  const [corpus] = await pinnedVersions(source, { corpus: spec.tools.corpus }, () => "tools.corpus");
  return corpus;
}

type VersionRow = { status: string; manifest: Manifest; dataset: string; kind: DatasetKind };

function checkRole(
  role: DatasetRole,
  hash: string,
  row: VersionRow | undefined,
  field = `datasets.${role}`,
): PinnedVersion {
  if (!row) throw new ServiceError("BAD_REQUEST", `${field}: version ${hash} is not in the registry`);
  if (row.status === "draft")
    throw new ServiceError(
      "CONFLICT",
      `${field}: version ${hash} of ${row.dataset} is a draft; commit it before training on it`,
    );
  if (!ROLE_KINDS[role].includes(row.kind))
    throw new ServiceError(
      "BAD_REQUEST",
      `${field}: version ${hash} of ${row.dataset} holds ${row.kind} samples, but ${role} needs ${ROLE_KINDS[role].join(" or ")}`,
    );
  return { role, hash, dataset: row.dataset, kind: row.kind, status: row.status, manifest: row.manifest };
}

/** A GET to the curator with its `trainer` token; a refused token fails with what to set. */
async function curatorGet(source: { curatorToken?: string }, url: string): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(
      url,
      source.curatorToken ? { headers: { authorization: `Bearer ${source.curatorToken}` } } : {},
    );
  } catch (error) {
    throw new ServiceError(
      "INTERNAL",
      `the curator at ${new URL(url).origin} cannot be reached: ${(error as Error).message}`,
    );
  }
  if (res.status === 401 || res.status === 403)
    throw new ServiceError(
      "INTERNAL",
      `the curator at ${new URL(url).origin} refused ${source.curatorToken ? "TRAINER_CURATOR_TOKEN" : "a request without a token (set TRAINER_CURATOR_TOKEN to a trainer token)"} (${res.status}): ${await res.text()}`,
    );
  return res;
}

async function pinnedOverHttp(
  source: { curatorUrl: string; curatorToken?: string },
  roles: DatasetRoles,
  field: (role: DatasetRole) => string,
): Promise<PinnedVersion[]> {
  const wanted = Object.entries(roles).filter((e): e is [DatasetRole, string] => typeof e[1] === "string");
  const pinned: PinnedVersion[] = [];
  for (const [role, hash] of wanted) {
    const res = await curatorGet(source, `${source.curatorUrl}/v1/versions/${hash}`);
    if (res.status === 404) {
      pinned.push(checkRole(role, hash, undefined, field(role)));
      continue;
    }
    if (!res.ok)
      throw new ServiceError(
        "INTERNAL",
        `the curator answered ${res.status} for version ${hash}: ${await res.text()}`,
      );
    pinned.push(checkRole(role, hash, (await res.json()) as VersionRow, field(role)));
  }
  return pinned;
}

/**
 * Copies the files of versions fetched over HTTP into the trainer's blob store (each checked against its
 * sha256 as it arrives; files already there are kept). Versions read from the shared database need nothing.
 */
export async function fetchVersionFiles(
  source: VersionSource,
  store: BlobStore,
  versions: readonly PinnedVersion[],
): Promise<void> {
  if (!("curatorUrl" in source)) return;
  for (const version of versions) {
    for (const entry of [...version.manifest.shards, ...version.manifest.rejected]) {
      if (await store.has(entry.sha256)) continue;
      const res = await curatorGet(
        source,
        `${source.curatorUrl}/v1/versions/${version.hash}/files/${entry.path}`,
      );
      if (!res.ok)
        throw new ServiceError(
          "INTERNAL",
          `datasets.${version.role}: the curator answered ${res.status} for ${entry.path} of version ${version.hash}`,
        );
      const put = await store.put(new Uint8Array(await res.arrayBuffer()));
      if (put.sha256 !== entry.sha256)
        throw new ServiceError(
          "INTEGRITY_ERROR",
          `datasets.${version.role}: ${entry.path} of version ${version.hash} arrived with sha256 ${put.sha256}, not ${entry.sha256}`,
        );
    }
  }
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
