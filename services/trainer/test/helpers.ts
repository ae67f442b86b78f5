/**
 * @module Test wiring: a curator and a trainer on one isolated, migrated database (as a deployment shares it),
 * the trainer listening on a loopback port for its engines, and a way to build dataset versions through the
 * curator's pipeline runs.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerType } from "@hono/node-server";
import { type Curator, loadConfig as loadCuratorConfig, openCurator } from "@sovereign/curator";
import { openTestDatabase, type TestDatabaseKind } from "@sovereign/db/testing";
import { TrainingRunSpec, type TrainingRunSpecInput, tables } from "@sovereign/schemas";
import { pino } from "pino";
import { defaultEnginePython, loadConfig, type TrainerConfig } from "../src/config";
import type { TrainingRunRow } from "../src/runs";
import { openTrainer, type Trainer } from "../src/runtime";
import { startServer } from "../src/server";

export type TestStack = {
  dir: string;
  curator: Curator;
  trainer: Trainer;
  url: string;
  /** Build and commit a dataset version from rows, through a curator pipeline run; returns its hash. */
  version(dataset: string, kind: "chat" | "text" | "rl-prompt", rows: unknown[]): Promise<string>;
  request(path: string, init?: RequestInit): Promise<Response>;
  post(path: string, body: unknown): Promise<Response>;
  cleanup(): Promise<void>;
};

/** The interpreter engine tests use (the trainer's default), and whether it can train. */
export const enginePython = process.env.ENGINE_PYTHON || defaultEnginePython();
export const engineAvailable = spawnSync(enginePython, ["-c", "import torch, transformers"]).status === 0;

/**
 * A curator and a trainer on a fresh database; `env` adds trainer settings (e.g. `ENGINE_PROCS`), `overrides`
 * configuration no variable sets (e.g. `stop.killMs`).
 */
export async function createStack(
  kind: TestDatabaseKind = "pglite",
  env: Record<string, string> = {},
  overrides: Partial<TrainerConfig> = {},
): Promise<TestStack> {
  const dir = await mkdtemp(join(tmpdir(), "trainer-test-"));
  const database = await openTestDatabase(kind);
  const logger = pino({ level: "silent" });
  const curator = await openCurator(
    {
      ...loadCuratorConfig({
        CURATOR_DATA_DIR: join(dir, "curator"),
        CURATOR_IMPORT_DIR: join(dir, "imports"),
      }),
      sourcesDir: join(dir, "sources"),
      pipelineWorkers: 0,
    },
    { database, logger },
  );
  const trainer = await openTrainer(
    {
      ...loadConfig({
        CURATOR_DATA_DIR: join(dir, "curator"),
        TRAINER_DATA_DIR: join(dir, "trainer"),
        TRAINER_PORT: "0",
        ENGINE_PYTHON: enginePython,
        // Access control has its own test (access.test.ts); the others call the routes without tokens.
        TRAINER_AUTH: "off",
        ...env,
      }),
      ...overrides,
    },
    { database, logger },
  );
  const { server, url } = await startServer(trainer);
  await trainer.supervisor.start(200);
  await curator.runs.work();
  await mkdir(join(dir, "sources"), { recursive: true });
  let files = 0;
  return {
    dir,
    curator,
    trainer,
    url,
    async version(dataset, kindOf, rows) {
      const file = `rows-${files++}.jsonl`;
      await writeFile(join(dir, "sources", file), `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
      const run = await curator.runs.submit({
        spec: {
          name: `${dataset}-fixture`,
          dataset: { name: dataset, kind: kindOf },
          sources: [{ type: "files", name: "fixture", paths: [file] }],
          steps: [],
        },
      });
      const done = await curator.runs.waitFor(run.id);
      if (done.status !== "succeeded" || !done.versionHash)
        throw new Error(`fixture version ${dataset} was not built: ${done.error}`);
      return done.versionHash;
    },
    request: async (path, init) => trainer.app.request(path, init),
    post: async (path, body) =>
      trainer.app.request(path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    async cleanup() {
      await trainer.close();
      await closeServer(server);
      await curator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function closeServer(server: ServerType): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A run recorded directly in the state given (`running` with an engine token's hash, `succeeded`, …), so no
 * supervisor takes it: for what the service does with a run whatever its engine.
 */
export async function insertRun(
  stack: TestStack,
  spec: TrainingRunSpecInput,
  fields: Partial<TrainingRunRow> = {},
): Promise<string> {
  const parsed = TrainingRunSpec.parse(spec);
  const [row] = await stack.trainer.database.db
    .insert(tables.trainingRuns)
    .values({
      name: parsed.name ?? null,
      stage: parsed.stage,
      spec: parsed,
      datasets: parsed.datasets,
      specHash: "0".repeat(64),
      status: "succeeded",
      ...fields,
    })
    .returning();
  if (!row) throw new Error("the run was not recorded");
  return row.id;
}

/** Poll a training run until it finishes (or `timeoutMs` passes). */
export async function waitForRun(stack: TestStack, id: string, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await stack.trainer.runs.get(id);
    if (["succeeded", "failed", "cancelled"].includes(run.status)) return run;
    if (Date.now() > deadline)
      throw new Error(`training run ${id} still ${run.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
