/**
 * @module Curator configuration, parsed once from the environment with zod: a bad value fails at start
 * with the variable that is wrong.
 */
import { delimiter, resolve } from "node:path";
import { EndpointUrl, type TeacherEndpoints, TeacherEndpointsVariable } from "@sovereign/teacher";
import { z } from "zod";
import { teacherEndpoints } from "./teacher-config";

const bytes = z.coerce.number().int().positive();

export const ConfigSchema = z.object({
  /** PostgreSQL URL. Absent: embedded PGlite under `${CURATOR_DATA_DIR}/pg`. */
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine(
      (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
      "must be a postgres:// or postgresql:// URL",
    ),
  /** Root of local state: the PGlite database, the blob store and scratch space. */
  CURATOR_DATA_DIR: z.string().default("./.data"),
  /** Folder that "located" inputs (files already on the server) must live under. */
  CURATOR_IMPORT_DIR: z.string().default("./.data/imports"),
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  /** Base URL printed in links, when the server sits behind a proxy. */
  PUBLIC_URL: z.url().optional(),
  /** Largest accepted upload body. */
  CURATOR_MAX_UPLOAD_BYTES: bytes.default(512 * 1024 * 1024),
  /** Largest accepted body of every other request (JSON calls, the review page's forms). */
  CURATOR_MAX_BODY_BYTES: bytes.default(8 * 1024 * 1024),
  /** Longest JSONL line read (uploads, located files, pipeline sources); a longer one is a refused record. */
  CURATOR_MAX_LINE_BYTES: bytes.default(64 * 1024 * 1024),
  /** Shard limits for versions built by the service. */
  CURATOR_SHARD_MAX_ROWS: z.coerce.number().int().positive().default(50_000),
  CURATOR_SHARD_MAX_BYTES: bytes.default(64 * 1024 * 1024),
  /** Folder that relative source paths of pipelines are read from. */
  CURATOR_SOURCES_DIR: z.string().default("./data"),
  /**
   * More folders that runs queued over HTTP may read sources from, besides CURATOR_SOURCES_DIR and
   * CURATOR_IMPORT_DIR; separated by the path delimiter (`:`, or `;` on Windows).
   */
  CURATOR_SOURCE_ROOTS: z.string().default(""),
  /** Worker threads per pipeline run; 0 processes in the main thread. Default: one per core. */
  CURATOR_PIPELINE_WORKERS: z.coerce.number().int().min(0).optional(),
  /** How often a worker says a run is alive, and after how long without it another worker takes the run over. */
  CURATOR_RUN_HEARTBEAT_SECONDS: z.coerce.number().positive().default(5),
  CURATOR_RUN_STALE_SECONDS: z.coerce.number().positive().default(30),
  /** The teacher endpoint `teacher`, which steps naming no endpoint ask (OpenAI-compatible API root, model, key). */
  TEACHER_BASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .pipe(EndpointUrl.optional()),
  TEACHER_MODEL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined)),
  /** Further teacher endpoints by name: JSON, or the path of a JSON file (`TeacherEndpointsFile`). */
  CURATOR_TEACHER_ENDPOINTS: TeacherEndpointsVariable,
  /**
   * `on`: every route but /health and the API reference needs an API token of a role it allows (create the
   * first with `curator token create --role admin`); `off`: no tokens asked for, for a local demo only.
   */
  CURATOR_AUTH: z.enum(["on", "off"]).default("on"),
  /** How long a sign-in to the review page lasts. */
  CURATOR_SESSION_HOURS: z.coerce.number().positive().default(12),
  /** Publishing from a review queue: the least share of reviewed samples kept, and whether every item needs its decisions. */
  CURATOR_PUBLISH_MIN_ACCEPTANCE: z.coerce.number().min(0).max(1).default(0.8),
  CURATOR_PUBLISH_REQUIRE_FINISHED: z.enum(["true", "false"]).default("true"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type CuratorConfig = {
  databaseUrl: string | undefined;
  dataDir: string;
  pgDir: string;
  blobDir: string;
  scratchDir: string;
  importDir: string;
  host: string;
  port: number;
  publicUrl: string | undefined;
  maxUploadBytes: number;
  maxBodyBytes: number;
  maxLineBytes: number;
  sourcesDir: string;
  /** CURATOR_SOURCE_ROOTS: where runs queued over HTTP may read, with `sourcesDir` and `importDir`. */
  sourceRoots: string[];
  pipelineWorkers: number | undefined;
  heartbeatSeconds: number;
  staleSeconds: number;
  shardLimits: { maxRows: number; maxBytes: number };
  /** The teacher endpoints pipeline steps name; their URLs and keys come from here only. */
  teachers: TeacherEndpoints;
  /** Whether API tokens are asked for (CURATOR_AUTH). */
  auth: boolean;
  /** How long a review-page session lasts (CURATOR_SESSION_HOURS). */
  sessionHours: number;
  publish: { minAcceptance: number; requireFinished: boolean };
  logLevel: z.infer<typeof ConfigSchema>["LOG_LEVEL"];
};

export class ConfigError extends Error {}

export function loadConfig(env: Record<string, string | undefined> = process.env): CuratorConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new ConfigError(`invalid configuration:\n${lines}`);
  }
  const e = parsed.data;
  const { teachers, problems } = teacherEndpoints(e, env);
  if (problems.length)
    throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const dataDir = resolve(e.CURATOR_DATA_DIR);
  return {
    databaseUrl: e.DATABASE_URL,
    dataDir,
    pgDir: resolve(dataDir, "pg"),
    blobDir: resolve(dataDir, "blobs"),
    scratchDir: resolve(dataDir, "tmp"),
    importDir: resolve(e.CURATOR_IMPORT_DIR),
    host: e.HOST,
    port: e.PORT,
    publicUrl: e.PUBLIC_URL,
    maxUploadBytes: e.CURATOR_MAX_UPLOAD_BYTES,
    maxBodyBytes: e.CURATOR_MAX_BODY_BYTES,
    maxLineBytes: e.CURATOR_MAX_LINE_BYTES,
    sourcesDir: resolve(e.CURATOR_SOURCES_DIR),
    sourceRoots: e.CURATOR_SOURCE_ROOTS.split(delimiter)
      .filter((root) => root.trim() !== "")
      .map((root) => resolve(root)),
    pipelineWorkers: e.CURATOR_PIPELINE_WORKERS,
    heartbeatSeconds: e.CURATOR_RUN_HEARTBEAT_SECONDS,
    staleSeconds: e.CURATOR_RUN_STALE_SECONDS,
    shardLimits: { maxRows: e.CURATOR_SHARD_MAX_ROWS, maxBytes: e.CURATOR_SHARD_MAX_BYTES },
    teachers,
    auth: e.CURATOR_AUTH === "on",
    sessionHours: e.CURATOR_SESSION_HOURS,
    publish: {
      minAcceptance: e.CURATOR_PUBLISH_MIN_ACCEPTANCE,
      requireFinished: e.CURATOR_PUBLISH_REQUIRE_FINISHED === "true",
    },
    logLevel: e.LOG_LEVEL,
  };
}
