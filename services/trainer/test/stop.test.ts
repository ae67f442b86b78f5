/**
 * Stopping a run's engine: the answer to its metrics says whether to stop; an engine that does not stop when
 * asked gets no signal during the grace period, then SIGTERM reaches every process it started (ranks in
 * sessions of their own included, as torch's launcher starts them), then SIGKILL; the run ends cancelled, or
 * queued again when the service stops. The engine here is a small real process tree that ignores the protocol,
 * standing in for a hung one (runs.test.ts stops the real engine by the protocol).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { tokenHash } from "../src/runs";
import { createStack, insertRun, type TestStack, waitForRun } from "./helpers";

/** A launcher that starts one "rank" in a session of its own; each records what it gets, and may ignore SIGTERM. */
const FAKE_ENGINE = `
const { spawn } = require("node:child_process");
const { appendFileSync } = require("node:fs");
const role = process.argv[2] === "rank" ? "rank" : "launcher";
const note = (what) =>
  appendFileSync(process.env.FAKE_RECORD, JSON.stringify({ role, pid: process.pid, what, at: Date.now() }) + "\\n");
process.on("SIGTERM", () => {
  note("SIGTERM");
  if (process.env.FAKE_ON_SIGTERM === "exit") process.exit(143);
});
if (role === "launcher") spawn(process.execPath, [__filename, "rank"], { detached: true, stdio: "ignore" });
note("started");
setInterval(() => {}, 1000);
`;

type Event = { role: "launcher" | "rank"; pid: number; what: string; at: number };

