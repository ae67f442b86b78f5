/**
 * @module Exporting a run's checkpoint as a servable model. The engine's export entry point does the work:
 *
 *   <engine python> -m sovereign_engine.export --checkpoint <step dir> --out <dir> --dtype bfloat16|float32
 *     --tokenizer <folder> --stop-ids <end of turn>,<end of text>
 *
 * writes Hugging Face-format weights, config, generation config and tokenizer files into `<dir>`, and prints
 * `{"files": [{"name", "sha256", "bytes"}]}` as its last stdout line. It writes into a fresh folder beside the
 * destination, which takes the destination's name only once every file it listed is there with its size and
 * sha256 and nothing else is: a failed export leaves nothing half written. The export is recorded
 * (`training_exports`). Exports run one at a time: each holds a whole model in memory.
 *
 * Where it goes: over HTTP always `TRAINER_DATA_DIR/exports/<run>/step-<k>[-float32]` (a caller names no path
 * on the server), exported once and answered from the record after; from the command line a new or empty folder
 * of its user's choice, and from there, when asked, to a Hugging Face Hub model repo in one commit (`push`).
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createRepo, HubApiError, commit as hubCommit } from "@huggingface/hub";
import type { Database } from "@sovereign/db";
import { notFound, ServiceError } from "@sovereign/http";
import { type ModelRef, tables } from "@sovereign/schemas";
import { DEFAULT_HUB_URL } from "@sovereign/sources";
import { qwen3TokenizerDir } from "@sovereign/tokenizer";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { TrainerConfig } from "./config";
import { runStopIds } from "./run-tokenizer";
import type { TrainingRuns } from "./runs";

const { trainingExports } = tables;
export type ExportRow = typeof trainingExports.$inferSelect;

/** The weights' dtypes an export writes; bf16 unless asked, what servers run. */
export const EXPORT_DTYPES = ["bfloat16", "float32"] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export type ModelExport = {
  run: string;
  step: number;
  /** The folder on the trainer's machine that holds the model. */
  dir: string;
  dtype: ExportDtype;
  files: { name: string; sha256: string; bytes: number }[];
  /** The Hub model repo (`owner/name`) and commit it was last pushed to. */
  hub: { repo: string; commit: string } | null;
  createdAt: string;
};

export type HubPushOptions = {
  /** `owner/name` of the model repo. */
  repo: string;
  branch?: string;
  /** The Hub's base URL; huggingface.co unless set. */
  endpoint?: string;
  /** A token with write access (`hf_…`). */
  token?: string;
  /** Create the repo first when it does not exist (private with `private`). */
  create?: boolean;
  private?: boolean;
};

const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;

const ExportOutput = z.object({
  files: z
    .array(
      z.object({
        // A plain name, or a path below the folder: nothing absolute, nothing above it.
        name: z
          .string()
          .min(1)
          .refine((n) => !n.startsWith("/") && !n.split(/[\\/]/).some((p) => p === ".." || p === ""), {
            message: "must be a relative path inside the export folder",
          }),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        bytes: z.number().int().nonnegative(),
      }),
    )
    .min(1),
});

export function exportSummary(row: ExportRow): ModelExport {
  return {
    run: row.runId,
    step: row.step,
    dir: row.dir,
    dtype: row.dtype as ExportDtype,
    files: row.files,
    hub: row.hubRepo && row.hubCommit ? { repo: row.hubRepo, commit: row.hubCommit } : null,
    createdAt: row.createdAt.toISOString(),
  };
}

/**
 * The tokenizer files a run's model is served with: its own folder's when its model is a folder that holds
 * them, else the Qwen3 files the data plane tokenized with (the tiny models use its vocabulary).
 */
export function tokenizerFolder(model: ModelRef): string {
  if ("path" in model) {
    const has = (name: string) => existsSync(join(model.path, name));
    if (has("tokenizer_config.json") && (has("tokenizer.json") || has("vocab.json"))) return model.path;
  }
  return qwen3TokenizerDir();
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Every file below `dir`, as paths relative to it with `/` separators. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) =>
      join(e.parentPath, e.name)
        .slice(dir.length + 1)
        .split("\\")
        .join("/"),
    )
    .sort();
}

export class Exporter {
  /** Exports run one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: { config: TrainerConfig; runs: TrainingRuns; db: Database }) {}

  /** Where an export over HTTP goes: the trainer's own folder, by run, step and dtype (bf16 unnamed). */
  exportDir(runId: string, step: number, dtype: ExportDtype): string {
    return join(
      this.options.config.dataDir,
      "exports",
      runId,
      `step-${step}${dtype === "bfloat16" ? "" : `-${dtype}`}`,
    );
  }

