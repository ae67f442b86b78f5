/**
 * @module Pushing a dataset version to a Hugging Face Hub dataset repo: one commit holding the version's
 * Parquet shards under `data/`, its `manifest.json` and its dataset card as `README.md`, made with
 * `@huggingface/hub` against `HF_ENDPOINT` (huggingface.co unless set) with `HF_TOKEN`. Every file is read back
 * from the blob store and checked against its sha256 before it is sent, and the Hub commit is recorded in
 * `hub_pushes`, so a version says where it went. Rejected records stay home: the manifest lists them, the repo
 * does not hold them.
 *
 * Only published versions are pushed unless `allowCommitted` is set; drafts never are. A second push of a
 * version to the same repo and branch returns the recorded commit unless `force` asks for a new one.
 */
import { type CommitOutput, commitIter, createRepo, HubApiError } from "@huggingface/hub";
import { ServiceError } from "@sovereign/http";
import { tables } from "@sovereign/schemas";
import { DEFAULT_HUB_URL } from "@sovereign/sources";
import { and, desc, eq } from "drizzle-orm";
import { mapBlobError, type Registry } from "./registry";

const { hubPushes } = tables;

export type HubPushOptions = {
  /** `owner/name` of the dataset repo. */
  repo: string;
  branch?: string;
  /** The Hub's base URL; `HF_ENDPOINT`, else huggingface.co. */
  endpoint?: string;
  /** A write token (`hf_…`); `HF_TOKEN`. */
  token?: string;
  /** Create the repo first when it does not exist (private with `private`). */
  create?: boolean;
  private?: boolean;
  /** Push a committed version that has not been published. */
  allowCommitted?: boolean;
  /** Push again even when this version was already pushed to this repo and branch. */
  force?: boolean;
  /** Progress: the phase, and per file the share sent. */
  onProgress?: (event: { phase: string; path?: string; progress?: number }) => void;
};

export type HubPush = {
  version: string;
  endpoint: string;
  repo: string;
  branch: string;
  commit: string;
  commitUrl: string | null;
  files: { path: string; sha256: string; bytes: number }[];
  pushedAt: string;
  /** True when the recorded push was returned and nothing was sent. */
  alreadyPushed: boolean;
};

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Push `hash` to the Hub; see the module comment. */
export async function pushVersionToHub(
  registry: Registry,
  hash: string,
  options: HubPushOptions,
): Promise<HubPush> {
  const endpoint = (options.endpoint || DEFAULT_HUB_URL).replace(/\/+$/, "");
  const branch = options.branch ?? "main";
  const { repo, token } = options;
  if (!REPO_NAME.test(repo))
    throw new ServiceError("BAD_REQUEST", `repo: ${JSON.stringify(repo)} is not an owner/name Hub repo id`);
  if (!token)
    throw new ServiceError(
      "BAD_REQUEST",
      "no Hub token: set HF_TOKEN to a token with write access to the repo",
    );
  if (!token.startsWith("hf_"))
    throw new ServiceError(
      "BAD_REQUEST",
      'HF_TOKEN is not a Hugging Face access token (those start with "hf_")',
    );

  const version = await registry.getVersionDetail(hash);
  if (version.status === "draft")
    throw new ServiceError(
      "CONFLICT",
      `version ${hash} is a draft: only committed versions can leave the registry`,
    );
  if (version.status !== "published" && !options.allowCommitted)
    throw new ServiceError(
      "CONFLICT",
      `version ${hash} is ${version.status}, not published: publish it after review, or allow committed versions`,
    );

  if (!options.force) {
    const [previous] = await registry.db
      .select()
      .from(hubPushes)
      .where(
        and(
          eq(hubPushes.versionHash, hash),
          eq(hubPushes.endpoint, endpoint),
          eq(hubPushes.repo, repo),
          eq(hubPushes.branch, branch),
        ),
      )
      .orderBy(desc(hubPushes.pushedAt))
      .limit(1);
    if (previous) return { ...toPush(previous), alreadyPushed: true };
  }

  // Every file from the blob store, re-hashed on read: a damaged blob fails here, before anything is sent.
  const paths = ["README.md", "manifest.json", ...version.manifest.shards.map((s) => s.path)];
  const files: { path: string; sha256: string; bytes: number; content: Blob }[] = [];
  for (const path of paths) {
    const file = await registry.versionFile(hash, path);
    const bytes = await registry.store.get(file.sha256, file.label).catch((error: unknown) => {
      throw mapBlobError(error);
    });
    files.push({ path, sha256: file.sha256, bytes: bytes.byteLength, content: new Blob([bytes]) });
  }

  const hub = { hubUrl: endpoint, accessToken: token };
  const target = { type: "dataset" as const, name: repo };
  let output: CommitOutput | undefined;
  try {
    if (options.create) {
      try {
        await createRepo({ ...hub, repo: target, private: options.private ?? false });
        options.onProgress?.({ phase: "created" });
      } catch (error) {
        if (!(error instanceof HubApiError && error.statusCode === 409)) throw error;
      }
    }
    const iterator = commitIter({
      ...hub,
      repo: target,
      branch,
      title: `${version.dataset} ${hash.slice(0, 12)}`,
      description: `Dataset version ${hash} (${version.status}), ${version.stats.rows} samples in ${version.stats.shards} shard(s).`,
      operations: files.map((f) => ({ operation: "addOrUpdate" as const, path: f.path, content: f.content })),
    });
    for (;;) {
      const next = await iterator.next();
      if (next.done) {
        output = next.value;
        break;
      }
      const event = next.value;
      if (event.event === "phase") options.onProgress?.({ phase: event.phase });
      else options.onProgress?.({ phase: event.state, path: event.path, progress: event.progress });
    }
  } catch (error) {
    throw hubError(error, endpoint, repo, branch);
  }
  if (!output?.commit.oid)
    throw new ServiceError(
      "UPSTREAM_ERROR",
      `${endpoint} answered the commit to ${repo} without a commit id`,
    );

  const [row] = await registry.db
    .insert(hubPushes)
    .values({
      versionHash: hash,
      endpoint,
      repo,
      branch,
      commitSha: output.commit.oid,
      commitUrl: output.commit.url ?? null,
      files: files.map(({ path, sha256, bytes }) => ({ path, sha256, bytes })),
    })
    .returning();
  return { ...toPush(row as typeof hubPushes.$inferSelect), alreadyPushed: false };
}

