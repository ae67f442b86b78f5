/**
 * @module Trainer configuration, parsed once from the environment with zod: a bad value fails at start with
 * the variable that is wrong. The trainer reads the curator's registry (the same database) and blob store.
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { endpointsWithKeys, TeacherEndpoints, TeacherEndpointsVariable } from "@sovereign/teacher";
import { z } from "zod";

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => (v ? v : undefined));

export const ConfigSchema = z.object({
  /**
   * PostgreSQL URL, shared with the curator unless `TRAINER_CURATOR_URL` is set. Absent: embedded PGlite, the
   * curator's under `${CURATOR_DATA_DIR}/pg`, or with `TRAINER_CURATOR_URL` the trainer's own under `${TRAINER_DATA_DIR}/pg`.
   */
  DATABASE_URL: optionalText.refine(
    (v) => v === undefined || /^postgres(ql)?:\/\//.test(v),
    "must be a postgres:// or postgresql:// URL",
  ),
  /** The curator's data folder: its PGlite database and the blob store holding the shards. */
  CURATOR_DATA_DIR: z.string().default("./.data"),
  /**
   * Read dataset versions from a curator over HTTP (`/v1/versions/{hash}` and its files) instead of its database
   * and blob store; shards are copied into the trainer's own blob store under `TRAINER_DATA_DIR/blobs`.
   */
  TRAINER_CURATOR_URL: optionalText.pipe(z.url().optional()),
  /** The API token (role `trainer`) sent to that curator. */
  TRAINER_CURATOR_TOKEN: optionalText,
  /** The trainer's own state: tokenized-document caches, engine logs, checkpoints. */
  TRAINER_DATA_DIR: z.string().default("./.data/trainer"),
  HOST: z.string().default("127.0.0.1"),
  TRAINER_PORT: z.coerce.number().int().min(0).max(65535).default(8788),
  /** The URL engine ranks reach this service at; default `http://HOST:PORT`. */
  TRAINER_ENGINE_URL: z.url().optional(),
  /** Python with the engine's requirements; default the engine's own environment (`engine/.venv`), else `python3`. */
  ENGINE_PYTHON: optionalText,
  /** Start ranks with `torchrun --nproc-per-node N` instead of one Python process. */
  ENGINE_PROCS: z.coerce.number().int().positive().default(1),
  /** Training runs at once. */
  TRAINER_CONCURRENT_RUNS: z.coerce.number().int().positive().default(1),
  /**
   * Seconds a stopped run's engine has to stop on its own (the service answers its next step's metrics with
   * `stop`: it finishes the step, checkpoints and exits) before it gets SIGTERM, and SIGKILL 30 s after that.
   */
  TRAINER_STOP_GRACE_SECONDS: z.coerce.number().nonnegative().default(600),
  /** The Hugging Face Hub `trainer export --push` sends to (huggingface.co unless set), and a write token. */
  HF_ENDPOINT: optionalText.pipe(z.url().optional()),
  HF_TOKEN: optionalText,
  /** Engine output lines kept on a failed run. */
  TRAINER_LOG_TAIL_LINES: z.coerce.number().int().positive().default(40),
  /** The LLM judge of prompts with `reward_model.style: "model"`: an OpenAI-compatible API root and model. */
  TRAINER_JUDGE_BASE_URL: optionalText.pipe(z.url().optional()),
  TRAINER_JUDGE_MODEL: optionalText,
  /**
   * Teacher endpoints OPD specs may name (`"teacher": {"endpoint": "<name>"}`), as JSON or the path of a JSON file:
   * `{name: {baseUrl, model?, apiKeyEnv?}}`, each key read from the variable its `apiKeyEnv` names.
   */
  TRAINER_TEACHER_ENDPOINTS: TeacherEndpointsVariable,
  /**
   * `on`: the runs API needs an API token of a role its rule allows (policy.ts; tokens are those of the database
   * the trainer opens, made with `trainer token create` or, on a shared database, `curator token create`);
   * `off`: no tokens asked for, for a local machine only. The engine protocol always checks its engine token.
   */
  TRAINER_AUTH: z.enum(["on", "off"]).default("on"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export type TrainerConfig = {
  databaseUrl: string | undefined;
  /** Set: versions come from this curator over HTTP. */
  curatorUrl: string | undefined;
  curatorToken: string | undefined;
  pgDir: string;
  blobDir: string;
  dataDir: string;
  cacheDir: string;
  runsDir: string;
  host: string;
  port: number;
  engineUrl: string | undefined;
  engine: { python: string; procs: number; dir: string };
  concurrentRuns: number;
  /** How a run's engine is stopped: asked through the protocol, SIGTERM after `graceMs`, SIGKILL `killMs` later. */
  stop: { graceMs: number; killMs: number };
  logTailLines: number;
  /** Judge replies are cached under `cacheDir/judge`; the key comes from `TEACHER_API_KEY` or `OPENAI_API_KEY`. */
  judge: { baseUrl: string; model: string } | undefined;
  /** Where `trainer export --push` sends models: `HF_ENDPOINT` (unset: huggingface.co) and `HF_TOKEN`. */
  hub: { endpoint: string | undefined; token: string | undefined };
  /** The teacher endpoints specs name; their URLs and keys come from here only. */
  teachers: TeacherEndpoints;
  /** The variables holding those keys: an engine gets its run's key as SOVEREIGN_TEACHER_API_KEY, never these. */
  teacherKeyVariables: string[];
  /** Whether API tokens are asked for (TRAINER_AUTH). */
  auth: boolean;
  logLevel: z.infer<typeof ConfigSchema>["LOG_LEVEL"];
};

export class ConfigError extends Error {}

/** The engine's folder: `python -m sovereign_engine` runs from here. */
export const ENGINE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../engine");

/**
 * The engine's interpreter unless `ENGINE_PYTHON` names one: the virtual environment `npm test` makes from the
 * engine's pinned requirements (`engine/venv.mjs`) when it exists, else `python3` from the PATH.
 */
export function defaultEnginePython(): string {
  const venv = resolve(ENGINE_DIR, ".venv/bin/python");
  return existsSync(venv) ? venv : "python3";
}

export function loadConfig(env: Record<string, string | undefined> = process.env): TrainerConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (
    parsed.success &&
    Boolean(parsed.data.TRAINER_JUDGE_BASE_URL) !== Boolean(parsed.data.TRAINER_JUDGE_MODEL)
  )
    throw new ConfigError(
      "invalid configuration:\n  TRAINER_JUDGE_BASE_URL and TRAINER_JUDGE_MODEL go together",
    );
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new ConfigError(`invalid configuration:\n${lines}`);
  }
  const e = parsed.data;
  const { endpoints, problems } = endpointsWithKeys(
    "TRAINER_TEACHER_ENDPOINTS",
    e.TRAINER_TEACHER_ENDPOINTS,
    env,
  );
  if (problems.length)
    throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  const curatorDir = resolve(e.CURATOR_DATA_DIR);
  const dataDir = resolve(e.TRAINER_DATA_DIR);
  return {
    databaseUrl: e.DATABASE_URL,
    curatorUrl: e.TRAINER_CURATOR_URL?.replace(/\/+$/, ""),
    curatorToken: e.TRAINER_CURATOR_TOKEN,
    pgDir: resolve(e.TRAINER_CURATOR_URL ? dataDir : curatorDir, "pg"),
    blobDir: resolve(e.TRAINER_CURATOR_URL ? dataDir : curatorDir, "blobs"),
    dataDir,
    cacheDir: resolve(dataDir, "cache"),
    runsDir: resolve(dataDir, "runs"),
    host: e.HOST,
    port: e.TRAINER_PORT,
    engineUrl: e.TRAINER_ENGINE_URL,
    engine: {
      python: e.ENGINE_PYTHON ?? defaultEnginePython(),
      procs: e.ENGINE_PROCS,
      dir: ENGINE_DIR,
    },
    concurrentRuns: e.TRAINER_CONCURRENT_RUNS,
    // 30 s after SIGTERM, as torch's launcher gives its ranks after it gets SIGTERM.
    stop: { graceMs: e.TRAINER_STOP_GRACE_SECONDS * 1000, killMs: 30_000 },
    logTailLines: e.TRAINER_LOG_TAIL_LINES,
    judge:
      e.TRAINER_JUDGE_BASE_URL && e.TRAINER_JUDGE_MODEL
        ? { baseUrl: e.TRAINER_JUDGE_BASE_URL, model: e.TRAINER_JUDGE_MODEL }
        : undefined,
    hub: { endpoint: e.HF_ENDPOINT, token: e.HF_TOKEN },
    teachers: new TeacherEndpoints(endpoints),
    teacherKeyVariables: Object.values(e.TRAINER_TEACHER_ENDPOINTS ?? {}).flatMap((endpoint) =>
      endpoint.apiKeyEnv ? [endpoint.apiKeyEnv] : [],
    ),
    auth: e.TRAINER_AUTH === "on",
    logLevel: e.LOG_LEVEL,
  };
}
