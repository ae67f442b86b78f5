/**
 * @module Database connections: PostgreSQL through `postgres` when a URL is given, otherwise PGlite
 * (Postgres compiled to WASM) in a local data directory. Same drizzle schema and migrations on both.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { migrationsFolder } from "@sovereign/migrations";
import { tables } from "@sovereign/schemas";
import { isRunning, type ProcessOwner, thisProcess } from "@sovereign/shards/owner";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export type Schema = typeof tables;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

/** The rows of a raw `db.execute`: postgres-js answers with the rows array itself, PGlite with `{ rows }`. */
export function rowsOf<T = Record<string, unknown>>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows?: T[] }).rows ?? []);
}

export type DatabaseOptions = {
  /** PostgreSQL URL; when absent, PGlite is used. */
  url?: string;
  maxConnections?: number;
  /** PGlite data directory; absent keeps the embedded database in memory (tests). */
  dataDir?: string;
};

export type DatabaseHandle = {
  db: Database;
  kind: "postgres" | "pglite";
  /** Where it lives, without credentials: for logs and the health endpoint. */
  location: string;
  migrate(): Promise<void>;
  close(): Promise<void>;
  /**
   * Raw SQL for libraries that bring their own queries: parameters as `$1…`; without parameters the text may
   * hold several statements (on PostgreSQL, not an explicit transaction: the pool may split it). Rows of the
   * last statement.
   */
  executeSql(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: Record<string, unknown>[]; rowCount: number }>;
  /** The server URL, for libraries that open their own connections (PostgreSQL only). */
  url?: string;
};

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
    });
    const db = drizzlePostgres(client, { schema: tables });
    return {
      db: db as unknown as Database,
      kind: "postgres",
      location: redactUrl(options.url),
      migrate: () => migratePostgres(db, { migrationsFolder }),
      close: () => client.end({ timeout: 5 }),
      url: options.url,
      executeSql: async (text, values) => {
        const rows = values?.length
          ? await client.unsafe(text, values as never[])
          : await client.unsafe(text).simple();
        const list = Array.isArray(rows) ? rows : [];
        return { rows: list as unknown as Record<string, unknown>[], rowCount: rows.count ?? list.length };
      },
    };
  }
  const unlock = options.dataDir ? lockDataDir(options.dataDir) : () => {};
  let client: PGlite;
  try {
    if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
    client = await PGlite.create(options.dataDir);
  } catch (error) {
    unlock();
    throw error;
  }
  const db = drizzlePglite(client, { schema: tables });
  return {
    db: db as unknown as Database,
    kind: "pglite",
    location: options.dataDir ?? "memory",
    migrate: () => migratePglite(db, { migrationsFolder }),
    executeSql: async (text, values) => {
      // PGlite prepares parameterized queries, and a prepared statement holds one command: several go through exec.
      if (!values?.length) {
        const results = await client.exec(text);
        const last = results[results.length - 1];
        return {
          rows: (last?.rows ?? []) as Record<string, unknown>[],
          rowCount: last?.affectedRows ?? last?.rows.length ?? 0,
        };
      }
      const result = await client.query<Record<string, unknown>>(text, values);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    close: async () => {
      try {
        await client.close();
      } finally {
        unlock();
      }
    },
  };
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt it. A lock
 * file beside the directory turns that into a clear error naming the process that holds it. The lock records
 * the holder's pid and start time, so a lock left by a process that is gone is taken over even when its pid
 * now belongs to another live process (after a restart, say).
 */
export function lockDataDir(dataDir: string): () => void {
  const lockPath = `${resolve(dataDir)}.lock`;
  if (heldHere.has(lockPath)) throw new DatabaseLockedError(dataDir, process.pid);
  mkdirSync(dirname(lockPath), { recursive: true });
  const self = thisProcess();
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, JSON.stringify({ pid: self.pid, startTime: self.startTime ?? null }), {
        flag: "wx",
      });
      heldHere.add(lockPath);
      return () => {
        heldHere.delete(lockPath);
        rmSync(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = readLock(lockPath);
      // Our own pid in a lock we do not hold is a leftover from an earlier process (a restarted container).
      if (holder && holder.pid !== process.pid && isRunning(holder)) {
        throw new DatabaseLockedError(dataDir, holder.pid);
      }
      rmSync(lockPath, { force: true });
    }
  }
  throw new DatabaseLockedError(dataDir, 0);
}

/** The holder a lock file names: `{pid, startTime}`, or a bare pid as older versions wrote it. */
function readLock(lockPath: string): ProcessOwner | undefined {
  let text: string;
  try {
    text = readFileSync(lockPath, "utf8").trim();
  } catch {
    return undefined;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text) };
  try {
    const { pid, startTime } = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    if (typeof pid === "number" && Number.isInteger(pid) && pid > 0)
      return { pid, startTime: typeof startTime === "string" ? startTime : undefined };
  } catch {}
  return undefined;
}

/** Lock files this process holds. */
const heldHere = new Set<string>();

export class DatabaseLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database at ${dataDir} is in use by process ${pid || "(unknown)"}. ` +
        "Stop that process, talk to it over HTTP, or set DATABASE_URL to share a PostgreSQL server.",
    );
  }
}

/** The handle with every migration applied; closed when migrating fails, so no half-migrated handle stays open. */
export async function migrated(handle: DatabaseHandle): Promise<DatabaseHandle> {
  try {
    await handle.migrate();
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}
