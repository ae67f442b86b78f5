/**
 * @module The engine supervisor: takes queued training runs, re-verifies their pinned shards, opens their data,
 * launches the engine (`python -m sovereign_engine`, or torch's launcher for several processes), keeps its
 * output in a log file and its last lines in memory, stops it on cancel, and records how the run ended: a
 * crashed engine fails its run with the last lines it printed.
 *
 * Stopping a run is asked, not forced: the answer to rank 0's next metrics says `stop`, and the ranks agree to
 * finish that step, checkpoint and exit (docs/engine-protocol.md). Only an engine still running after the grace
 * period (`TRAINER_STOP_GRACE_SECONDS`) gets SIGTERM, and SIGKILL 30 s later, sent to every process it started.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readdirSync, readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "@sovereign/shards";
import type { Logger } from "pino";
import type { TrainerConfig } from "./config";
import type { DataPlane } from "./data-plane";
import type { TrainingRunRow, TrainingRuns } from "./runs";
import {
  fetchVersionFiles,
  pinnedToolCorpus,
  pinnedVersions,
  type VersionSource,
  verifyPinned,
} from "./versions";

/** What the engine said of itself through `POST /status`. */
export type EngineReport = { state: "running" | "succeeded" | "failed"; message?: string };

type Active = {
  child?: ChildProcess;
  report?: EngineReport;
  /** Asked to stop: cancelled by a user, or the service stopping. The engine learns it from its metrics' answer. */
  cancelled: boolean;
  /** Stopped with the service, not by a user: queued again, to resume from its last checkpoint. */
  requeue?: boolean;
  /** SIGTERM, then SIGKILL, if the engine does not stop on its own. */
  escalation?: NodeJS.Timeout;
  /** A line of the supervisor's own in the engine's log (and its tail), while the log is open. */
  note?: (line: string) => void;
  tail: string[];
};

/** Where an engine finds the key of its run's teacher endpoint (docs/engine-protocol.md). */
export const TEACHER_API_KEY_ENV = "SOVEREIGN_TEACHER_API_KEY";

/**
 * An engine's environment: the service's own, with the run's engine token and the key of the run's teacher
 * endpoint (when it has one) as SOVEREIGN_TEACHER_API_KEY, and without the variables holding teacher endpoints'
 * keys, so a run's engine holds no key but its own teacher's.
 */
export function engineEnvironment(
  base: NodeJS.ProcessEnv,
  token: string,
  teacherKey: string | null,
  keyVariables: string[],
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, SOVEREIGN_ENGINE_TOKEN: token, PYTHONUNBUFFERED: "1" };
  for (const name of [...keyVariables, TEACHER_API_KEY_ENV]) delete env[name];
  if (teacherKey) env[TEACHER_API_KEY_ENV] = teacherKey;
  return env;
}

export class Supervisor {
  private readonly active = new Map<string, Active>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private stopped = false;
  /** Where engines reach this service; set once the server listens. */
  engineUrl: string | undefined;

  constructor(
    private readonly options: {
      config: TrainerConfig;
      versions: VersionSource;
      runs: TrainingRuns;
      store: BlobStore;
      data: DataPlane;
      logger: Logger;
    },
  ) {}

  /** Recover what a previous process left running, then poll for queued runs every `intervalMs` (and at once). */
  async start(intervalMs = 1_000): Promise<void> {
    if (this.timer) return;
    this.stopped = false;
    await this.options.runs.recoverOrphans();
    this.timer = setInterval(() => void this.poll(), intervalMs);
    void this.poll();
  }

