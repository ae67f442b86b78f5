/**
 * @module Scratch that killed processes left behind, removed when the curator opens. A build (`kill -9`, a
 * crash, an out-of-memory kill) leaves its `build-<owner>-<hex>` folder, tens of megabytes, under the scratch
 * folder, a run's or a publication's; a blob being written leaves its temporary file. Their names carry the
 * process that made them (`scratchName`), and only those of processes that no longer run are removed: on
 * PostgreSQL several processes (a server, workers, the command line) share one data folder, and a live one's
 * build must go on. An upload that never got its info file and has not been written to for an hour is
 * removed as well: a request that slow is long gone.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { removeStaleScratch } from "@sovereign/shards";
import type { CuratorConfig } from "./config";
import type { Logger } from "./logger";
import { UPLOAD_ID } from "./uploads";

const BLOB_TEMP = /[0-9a-f]{64}\./;
const UPLOAD_IDLE_MS = 3600_000;

/** Remove stale scratch under the data folder; answers the paths removed and their bytes. */
export async function sweepScratch(
  config: Pick<CuratorConfig, "scratchDir" | "blobDir">,
  logger?: Logger,
): Promise<{ path: string; bytes: number }[]> {
  const removed: { path: string; bytes: number }[] = [];
  const buildDirs = [
    config.scratchDir,
    ...(await subfolders(join(config.scratchDir, "runs"))),
    ...(await subfolders(join(config.scratchDir, "publish"))),
  ];
  for (const dir of buildDirs) removed.push(...(await removeStaleScratch(dir, "build-", "-")));
  removed.push(...(await removeStaleScratch(join(config.blobDir, "tmp"), BLOB_TEMP, ".")));
  removed.push(...(await removeAbandonedUploads(join(config.scratchDir, "uploads"))));
  if (removed.length)
    logger?.info(
      { removed: removed.map((r) => r.path), bytes: removed.reduce((n, r) => n + r.bytes, 0) },
      "removed scratch left by processes that no longer run",
    );
  return removed;
}

async function subfolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
}

async function removeAbandonedUploads(dir: string): Promise<{ path: string; bytes: number }[]> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  const removed: { path: string; bytes: number }[] = [];
  for (const name of names) {
    if (!UPLOAD_ID.test(name) || names.has(`${name}.json`)) continue;
    const path = join(dir, name);
    const s = await stat(path).catch(() => undefined);
    if (!s?.isFile() || Date.now() - s.mtimeMs < UPLOAD_IDLE_MS) continue;
    await rm(path, { force: true });
    removed.push({ path, bytes: s.size });
  }
  return removed;
}
