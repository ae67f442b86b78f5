/**
 * @module Wiring: configuration → database (migrated) → blob store → registry → HTTP app. Shared by the
 * server, the CLI and the tests so they run the same code.
 */
import { join } from "node:path";
import { AccessControl } from "@sovereign/access";
import { type DatabaseHandle, migrated, openDatabase } from "@sovereign/db";
import { formats, pipelines } from "@sovereign/pipelines";
import type { PipelineSpecInput } from "@sovereign/schemas";
import { LocalBlobStore } from "@sovereign/shards";
import type { RecordReader } from "@sovereign/sources";
import { createApp } from "./app";
import type { CuratorConfig } from "./config";
import type { App } from "./context";
import { createLogger, type Logger } from "./logger";
import { Registry } from "./registry";
import { ReviewQueues } from "./review";
import { RunManager } from "./runs";
import { sweepScratch } from "./scratch";
import { UploadStore } from "./uploads";

export type Curator = {
  config: CuratorConfig;
  database: DatabaseHandle;
  registry: Registry;
  runs: RunManager;
  uploads: UploadStore;
  access: AccessControl;
  reviews: ReviewQueues;
  logger: Logger;
  app: App;
  close(): Promise<void>;
};

export async function openCurator(
  config: CuratorConfig,
  options: {
    logger?: Logger;
    database?: DatabaseHandle;
    /** Pipelines runnable by name, and extra source formats (defaults: the project's pipelines and legal formats). */
    pipelines?: Record<string, PipelineSpecInput>;
    formats?: Record<string, RecordReader>;
  } = {},
): Promise<Curator> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = await migrated(
    options.database ??
      (await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: config.pgDir })),
  );
  // Scratch that killed builds left behind; a live process's is kept (scratch.ts).
  await sweepScratch(config, logger).catch((error: unknown) =>
    logger.warn({ err: error }, "could not remove the scratch of processes that no longer run"),
  );
  const store = new LocalBlobStore(config.blobDir);
  const registry = new Registry(database.db, store, {
    scratchDir: config.scratchDir,
    importDir: config.importDir,
    shardLimits: config.shardLimits,
    maxLineBytes: config.maxLineBytes,
  });
  const uploads = new UploadStore(join(config.scratchDir, "uploads"), config.maxUploadBytes);
  const runs = new RunManager({
    config,
    database,
    registry,
    logger,
    pipelines: options.pipelines ?? pipelines,
    formats: options.formats ?? formats,
  });
  const access = new AccessControl(database.db);
  const reviews = new ReviewQueues(database.db, registry);
  const app = createApp({
    registry,
    runs,
    uploads,
    access,
    reviews,
    config,
    auth: config.auth,
    logger,
    probeDatabase: () => database.executeSql("SELECT 1"),
  });
  return {
    config,
    database,
    registry,
    runs,
    uploads,
    access,
    reviews,
    logger,
    app,
    close: async () => {
      await runs.stop();
      await database.close();
    },
  };
}