  /**
   * Export checkpoint `step` (default: the run's last) of a run in `dtype` (default bf16) into `out` (default:
   * the trainer's export folder). An export already made to that folder is answered from its record (`created`
   * false).
   */
  async export(
    runId: string,
    options: { step?: number; dtype?: ExportDtype; out?: string } = {},
  ): Promise<{ export: ModelExport; created: boolean }> {
    const run = await this.options.runs.row(runId);
    const checkpoints = await this.options.runs.checkpoints(runId);
    const checkpoint =
      options.step === undefined ? checkpoints.at(-1) : checkpoints.find((c) => c.step === options.step);
    if (!checkpoint)
      throw options.step === undefined || !checkpoints.length
        ? new ServiceError("CONFLICT", `training run ${runId} has no checkpoint to export yet`)
        : notFound(
            `checkpoint step ${options.step} of training run ${runId} (it has steps ${checkpoints.map((c) => c.step).join(", ")})`,
          );
    const dtype = options.dtype ?? "bfloat16";
    const owned = options.out === undefined;
    const out = resolve(options.out ?? this.exportDir(runId, checkpoint.step, dtype));
    const work = this.queue.then(async () => {
      if (owned) {
        const [done] = await this.options.db
          .select()
          .from(trainingExports)
          .where(and(eq(trainingExports.runId, runId), eq(trainingExports.dir, out)));
        if (done && existsSync(out)) return { export: exportSummary(done), created: false };
        // Ours, under the trainer's folder, and not recorded: what an interrupted export left.
        await rm(out, { recursive: true, force: true });
      } else if (existsSync(out) && (await readdir(out)).length > 0) {
        const [done] = await this.options.db
          .select()
          .from(trainingExports)
          .where(eq(trainingExports.dir, out));
        // The same export asked for again (to push it, say): answered from its record.
        if (done?.runId === runId && done.step === checkpoint.step && done.dtype === dtype)
          return { export: exportSummary(done), created: false };
        throw new ServiceError("CONFLICT", `${out} is not empty: export into a new or empty folder`);
      }
      if (!existsSync(checkpoint.path))
        throw new ServiceError(
          "CONFLICT",
          `checkpoint step ${checkpoint.step} of training run ${runId} is no longer at ${checkpoint.path}`,
        );
      const stopIds = await runStopIds(run.spec.model);
      const files = await this.runEngine(
        checkpoint.path,
        out,
        tokenizerFolder(run.spec.model),
        dtype,
        stopIds,
      );
      const [row] = await this.options.db
        .insert(trainingExports)
        .values({ runId, step: checkpoint.step, dir: out, dtype, files })
        .onConflictDoUpdate({
          target: trainingExports.dir,
          set: {
            runId,
            step: checkpoint.step,
            dtype,
            files,
            hubRepo: null,
            hubCommit: null,
            createdAt: new Date(),
          },
        })
        .returning();
      if (!row) throw new Error("the export was not recorded");
      return { export: exportSummary(row), created: true };
    });
    this.queue = work.catch(() => undefined);
    return work;
  }

  /**
   * Pushes the export recorded at `dir` to a Hub model repo in one commit, every file re-hashed against the
   * record first (a changed folder is not sent); the repo and commit are recorded on the export.
   */
  async push(
    dir: string,
    options: HubPushOptions,
  ): Promise<{ url: string; branch: string; export: ModelExport }> {
    const endpoint = (options.endpoint || DEFAULT_HUB_URL).replace(/\/+$/, "");
    const branch = options.branch ?? "main";
    const { repo, token } = options;
    if (!REPO_NAME.test(repo))
      throw new ServiceError("BAD_REQUEST", `repo: ${JSON.stringify(repo)} is not an owner/name Hub repo id`);
    if (!token?.startsWith("hf_"))
      throw new ServiceError(
        "BAD_REQUEST",
        "no Hugging Face token: set HF_TOKEN to a token (hf_…) with write access to the repo",
      );
    const [row] = await this.options.db
      .select()
      .from(trainingExports)
      .where(eq(trainingExports.dir, resolve(dir)));
    if (!row) throw notFound(`an export recorded at ${dir}`);
    await checkFiles(row.dir, row.files);
    const hub = { hubUrl: endpoint, accessToken: token };
    const target = { type: "model" as const, name: repo };
    let oid: string | undefined;
    try {
      if (options.create) {
        try {
          await createRepo({ ...hub, repo: target, private: options.private ?? false });
        } catch (error) {
          if (!(error instanceof HubApiError && error.statusCode === 409)) throw error;
        }
      }
      const output = await hubCommit({
        ...hub,
        repo: target,
        branch,
        title: `Step ${row.step} of training run ${row.runId}`,
        // Streamed from disk: weights can be far larger than memory allows.
        operations: row.files.map((f) => ({
          operation: "addOrUpdate" as const,
          path: f.name,
          content: pathToFileURL(join(row.dir, f.name)),
        })),
      });
      oid = output?.commit.oid;
    } catch (error) {
      throw hubError(error, `model repo ${repo} on ${endpoint}`, branch);
    }
    if (!oid)
      throw new ServiceError(
        "UPSTREAM_ERROR",
        `${endpoint} answered the commit to ${repo} without a commit id`,
      );
    const [updated] = await this.options.db
      .update(trainingExports)
      .set({ hubRepo: repo, hubCommit: oid })
      .where(eq(trainingExports.id, row.id))
      .returning();
    return { url: `${endpoint}/${repo}`, branch, export: exportSummary(updated ?? row) };
  }

