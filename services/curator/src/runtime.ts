/**
 * @module Wiring: configuration → database (migrated) → blob store → registry → HTTP app. Shared by the
 * server, the CLI and the tests so they run the same code.
 */
import { join } from "node:path";
import { type DatabaseHandle, openDatabase } from "@sovereign/db";
import { LocalBlobStore } from "@sovereign/shards";
import { createApp } from "./app";
import type { CuratorConfig } from "./config";
import type { App } from "./context";
import { createLogger, type Logger } from "./logger";
import { Registry } from "./registry";
import { UploadStore } from "./uploads";

export type Curator = {
  config: CuratorConfig;
  database: DatabaseHandle;
  registry: Registry;
  uploads: UploadStore;
  logger: Logger;
  app: App;
  close(): Promise<void>;
};

export async function openCurator(
  config: CuratorConfig,
  options: { logger?: Logger; database?: DatabaseHandle } = {},
): Promise<Curator> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const database =
    options.database ??
    (await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: config.pgDir }));
  try {
    await database.migrate();
  } catch (error) {
    await database.close();
    throw error;
  }
  const store = new LocalBlobStore(config.blobDir);
  const registry = new Registry(database.db, store, {
    scratchDir: config.scratchDir,
    importDir: config.importDir,
    shardLimits: config.shardLimits,
  });
  const uploads = new UploadStore(join(config.scratchDir, "uploads"), config.maxUploadBytes);
  const app = createApp({
    registry,
    uploads,
    logger,
    database: { kind: database.kind, location: database.location },
  });
  return { config, database, registry, uploads, logger, app, close: () => database.close() };
}
