/** @module Test wiring: a curator on an isolated, migrated database (PGlite or PostgreSQL) with its own data folder. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openTestDatabase, type TestDatabaseKind } from "@sovereign/db/testing";
import { pino } from "pino";
import { type CuratorConfig, loadConfig } from "../src/config";
import { type Curator, openCurator } from "../src/runtime";

export type TestCurator = Curator & { dir: string; cleanup(): Promise<void> };

export async function createTestCurator(
  kind: TestDatabaseKind,
  overrides: Partial<CuratorConfig> = {},
): Promise<TestCurator> {
  const dir = await mkdtemp(join(tmpdir(), "curator-test-"));
  const config: CuratorConfig = {
    ...loadConfig({ CURATOR_DATA_DIR: dir, CURATOR_IMPORT_DIR: join(dir, "imports") }),
    // Access control has its own test (access.test.ts); the others call the routes without tokens.
    auth: false,
    ...overrides,
  };
  const database = await openTestDatabase(kind);
  const curator = await openCurator(config, { database, logger: pino({ level: "silent" }) });
  return {
    ...curator,
    dir,
    async cleanup() {
      await curator.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A JSON POST to the app, as a client sends it. */
export function postJson(app: { request: TestCurator["app"]["request"] }, path: string, body: unknown) {
  return app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

export function jsonl(rows: unknown[]): string {
  return `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`;
}

export function chatRow(id: string, user: string, assistant: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ],
    ...extra,
  };
}

export async function writeText(path: string, text: string | Uint8Array): Promise<string> {
  await writeFile(path, text);
  return path;
}
