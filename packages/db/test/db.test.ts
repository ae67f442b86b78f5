import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processStartTime } from "@sovereign/shards/owner";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DatabaseLockedError, lockDataDir, openDatabase, redactUrl, rowsOf } from "../src/index";
import { openTestDatabase, testDatabaseKinds } from "../src/testing";

describe.each(testDatabaseKinds())("migrations on %s", (kind) => {
  it("create every table and trigger, and applying them again changes nothing", async () => {
    const handle = await openTestDatabase(kind);
    try {
      expect(handle.kind).toBe(kind);
      await handle.migrate();
      const tables = rowsOf(
        await handle.db.execute(
          sql`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
        ),
      ).map((r) => r.table_name);
      expect(tables).toEqual([
        "api_tokens",
        "audit_log",
        "dataset_versions",
        "datasets",
        "dedup_bands",
        "dedup_exact_keys",
        "dedup_signatures",
        "hub_pushes",
        "page_sessions",
        "pipeline_runs",
        "pipeline_units",
        "publications",
        "rejected_records",
        "review_decisions",
        "review_items",
        "review_queues",
        "sample_revisions",
        "samples",
        "shards",
        "training_checkpoints",
        "training_exports",
        "training_metrics",
        "training_runs",
      ]);
      // From pg_trigger: information_schema leaves out TRUNCATE triggers.
      const triggers = rowsOf(
        await handle.db.execute(
          sql`SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND NOT t.tgisinternal ORDER BY t.tgname`,
        ),
      ).map((r) => r.tgname);
      expect(triggers).toEqual([
        "audit_log_append_only",
        "audit_log_no_truncate",
        "dataset_versions_immutable",
        "dataset_versions_no_truncate",
        "datasets_immutable",
        "datasets_no_truncate",
        "hub_pushes_append_only",
        "hub_pushes_no_truncate",
        "publications_append_only",
        "publications_no_truncate",
        "rejected_records_immutable",
        "rejected_records_no_truncate",
        "review_decisions_append_only",
        "review_decisions_no_truncate",
        "sample_revisions_append_only",
        "sample_revisions_no_truncate",
        "samples_immutable",
        "samples_no_truncate",
        "shards_immutable",
        "shards_no_truncate",
      ]);
    } finally {
      await handle.close();
    }
  });
});

describe("embedded database directory", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "db-lock-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("persists data across opens and locks the directory while open", async () => {
    const dataDir = join(dir, "pg");
    const first = await openDatabase({ dataDir });
    await first.migrate();
    await first.db.execute(sql`INSERT INTO datasets (name, kind) VALUES ('kept', 'text')`);
    expect(() => lockDataDir(dataDir)).toThrow(DatabaseLockedError);
    await expect(openDatabase({ dataDir })).rejects.toThrow(/in use by process/);
    await first.close();

    const second = await openDatabase({ dataDir });
    const names = rowsOf(await second.db.execute(sql`SELECT name FROM datasets`)).map((r) => r.name);
    expect(names).toEqual(["kept"]);
    await second.close();
  });

  it("clears a lock left by a process that no longer exists", async () => {
    const dataDir = join(dir, "stale");
    await writeFile(`${dataDir}.lock`, "2147483646");
    const release = lockDataDir(dataDir);
    expect(JSON.parse(await readFile(`${dataDir}.lock`, "utf8"))).toEqual({
      pid: process.pid,
      startTime: processStartTime(process.pid) ?? null,
    });
    release();
    // A restarted container gets the same pid as the process that left the lock behind.
    await writeFile(`${dataDir}.lock`, String(process.pid));
    const again = lockDataDir(dataDir);
    expect(() => lockDataDir(dataDir)).toThrow(DatabaseLockedError);
    again();
  });

  it.skipIf(process.platform !== "linux")(
    "takes over a lock whose pid now names another live process, and not one whose holder still runs",
    async () => {
      const dataDir = join(dir, "reused");
      // A live process that is not us: its pid with another start time is what a reused pid looks like.
      const other = spawn("sleep", ["60"], { stdio: "ignore" });
      try {
        const pid = other.pid as number;
        await expect.poll(() => processStartTime(pid)).toBeDefined();
        const started = processStartTime(pid) as string;
        await writeFile(`${dataDir}.lock`, JSON.stringify({ pid, startTime: String(Number(started) + 1) }));
        const release = lockDataDir(dataDir);
        expect(JSON.parse(await readFile(`${dataDir}.lock`, "utf8")).pid).toBe(process.pid);
        release();

        await writeFile(`${dataDir}.lock`, JSON.stringify({ pid, startTime: started }));
        expect(() => lockDataDir(dataDir)).toThrow(`is in use by process ${pid}`);
        // A lock written before start times were recorded still protects a live holder.
        await writeFile(`${dataDir}.lock`, String(pid));
        expect(() => lockDataDir(dataDir)).toThrow(`is in use by process ${pid}`);
      } finally {
        other.kill();
      }
    },
  );

  it("never prints a password from a database URL", () => {
    expect(redactUrl("postgres://user:secret@db:5432/x")).toBe("postgres://user:***@db:5432/x");
    expect(redactUrl("not a url")).not.toContain("not a url");
  });
});