  /** Runs the engine's export into a fresh folder beside `out`, checks what it wrote, and moves it into place. */
  private async runEngine(
    checkpoint: string,
    out: string,
    tokenizer: string,
    dtype: ExportDtype,
    stopIds: readonly number[],
  ): Promise<ModelExport["files"]> {
    const { python, dir } = this.options.config.engine;
    await mkdir(dirname(out), { recursive: true });
    const partial = join(dirname(out), `.${basename(out)}.partial-${randomBytes(6).toString("hex")}`);
    const args = [
      "-m",
      "sovereign_engine.export",
      "--checkpoint",
      checkpoint,
      "--out",
      partial,
      "--dtype",
      dtype,
      "--tokenizer",
      tokenizer,
      "--stop-ids",
      stopIds.join(","),
    ];
    try {
      const { code, signal, stdout, stderr, error } = await new Promise<{
        code: number | null;
        signal: NodeJS.Signals | null;
        stdout: string;
        stderr: string;
        error?: Error;
      }>((done) => {
        const child = spawn(python, args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        // The last line is the one read; what came before is progress.
        child.stdout.on("data", (chunk: Buffer) => {
          stdout = (stdout + chunk.toString("utf8")).slice(-(1 << 20));
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
        });
        child.once("error", (e) => done({ code: null, signal: null, stdout, stderr, error: e }));
        child.once("close", (c, s) => done({ code: c, signal: s, stdout, stderr }));
      });
      const tail = stderr.trim().split("\n").slice(-5).join("\n");
      if (error)
        throw new ServiceError("INTERNAL", `the export could not start (${python}): ${error.message}`);
      if (code !== 0)
        throw new ServiceError(
          "INTERNAL",
          `the export failed (${signal ? `killed by ${signal}` : `status ${code}`})${tail ? `:\n${tail}` : ""}`,
        );
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let parsed: z.infer<typeof ExportOutput>;
      try {
        parsed = ExportOutput.parse(JSON.parse(last));
      } catch (e) {
        throw new ServiceError(
          "INTERNAL",
          `the export's last line is not {"files": [{"name", "sha256", "bytes"}]}: ${(e as Error).message.slice(0, 500)}`,
        );
      }
      await checkFiles(partial, parsed.files);
      // An empty folder the user named makes way; a non-empty one was refused before.
      if (existsSync(out)) await rmdir(out);
      await rename(partial, out);
      return parsed.files;
    } finally {
      await rm(partial, { recursive: true, force: true });
    }
  }
}

/** The folder holds exactly the listed files, each with its size and sha256. */
async function checkFiles(dir: string, files: ModelExport["files"]): Promise<void> {
  const listed = files.map((f) => f.name).sort();
  const present = existsSync(dir) ? await filesBelow(dir) : [];
  const missing = listed.filter((n) => !present.includes(n));
  const extra = present.filter((n) => !listed.includes(n));
  if (missing.length || extra.length)
    throw new ServiceError(
      "INTERNAL",
      `the export's files disagree with its list:${missing.length ? ` missing ${missing.join(", ")};` : ""}${extra.length ? ` not listed ${extra.join(", ")}` : ""}`,
    );
  for (const file of files) {
    const path = join(dir, file.name);
    const size = (await stat(path)).size;
    if (size !== file.bytes)
      throw new ServiceError(
        "INTERNAL",
        `the export's ${file.name} holds ${size} bytes, not the ${file.bytes} listed`,
      );
    const sha256 = await sha256File(path);
    if (sha256 !== file.sha256)
      throw new ServiceError(
        "INTERNAL",
        `the export's ${file.name} hashes to ${sha256}, not the ${file.sha256} listed`,
      );
  }
}

/** A Hub failure as an error that says what to do about it. */
function hubError(error: unknown, where: string, branch: string): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof HubApiError) {
    const said = error.message ? `: ${error.message}` : "";
    if (error.statusCode === 401 || error.statusCode === 403)
      return new ServiceError(
        "UPSTREAM_ERROR",
        `the Hub refused HF_TOKEN for ${where} (${error.statusCode}${said}); it needs write access to the repo`,
      );
    if (error.statusCode === 404)
      return new ServiceError(
        "UPSTREAM_ERROR",
        `${where} or its branch ${branch} was not found (404${said}); create the repo, or push with --create`,
      );
    return new ServiceError(
      "UPSTREAM_ERROR",
      `the Hub failed the push to ${where} (${error.statusCode}${said})`,
    );
  }
  return new ServiceError(
    "UPSTREAM_ERROR",
    `the push to ${where} failed: ${(error as Error).message ?? String(error)}`,
  );
}