/** Whether a process still runs (a zombie does not). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const chatRows = [
  {
    id: "c1",
    messages: [
      { role: "user", content: "สวัสดี" },
      { role: "assistant", content: "สวัสดีครับ" },
    ],
  },
];
const spec = (train: string) => ({
  stage: "sft" as const,
  model: { tiny: "tiny", seed: 1 },
  datasets: { train },
  hyper: { totalSteps: 2, seqLen: 32, rowsPerStep: 1 },
});

describe.each(testDatabaseKinds())("stopping a run's engine on %s", { timeout: 60_000 }, (kind) => {
  let stack: TestStack | undefined;
  let dir: string | undefined;
  let started: number[] = [];
  afterEach(async () => {
    await stack?.cleanup();
    // Whatever a failing stop left behind.
    for (const pid of started) if (await alive(pid)) process.kill(pid, "SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
    stack = undefined;
    dir = undefined;
    started = [];
  });

  const stop = { graceMs: 1_500, killMs: 1_000 };
  const createTracked = async (...args: Parameters<typeof createStack>) => {
    stack = await createStack(...args);
    return stack;
  };

  /** A stack whose engine is the fake one, and a run of it started; resolves once both processes run. */
  async function startFake(onSigterm: "ignore" | "exit") {
    dir = await mkdtemp(join(tmpdir(), "fake-engine-"));
    const script = join(dir, "engine.cjs");
    const record = join(dir, "events.jsonl");
    const python = join(dir, "python");
    await writeFile(script, FAKE_ENGINE);
    await writeFile(
      python,
      `#!/bin/sh\nFAKE_RECORD='${record}' FAKE_ON_SIGTERM=${onSigterm} exec '${process.execPath}' '${script}' "$@"\n`,
    );
    await chmod(python, 0o755);
    const stack = await createTracked(kind, { ENGINE_PYTHON: python }, { stop });
    const train = await stack.version("stop-chat", "chat", chatRows);
    const res = await stack.post("/v1/training/runs", spec(train));
    const { id } = (await res.json()) as { id: string };
    const records = async () =>
      (await readFile(record, "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Event);
    for (;;) {
      const started = (await records()).filter((r) => r.what === "started");
      if (started.length === 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const pids = Object.fromEntries((await records()).map((r) => [r.role, r.pid])) as {
      launcher: number;
      rank: number;
    };
    started = [pids.launcher, pids.rank];
    return { id, records, pids, stack };
  }

  it("answers an engine's metrics with whether to stop: false while the run runs, true once it is cancelled", async () => {
    const stack = await createTracked(kind);
    const train = await stack.version("stop-chat", "chat", chatRows);
    // A run as the supervisor would have claimed it, with the engine token its engine would hold.
    const id = await insertRun(stack, spec(train), {
      status: "running",
      engineTokenSha256: tokenHash("engine-token"),
    });
    const metrics = (step: number) =>
      stack.trainer.app.request(`/v1/engine/runs/${id}/metrics`, {
        method: "POST",
        headers: { authorization: "Bearer engine-token", "content-type": "application/json" },
        body: JSON.stringify({ step, rank: 0, metrics: { loss: 1 / step } }),
      });
    const first = await metrics(1);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ stop: false });
    expect((await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" })).status).toBe(200);
    expect((await stack.trainer.runs.row(id)).status).toBe("cancelling");
    const second = await metrics(2);
    expect(await second.json()).toEqual({ stop: true });
    expect((await stack.trainer.runs.get(id)).metrics.map((m) => m.step)).toEqual([1, 2]);
    await stack.trainer.runs.finish(id, "cancelled", {});
  });

  it("reads the grace period from TRAINER_STOP_GRACE_SECONDS: 600 s unless set, then 30 s to SIGKILL", () => {
    expect(loadConfig({}).stop).toEqual({ graceMs: 600_000, killMs: 30_000 });
    expect(loadConfig({ TRAINER_STOP_GRACE_SECONDS: "2.5" }).stop).toEqual({
      graceMs: 2_500,
      killMs: 30_000,
    });
    expect(() => loadConfig({ TRAINER_STOP_GRACE_SECONDS: "-1" })).toThrow(/TRAINER_STOP_GRACE_SECONDS/);
  });

  it("waits out the grace period, then SIGTERMs every engine process, then SIGKILLs them: the run is cancelled", async () => {
    const { id, records, pids, stack } = await startFake("ignore");
    const cancelledAt = Date.now();
    expect((await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" })).status).toBe(200);
    const run = await waitForRun(stack, id, 20_000);
    const endedAt = Date.now();
    expect(run.status).toBe("cancelled");
    const terms = (await records()).filter((r) => r.what === "SIGTERM");
    // Both got SIGTERM, the rank in its own session too, and not before the grace period was out.
    expect(terms.map((r) => r.role).sort()).toEqual(["launcher", "rank"]);
    for (const term of terms) expect(term.at - cancelledAt).toBeGreaterThanOrEqual(stop.graceMs);
    // Neither stopped for SIGTERM: SIGKILL ended both, after the further wait.
    expect(endedAt - cancelledAt).toBeGreaterThanOrEqual(stop.graceMs + stop.killMs);
    for (let i = 0; (await alive(pids.rank)) && i < 50; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await alive(pids.launcher)).toBe(false);
    expect(await alive(pids.rank)).toBe(false);
    const log = await readFile(run.logPath ?? "", "utf8");
    expect(log).toContain(
      "trainer: the run was cancelled: the engine stops after its current step, or gets SIGTERM in 1.5 s",
    );
    expect(log).toContain("trainer: the engine did not stop within 1.5 s: SIGTERM to its processes");
    expect(log).toContain("trainer: the engine did not stop within 1 s of SIGTERM: SIGKILL");
    expect(run.logTail).toContain("SIGKILL");
  });

  it("queues the run again when the service stops, the engine ending at SIGTERM after the grace period", async () => {
    const { id, records, stack } = await startFake("exit");
    const stoppingAt = Date.now();
    await stack.trainer.supervisor.stop();
    const run = await stack.trainer.runs.get(id);
    expect(run.status).toBe("queued");
    const terms = (await records()).filter((r) => r.what === "SIGTERM");
    expect(terms.map((r) => r.role).sort()).toEqual(["launcher", "rank"]);
    for (const term of terms) expect(term.at - stoppingAt).toBeGreaterThanOrEqual(stop.graceMs);
    const log = await readFile(run.logPath ?? "", "utf8");
    expect(log).toContain("trainer: the service is stopping: the engine stops after its current step");
    expect(log).toContain("SIGTERM to its processes");
    expect(log).not.toContain("SIGKILL");
  });
});
