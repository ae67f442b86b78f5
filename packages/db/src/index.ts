/**
 * @module Database connections: PostgreSQL through `postgres` when a URL is given, otherwise PGlite
 * (Postgres compiled to WASM) in a local data directory. Same drizzle schema and migrations on both.
 */
import { mkdirSync } from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { migrationsFolder } from "@sovereign/migrations";
import { tables } from "@sovereign/schemas";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export type Schema = typeof tables;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

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
    };
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const client = await PGlite.create(options.dataDir);
  const db = drizzlePglite(client, { schema: tables });
  return {
    db: db as unknown as Database,
    kind: "pglite",
    location: options.dataDir ?? "memory",
    migrate: () => migratePglite(db, { migrationsFolder }),
    close: () => client.close(),
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