/** The pushes of a version, newest first. */
export async function hubPushesOf(
  registry: Registry,
  hash: string,
): Promise<Omit<HubPush, "alreadyPushed">[]> {
  const rows = await registry.db
    .select()
    .from(hubPushes)
    .where(eq(hubPushes.versionHash, hash))
    .orderBy(desc(hubPushes.pushedAt));
  return rows.map(toPush);
}

function toPush(r: typeof hubPushes.$inferSelect): Omit<HubPush, "alreadyPushed"> {
  return {
    version: r.versionHash,
    endpoint: r.endpoint,
    repo: r.repo,
    branch: r.branch,
    commit: r.commitSha,
    commitUrl: r.commitUrl,
    files: r.files,
    pushedAt: r.pushedAt.toISOString(),
  };
}

/** A Hub failure as an error that says what to do about it. */
function hubError(error: unknown, endpoint: string, repo: string, branch: string): ServiceError {
  if (error instanceof ServiceError) return error;
  const where = `dataset repo ${repo} on ${endpoint}`;
  if (error instanceof HubApiError) {
    const said = error.message ? `: ${error.message}` : "";
    if (error.statusCode === 401 || error.statusCode === 403)
      return new ServiceError(
        "UPSTREAM_ERROR",
        `the Hub refused HF_TOKEN for ${where} (${error.statusCode}${said}); it needs write access to the repo`,
      );
    if (error.statusCode === 404)
      return new ServiceError(
        "UPSTREAM_ERROR",
        `${where} or its branch ${branch} was not found (404${said}); create the repo, or push with create`,
      );
    return new ServiceError(
      "UPSTREAM_ERROR",
      `the Hub failed the push to ${where} (${error.statusCode}${said})`,
    );
  }
  return new ServiceError(
    "UPSTREAM_ERROR",
    `the push to ${where} failed: ${(error as Error).message ?? String(error)}`,
  );
}
