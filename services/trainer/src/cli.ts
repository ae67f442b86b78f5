/**
 * @module The `trainer` command line: serve the API (and supervise engines), or run one training run here with
 * progress on stderr; list, show, cancel and resume runs.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { TokenUsageError, tokenCommand } from "@sovereign/access";
import { ServiceError } from "@sovereign/http";
import { TrainingRunSpec } from "@sovereign/schemas";
import { ConfigError, loadConfig, type TrainerConfig } from "./config";
import { EXPORT_DTYPES, type ExportDtype } from "./export";
import type { RunSummary } from "./runs";
import { openTrainer, type Trainer } from "./runtime";
import { closeOnSignals, startServer } from "./server";

const USAGE = `trainer — training runs pinned to dataset version hashes

Usage:
  trainer serve                 start the HTTP API and supervise engines (TRAINER_PORT, default 8788)
  trainer run <spec.json>       queue a run and train it here, with progress; Ctrl-C stops it (resume later)
  trainer runs [--status S]     recent runs
  trainer show <run>            a run's status, progress, checkpoints and last metrics
  trainer cancel <run>          stop a run (it keeps its checkpoints)
  trainer resume <run>          queue a cancelled or failed run again; it continues from its last checkpoint
  trainer export <run> [step] <dir> [--dtype bfloat16|float32]
                [--push owner/name [--create] [--private] [--branch B]]
                                a checkpoint (default the last) as a servable Hugging Face model, in a new or
                                empty folder: weights, config, generation config, tokenizer files; --push also
                                commits it to a Hub model repo (HF_ENDPOINT, HF_TOKEN)
  trainer token create --role admin|curator|reviewer|pipeline|trainer --name NAME
                                a new API token (printed once); trainer token list | revoke <id>

Environment: DATABASE_URL (shared with the curator) or CURATOR_DATA_DIR (its PGlite and blob store),
TRAINER_DATA_DIR, TRAINER_AUTH, ENGINE_PYTHON, ENGINE_PROCS, HF_ENDPOINT, HF_TOKEN, LOG_LEVEL (see README).`;

class UsageError extends Error {}

function runLine(run: RunSummary): string {
  const step = run.progress ? `${run.progress.step}/${run.progress.totalSteps}` : "-";
  return `${run.id}\t${run.stage}\t${run.status}\tstep ${step}\t${run.name ?? ""}`;
}

async function withTrainer<T>(config: TrainerConfig, work: (trainer: Trainer) => Promise<T>): Promise<T> {
  const trainer = await openTrainer(config);
  try {
    return await work(trainer);
  } finally {
    await trainer.close();
  }
}

async function runHere(args: string[], config: TrainerConfig): Promise<number> {
  const file = args[0];
  if (!file) throw new UsageError("run needs a spec file");
  let input: unknown;
  try {
    input = JSON.parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new UsageError(`cannot read ${file} as JSON: ${(error as Error).message}`);
  }
  const parsed = TrainingRunSpec.safeParse(input);
  if (!parsed.success)
    throw new UsageError(
      `invalid training spec ${file}:\n${parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n")}`,
    );
  const trainer = await openTrainer({ ...config, port: 0, host: "127.0.0.1", logLevel: "warn" });
  const { server } = await startServer(trainer);
  let interrupted = false;
  process.once("SIGINT", () => {
    interrupted = true;
    process.stderr.write(
      "\nstopping: the engine finishes its step and checkpoints; `trainer resume` goes on\n",
    );
  });
  try {
    const run = await trainer.runs.create(parsed.data);
    process.stdout.write(`run ${run.id} queued\n`);
    await trainer.supervisor.start(500);
    let lastLine = "";
    for (;;) {
      if (interrupted) await trainer.runs.cancel(run.id).catch(() => undefined);
      const current = await trainer.runs.row(run.id);
      const metrics = current.progress?.metrics ?? {};
      const shown = ["loss", "kl", "reward_mean", "lr", "tokens_per_s"]
        .filter((k) => k in metrics)
        .map((k) => `${k} ${Number(metrics[k]).toPrecision(4)}`)
        .join("  ");
      const line = `${current.status} step ${current.progress?.step ?? 0}/${current.progress?.totalSteps ?? "?"} ${shown}`;
      if (line !== lastLine) process.stderr.write(`${line}\n`);
      lastLine = line;
      if (["succeeded", "failed", "cancelled"].includes(current.status)) {
        if (current.error) process.stderr.write(`${current.error}\n`);
        return current.status === "succeeded" ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, 1_000));
    }
  } finally {
    // Engines first: a stopped engine still reports its last checkpoint to this server before it exits.
    await trainer.close();
    server.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  switch (command) {
    case "serve": {
      const trainer = await openTrainer(config);
      const { server, url } = await startServer(trainer);
      await trainer.supervisor.start();
      closeOnSignals(trainer, server);
      process.stdout.write(`trainer listening on ${url}\n`);
      if (!config.auth)
        process.stdout.write("access control is off (TRAINER_AUTH=off): no API token is asked for\n");
      else if (
        !(await trainer.access.listTokens()).some(
          (t) => !t.revokedAt && ["admin", "pipeline"].includes(t.role),
        )
      )
        process.stdout.write(
          "no admin or pipeline token yet: create one with `trainer token create --role pipeline --name <job>`\n",
        );
      return -1;
    }
    case "run":
      return runHere(rest, config);
    case "runs": {
      const { values } = parseArgs({ args: rest, options: { status: { type: "string" } } });
      return withTrainer(config, async (t) => {
        const status = values.status as RunSummary["status"] | undefined;
        for (const run of await t.runs.list(status ? { status } : {}))
          process.stdout.write(`${runLine(run)}\n`);
        return 0;
      });
    }
    case "show":
      return withTrainer(config, async (t) => {
        const run = await t.runs.get(one(rest, "show <run>"), 5);
        process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        return 0;
      });
    case "cancel":
      return withTrainer(config, async (t) => {
        process.stdout.write(`${runLine(await t.runs.cancel(one(rest, "cancel <run>")))}\n`);
        return 0;
      });
    case "resume":
      return withTrainer(config, async (t) => {
        process.stdout.write(`${runLine(await t.runs.resume(one(rest, "resume <run>")))}\n`);
        return 0;
      });
    case "export":
      return exportHere(rest, config);
    case "token":
      return withTrainer(config, (t) => tokenCommand("trainer", rest, t.access));
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function exportHere(args: string[], config: TrainerConfig): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      dtype: { type: "string" },
      push: { type: "string" },
      create: { type: "boolean" },
      private: { type: "boolean" },
      branch: { type: "string" },
    },
    allowPositionals: true,
  });
  const usage =
    "usage: trainer export <run> [step] <dir> [--dtype bfloat16|float32] [--push owner/name [--create] [--private] [--branch B]]";
  if (!values.push && (values.create || values.private || values.branch))
    throw new UsageError(`--create, --private and --branch go with --push\n${usage}`);
  if (positionals.length < 2 || positionals.length > 3) throw new UsageError(usage);
  const [run, ...rest] = positionals as [string, ...string[]];
  const dir = rest.at(-1) as string;
  const step = rest.length === 2 ? Number(rest[0]) : undefined;
  if (step !== undefined && !(Number.isInteger(step) && step > 0))
    throw new UsageError(`step: ${rest[0]} is not a step number\n${usage}`);
  const dtype = values.dtype;
  if (dtype !== undefined && !(EXPORT_DTYPES as readonly string[]).includes(dtype))
    throw new UsageError(`--dtype: ${dtype} is not one of ${EXPORT_DTYPES.join(", ")}`);
  return withTrainer({ ...config, logLevel: "warn" }, async (t) => {
    const { export: done, created } = await t.exporter.export(run, {
      out: dir,
      ...(step !== undefined ? { step } : {}),
      ...(dtype ? { dtype: dtype as ExportDtype } : {}),
    });
    if (created)
      await t.access.record(undefined, "training.export", {
        id: run,
        step: String(done.step),
        dir: done.dir,
      });
    for (const file of done.files) process.stdout.write(`${file.sha256}  ${file.bytes}\t${file.name}\n`);
    process.stdout.write(
      `step ${done.step} of run ${run} ${created ? "exported to" : "was exported before to"} ${done.dir}\n`,
    );
    if (values.push) {
      const pushed = await t.exporter.push(done.dir, {
        repo: values.push,
        ...(values.branch ? { branch: values.branch } : {}),
        ...(config.hub.endpoint ? { endpoint: config.hub.endpoint } : {}),
        ...(config.hub.token ? { token: config.hub.token } : {}),
        create: values.create ?? false,
        private: values.private ?? false,
      });
      const commit = pushed.export.hub?.commit ?? "";
      await t.access.record(undefined, "training.export.push", { id: run, repo: values.push, commit });
      process.stdout.write(`pushed to ${pushed.url} (${pushed.branch}): commit ${commit}\n`);
    }
    return 0;
  });
}

function one(args: string[], usage: string): string {
  const value = args[0];
  if (!value) throw new UsageError(`usage: trainer ${usage}`);
  return value;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    if (
      error instanceof UsageError ||
      error instanceof TokenUsageError ||
      error instanceof ConfigError ||
      error instanceof ServiceError
    ) {
      process.stderr.write(`trainer: ${error.message}\n`);
      process.exitCode = error instanceof UsageError || error instanceof TokenUsageError ? 2 : 1;
    } else {
      process.stderr.write(`trainer: ${(error as Error).stack ?? error}\n`);
      process.exitCode = 1;
    }
  },
);
