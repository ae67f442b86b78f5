/**
 * @module Wiring: configuration → database (migrated, shared with the curator) → blob store → runs, data plane,
 * rollout scoring, supervisor → HTTP app. Shared by the server, the CLI and the tests.
 */

import { join } from "node:path";
import { AccessControl } from "@sovereign/access";
import { type DatabaseHandle, migrated, openDatabase } from "@sovereign/db";
import { makeJudge } from "@sovereign/rewards";
import { LocalBlobStore } from "@sovereign/shards";
import { TeacherClient } from "@sovereign/teacher";
import { type Logger, pino } from "pino";
import { createTrainerApp } from "./app";
import type { TrainerConfig } from "./config";
import type { TrainerApp } from "./context";
import { DataPlane } from "./data-plane";
import { Exporter } from "./export";
import { RolloutScorer } from "./rollouts";
import { TrainingRuns } from "./runs";
import { Supervisor } from "./supervisor";

export type Trainer = {
  config: TrainerConfig;
  database: DatabaseHandle;
  access: AccessControl;
  runs: TrainingRuns;
  supervisor: Supervisor;
  data: DataPlane;
  exporter: Exporter;
  logger: Logger;
  app: TrainerApp;
  close(): Promise<void>;
};

export async function openTrainer(
  config: TrainerConfig,
  options: { logger?: Logger; database?: DatabaseHandle } = {},
): Promise<Trainer> {
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: "trainer" } });
  const database = await migrated(
    options.database ??
      (await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: config.pgDir })),
  );
  const store = new LocalBlobStore(config.blobDir);
  const versions = config.curatorUrl
    ? { curatorUrl: config.curatorUrl, ...(config.curatorToken ? { curatorToken: config.curatorToken } : {}) }
    : { db: database.db };
  const runs = new TrainingRuns(database.db, versions, config.teachers);
  const data = new DataPlane({ store, cacheDir: config.cacheDir });
  const judge = config.judge
    ? makeJudge({
        client: new TeacherClient({
          baseUrl: config.judge.baseUrl,
          model: config.judge.model,
          cache: join(config.cacheDir, "judge"),
        }),
      })
    : undefined;
  const rollouts = new RolloutScorer(data, judge);
  const supervisor = new Supervisor({ config, versions, runs, store, data, logger });
  const access = new AccessControl(database.db);
  const exporter = new Exporter({ config, runs, db: database.db });
  const app = createTrainerApp({
    config,
    access,
    runs,
    supervisor,
    data,
    exporter,
    rollouts,
    logger,
    probeDatabase: () => database.executeSql("SELECT 1"),
  });
  return {
    config,
    database,
    access,
    runs,
    supervisor,
    data,
    exporter,
    logger,
    app,
    close: async () => {
      await supervisor.stop();
      data.close();
      if (!options.database) await database.close();
    },
  };
}
