/** Shared scaffolding for the shard tests: temp dirs, stores, input files and a one-call build. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DatasetKind, Sample } from "@sovereign/schemas";
import { LocalBlobStore } from "../src/blob-store";
import { type BuiltVersion, DatasetBuilder, type ShardLimits } from "../src/builder";
import { type IngestOptions, type InputFile, ingestFiles } from "../src/inputs";
import { readShardRows } from "../src/parquet";

/** A temp-dir factory with cleanup: call `make()` in tests and `cleanup()` in afterEach. */
export function tempDirs() {
  const dirs: string[] = [];
  return {
    async make(prefix = "shards-test-"): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

export const jsonl = (records: readonly unknown[]): string =>
  records.map((r) => `${JSON.stringify(r)}\n`).join("");

export async function writeText(dir: string, name: string, content: string | Uint8Array): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

export type BuildSetup = {
  dir: string;
  kind: DatasetKind;
  inputs: InputFile[];
  limits?: Partial<ShardLimits>;
  ingest?: IngestOptions;
  pipelineConfig?: unknown;
  parents?: string[];
  workers?: number;
};

/** Build a version from input files into a fresh store under `dir`. */
export async function buildVersion(
  setup: BuildSetup,
): Promise<{ store: LocalBlobStore; version: BuiltVersion; builder: DatasetBuilder }> {
  const store = new LocalBlobStore(join(setup.dir, "store"));
  const builder = new DatasetBuilder({
    dataset: "thai-test",
    kind: setup.kind,
    store,
    scratchDir: join(setup.dir, "scratch"),
    pipeline: { name: "test-pipeline", config: setup.pipelineConfig ?? { step: "ingest", minChars: 1 } },
    parents: setup.parents,
    description: "A small test dataset.",
    limits: setup.limits,
    ...(setup.workers === undefined ? {} : { workers: setup.workers }),
  });
  await ingestFiles(builder, setup.kind, setup.inputs, setup.ingest);
  const version = await builder.finish();
  return { store, version, builder };
}

/** Every sample of a version, decoded from the verified shards, in manifest order. */
export async function readAllSamples(store: LocalBlobStore, version: BuiltVersion): Promise<Sample[][]> {
  const out: Sample[][] = [];
  for (const shard of version.manifest.shards) {
    out.push(readShardRows(version.manifest.kind, await store.get(shard.sha256)));
  }
  return out;
}

export async function collectIndex(version: BuiltVersion, batchSize?: number) {
  const entries = [];
  for await (const batch of version.sampleIndex(batchSize)) entries.push(...batch);
  return entries;
}

export function textRecords(n: number, prefix = "t") {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(4, "0")}`,
    text: i % 3 === 0 ? `ข้อความภาษาไทยลำดับที่ ${i}` : `English text number ${i}`,
    meta: { n: i },
  }));
}