  /** Take queued runs while there is room; resolves once each taken run's engine has started or failed. */
  async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      await this.watchCancels();
      while (this.active.size < this.options.config.concurrentRuns) {
        const claimed = await this.options.runs.claimNext();
        if (!claimed) break;
        const state: Active = { cancelled: false, tail: [] };
        this.active.set(claimed.row.id, state);
        void this.execute(claimed.row, claimed.token, state).finally(() =>
          this.active.delete(claimed.row.id),
        );
      }
    } catch (error) {
      this.options.logger.error({ err: error }, "supervisor poll failed");
    } finally {
      this.polling = false;
    }
  }

  /** Runs cancelled while their engine runs are asked to stop. */
  private async watchCancels(): Promise<void> {
    for (const [id, state] of this.active) {
      if (state.cancelled) continue;
      const row = await this.options.runs.row(id);
      if (row.status !== "cancelling") continue;
      state.cancelled = true;
      this.stopEngine(state, "the run was cancelled");
    }
  }

  /**
   * The engine stops itself at its next step boundary (`stopRequested` answers its metrics); one still running
   * after the grace period gets SIGTERM, and SIGKILL `killMs` later.
   */
  private stopEngine(state: Active, why: string): void {
    const child = state.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null || state.escalation) return;
    const root = child.pid;
    const { graceMs, killMs } = this.options.config.stop;
    state.note?.(`${why}: the engine stops after its current step, or gets SIGTERM in ${graceMs / 1000} s`);
    state.escalation = setTimeout(() => {
      // Remembered: ranks the launcher leaves behind when it dies are no longer below it at SIGKILL time.
      const term = engineProcesses(root);
      state.note?.(`the engine did not stop within ${graceMs / 1000} s: SIGTERM to its processes`);
      signalAll(root, term, "SIGTERM");
      state.escalation = setTimeout(() => {
        state.note?.(`the engine did not stop within ${killMs / 1000} s of SIGTERM: SIGKILL`);
        signalAll(root, [...new Set([...term, ...engineProcesses(root)])], "SIGKILL");
      }, killMs);
      state.escalation.unref();
    }, graceMs);
    state.escalation.unref();
  }

  /** Whether a run's engine is to stop at its step boundary: the answer to its metrics. */
  stopRequested(runId: string): boolean {
    return this.active.get(runId)?.cancelled ?? false;
  }

  /** What an engine reported of itself; `failed` messages become the run's error. */
  report(runId: string, report: EngineReport): void {
    const state = this.active.get(runId);
    if (state) state.report = report;
  }

  isActive(runId: string): boolean {
    return this.active.has(runId);
  }

  private async execute(row: TrainingRunRow, token: string, state: Active): Promise<void> {
    const { config, runs, data, logger } = this.options;
    const log = logger.child({ run: row.id });
    const runDir = join(config.runsDir, row.id);
    const logPath = join(runDir, `engine-${row.attempts}.log`);
    let teacherKey: string | null = null;
    try {
      await mkdir(runDir, { recursive: true });
      await runs.setLogPath(row.id, logPath);
      // The endpoint may have left the configuration since the run was queued.
      teacherKey = runs.servedTeacher(row.spec)?.apiKey ?? null;
      const versions = await pinnedVersions(this.options.versions, row.datasets);
      const toolCorpus = await pinnedToolCorpus(this.options.versions, row.spec);
      const all = toolCorpus ? [...versions, toolCorpus] : versions;
      await fetchVersionFiles(this.options.versions, this.options.store, all);
      await verifyPinned(this.options.store, all);
      await data.prepare(row.id, row.spec, versions, toolCorpus, row.tokenizer);
    } catch (error) {
      log.warn({ err: error }, "training run failed before its engine started");
      data.release(row.id);
      await runs.finish(row.id, "failed", { error: (error as Error).message });
      return;
    }
    if (!this.engineUrl) throw new Error("the supervisor has no engine URL: start the server first");
    const { python, procs, dir } = config.engine;
    const engineFlags = ["--server", this.engineUrl, "--run", row.id];
    const args =
      procs > 1
        ? [
            "-m",
            "torch.distributed.run",
            // A rendezvous on a free local port, so concurrent runs do not collide.
            "--standalone",
            "--nproc_per_node",
            String(procs),
            // Each rank's stderr (its log and any traceback) to a file of its own under the run's folder, and
            // teed to this log.
            "--log_dir",
            join(runDir, `ranks-${row.attempts}`),
            "--redirects",
            "2",
            "--tee",
            "2",
            "-m",
            "sovereign_engine",
            // The engine's flags after "--": torch 2.x's launcher would take --run for its own --run-path.
            "--",
            ...engineFlags,
          ]
        : ["-m", "sovereign_engine", ...engineFlags];
    // Cancelled, or the service stopping, while the run's data was being prepared: no engine to start.
    if (state.cancelled) {
      data.release(row.id);
      if (state.requeue) await runs.requeue(row.id, "");
      else await runs.finish(row.id, "cancelled", {});
      log.info("stopped before its engine started");
      return;
    }
    const out = createWriteStream(logPath, { flags: "a" });
    const keep = (chunk: Buffer) => {
      out.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) if (line.trim()) state.tail.push(line);
      if (state.tail.length > config.logTailLines)
        state.tail.splice(0, state.tail.length - config.logTailLines);
    };
    state.note = (line) => {
      keep(Buffer.from(`trainer: ${line}\n`));
      log.info(line);
    };
    const exit = await new Promise<{ code: number | null; signal: string | null; error?: Error }>(
      (resolve) => {
        const child = spawn(python, args, {
          cwd: dir,
          env: engineEnvironment(process.env, token, teacherKey, config.teacherKeyVariables),
          stdio: ["ignore", "pipe", "pipe"],
          // A process group of its own: the terminal's Ctrl-C reaches this service, which asks the engine to
          // stop, instead of interrupting the ranks mid-step.
          detached: true,
        });
        state.child = child;
        log.info({ pid: child.pid, python, args }, "engine started");
        child.stdout?.on("data", keep);
        child.stderr?.on("data", keep);
        child.once("error", (error) => resolve({ code: null, signal: null, error }));
        child.once("exit", (code, signal) => resolve({ code, signal }));
      },
    );
    clearTimeout(state.escalation);
    state.note = undefined;
    await new Promise<void>((resolve) => out.end(resolve));
    data.release(row.id);
    const logTail = state.tail.join("\n");
    if (exit.code === 0 && state.report?.state === "succeeded") {
      // Asked to stop after its last step: it had finished anyway.
      await runs.finish(row.id, "succeeded", { logTail });
    } else if (state.requeue) {
      await runs.requeue(row.id, logTail);
    } else if (state.cancelled) {
      await runs.finish(row.id, "cancelled", { logTail });
    } else {
      const how = exit.error
        ? `the engine could not start (${python}): ${exit.error.message}`
        : exit.signal
          ? `the engine was killed by ${exit.signal}`
          : exit.code === 0
            ? "the engine exited without reporting success"
            : `the engine exited with status ${exit.code}`;
      const reason =
        state.report?.state === "failed" && state.report.message ? `: ${state.report.message}` : "";
      const last = state.tail.slice(-5).join("\n");
      await runs.finish(row.id, "failed", {
        error: `${how}${reason}${last ? `\nlast output:\n${last}` : ""}`,
        logTail,
      });
    }
    log.info({ code: exit.code, signal: exit.signal }, "engine finished");
  }

  /**
   * Stop taking runs and stop every engine (asked first, signalled after the grace period); their runs are queued
   * again and resume from their last checkpoint.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const state of this.active.values()) {
      // A run cancelled by a user stays cancelled.
      if (!state.cancelled) state.requeue = true;
      state.cancelled = true;
      this.stopEngine(state, "the service is stopping");
    }
    while (this.active.size) await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The processes below `root` outside its process group (the engine's, which `root` leads). Torch's launcher
 * starts each rank in a session and process group of its own, so signalling the engine's group alone would not
 * reach the ranks. Linux: from /proc; elsewhere none are found, and only the group is signalled.
 */
function engineProcesses(root: number): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const children = new Map<number, { pid: number; group: number }[]>();
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
    const [, ppid, group] = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    children.set(ppid as number, [
      ...(children.get(ppid as number) ?? []),
      { pid: Number(name), group: group as number },
    ]);
  }
  const below = [...(children.get(root) ?? [])];
  for (let i = 0; i < below.length; i++)
    below.push(...(children.get((below[i] as { pid: number }).pid) ?? []));
  return below.filter((p) => p.group !== root).map((p) => p.pid);
}

/** `signal` to the engine's process group and to each of `pids`; processes already gone are skipped. */
function signalAll(root: number, pids: readonly number[], signal: NodeJS.Signals): void {
  for (const target of [-root, ...pids]) {
    try {
      process.kill(target, signal);
    } catch {
      // ESRCH: already exited.
    }
  }
}
