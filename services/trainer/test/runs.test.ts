/**
 * Training runs over HTTP: a run is pinned to registry versions (unknown hashes, drafts and wrong kinds are
 * refused by name), a tampered shard fails the run before any training with the shard named, the engine
 * protocol refuses requests without the run's engine token, and an SFT run of a tiny Qwen3 model trains end to
 * end through the engine process, recording metrics and checkpoints.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { openTestDatabase } from "@sovereign/db/testing";
import { TrainingRunSpec, tables } from "@sovereign/schemas";
import { LocalBlobStore } from "@sovereign/shards";
import { startChatCompletionsTestServer } from "@sovereign/teacher/testing";
import { eq } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import type { DataPlane } from "../src/data-plane";
import { tokenHash } from "../src/runs";
import { openTrainer, type Trainer } from "../src/runtime";
import { startServer } from "../src/server";
import { type EngineReport, Supervisor } from "../src/supervisor";
import { createStack, engineAvailable, enginePython, type TestStack, waitForRun } from "./helpers";

const chat = (i: number) => ({
  id: `c${i}`,
  messages: [
    { role: "user", content: `ข้อ ${i}: เมืองหลวงของประเทศไทยคือเมืองอะไร` },
    { role: "assistant", content: "เมืองหลวงของประเทศไทยคือกรุงเทพมหานคร" },
  ],
});

const sftSpec = (train: string, hyper: Record<string, unknown> = {}) => ({
  name: "tiny-sft",
  stage: "sft",
  model: { tiny: "tiny", seed: 1 },
  datasets: { train },
  hyper: {
    totalSteps: 12,
    seqLen: 64,
    rowsPerStep: 2,
    lr: 2e-2,
    warmupSteps: 2,
    checkpointEvery: 6,
    ...hyper,
  },
  seed: 3,
});

/** Every status an engine reports, by run. */
function recordReports(stack: TestStack): Map<string, EngineReport[]> {
  const reports = new Map<string, EngineReport[]>();
  const { supervisor } = stack.trainer;
  const report = supervisor.report.bind(supervisor);
  supervisor.report = (runId, r) => {
    reports.set(runId, [...(reports.get(runId) ?? []), r]);
    report(runId, r);
  };
  return reports;
}

/** Until a run has reported `step` (or stopped before). */
async function untilStep(stack: TestStack, id: string, step: number) {
  for (;;) {
    const row = await stack.trainer.runs.row(id);
    if ((row.progress?.step ?? 0) >= step || (row.status !== "running" && row.status !== "queued")) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("training runs", () => {
  let stack: TestStack;
  let train: string;
  let corpus: string;

  beforeAll(async () => {
    stack = await createStack();
    train = await stack.version(
      "tiny-chat",
      "chat",
      Array.from({ length: 8 }, (_, i) => chat(i)),
    );
    corpus = await stack.version("tiny-corpus", "text", [
      { id: "s1", text: "มาตรา ๑ พระราชบัญญัตินี้เรียกว่า พระราชบัญญัติทดสอบ" },
    ]);
  });

  afterAll(async () => {
    await stack?.cleanup();
  });

  it("refuses a spec whose stage lacks a dataset role, naming the field", async () => {
    const res = await stack.post("/v1/training/runs", { ...sftSpec(train), datasets: {} });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string } };
    expect(error.message).toContain("body.datasets.train: stage sft needs a train dataset version");
  });

  it("refuses a spec that gives its teacher or a judge a server URL: the judge is the trainer's configuration", async () => {
    const server = await startChatCompletionsTestServer();
    try {
      for (const spec of [
        { ...sftSpec(train), judge: { baseUrl: server.baseUrl, model: "m" } },
        { ...sftSpec(train), stage: "opd", teacher: { baseUrl: server.baseUrl, model: "m" } },
      ]) {
        const res = await stack.post("/v1/training/runs", spec);
        expect(res.status).toBe(400);
      }
      expect(server.requests).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("refuses hashes the registry does not know, and versions of the wrong kind", async () => {
    const unknown = "ab".repeat(32);
    let res = await stack.post("/v1/training/runs", sftSpec(unknown));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      `datasets.train: version ${unknown} is not in the registry`,
    );
    res = await stack.post("/v1/training/runs", sftSpec(corpus));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /datasets\.train: version \w+ of tiny-corpus holds text samples, but train needs chat/,
    );
  });

  it("fails a run whose shard was tampered with, naming the shard, before any engine starts", async () => {
    const tampered = await stack.version("tampered-chat", "chat", [chat(100), chat(101)]);
    const manifest = await stack.curator.registry.getManifest(tampered);
    const shard = manifest.shards[0];
    if (!shard) throw new Error("no shard");
    const path = new LocalBlobStore(stack.trainer.config.blobDir).pathOf(shard.sha256);
    const bytes = await readFile(path);
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0xff;
    await writeFile(path, bytes);

    const res = await stack.post("/v1/training/runs", sftSpec(tampered));
    expect(res.status).toBe(202);
    const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
    expect(run.status).toBe("failed");
    expect(run.error).toContain(
      `datasets.train: shard ${shard.path} of version ${tampered} (tampered-chat) failed verification`,
    );
    expect(run.attempts).toBe(1);
    expect(run.metrics).toEqual([]);
  });

  it("answers engine requests only with the run's engine token", async () => {
    const res = await stack.post("/v1/training/runs", { ...sftSpec(train), name: "never-started" });
    const { id } = (await res.json()) as { id: string };
    await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" });
    for (const path of ["config", "batches/1?role=train"]) {
      const denied = await stack.request(`/v1/engine/runs/${id}/${path}`, {
        headers: { authorization: "Bearer not-the-token" },
      });
      expect(denied.status).toBe(401);
      expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("UNAUTHORIZED");
    }
    // With the token an engine attempt would hold, the run's config: shape, engine settings, tokenizer size.
    await stack.trainer.database.db
      .update(tables.trainingRuns)
      .set({ engineTokenSha256: tokenHash("the-token") })
      .where(eq(tables.trainingRuns.id, id));
    const config = await stack.request(`/v1/engine/runs/${id}/config`, {
      headers: { authorization: "Bearer the-token" },
    });
    expect(config.status).toBe(200);
    expect(await config.json()).toMatchObject({
      stage: "sft",
      totalSteps: 12,
      seqLen: 64,
      rowsPerStep: 2,
      seed: 3,
      tokenizerVocab: 151_669,
      // Qwen3's <|im_end|> and <|endoftext|>, as the data plane's tokenizer encodes them.
      stopIds: [151_645, 151_643],
      hyper: { lr: 2e-2, warmupSteps: 2, checkpointEvery: 6, cpuOffload: false, teacherOffload: false },
      resume: null,
    });
    // The supervisor may have begun preparing the run before the cancel: resume once it has settled.
    await waitForRun(stack, id);
    const resumed = await stack.request(`/v1/training/runs/${id}/resume`, { method: "POST" });
    expect(resumed.status, await resumed.clone().text()).toBe(200);
    await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" });
  });

  it("starts no engine for a run cancelled while its data is being prepared", async () => {
    // A supervisor whose data plane holds preparation until released, in place of the stack's own.
    await stack.trainer.supervisor.stop();
    let prepared!: () => void;
    let release!: () => void;
    const preparing = new Promise<void>((resolve) => {
      prepared = resolve;
    });
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const data = {
      prepare: async () => {
        prepared();
        await held;
      },
      release: () => {},
    } as unknown as DataPlane;
    const { config, runs, database, logger } = stack.trainer;
    const supervisor = new Supervisor({
      config,
      versions: { db: database.db },
      runs,
      store: new LocalBlobStore(config.blobDir),
      data,
      logger,
    });
    supervisor.engineUrl = stack.url;
    try {
      const res = await stack.post("/v1/training/runs", { ...sftSpec(train), name: "cancelled-early" });
      const { id } = (await res.json()) as { id: string };
      await supervisor.poll();
      await preparing;
      expect((await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" })).status).toBe(200);
      await supervisor.poll(); // sees the cancel
      release();
      const run = await waitForRun(stack, id);
      expect(run.status).toBe("cancelled");
      expect(run.metrics).toEqual([]);
      expect(existsSync(run.logPath ?? "")).toBe(false);
    } finally {
      await supervisor.stop();
      await stack.trainer.supervisor.start(200);
    }
  });

  describe.skipIf(!engineAvailable)("with the engine", () => {
    let uninterrupted: number[] = [];
    const rank0Losses = (run: Awaited<ReturnType<typeof waitForRun>>) =>
      run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics.loss as number);

    it("trains a tiny Qwen3 by SFT through the engine process: loss falls, checkpoints and metrics recorded", async () => {
      const res = await stack.post("/v1/training/runs", sftSpec(train));
      expect(res.status).toBe(202);
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
      uninterrupted = rank0Losses(run);
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      const losses = run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics.loss as number);
      expect(losses).toHaveLength(12);
      const first = (losses[0] as number) + (losses[1] as number);
      const last = (losses[10] as number) + (losses[11] as number);
      expect(last).toBeLessThan(first * 0.5);
      expect(run.checkpoints.map((c) => c.step)).toEqual([6, 12]);
      // Every checkpoint holds the sharded training state; the last one also the HF weights a server loads.
      for (const checkpoint of run.checkpoints)
        expect(checkpoint.files.map((f) => f.name)).toEqual(
          expect.arrayContaining(["config.json", "state/.metadata", "trainer_state-rank0.pt"]),
        );
      expect(run.checkpoints.map((c) => c.files.some((f) => f.name === "model.safetensors"))).toEqual([
        false,
        true,
      ]);
      expect(run.progress).toMatchObject({ step: 12, totalSteps: 12 });
    });

    it("stops a cancelled run when its engine asks after a step, with a checkpoint, and resumes it to the same losses", async () => {
      const reports = recordReports(stack);
      const res = await stack.post("/v1/training/runs", sftSpec(train));
      const { id } = (await res.json()) as { id: string };
      await untilStep(stack, id, 2);
      expect((await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" })).status).toBe(200);
      const cancelled = await waitForRun(stack, id);
      expect(cancelled.status).toBe("cancelled");
      const stoppedAt = cancelled.checkpoints.at(-1)?.step ?? 0;
      expect(stoppedAt).toBeGreaterThanOrEqual(2);
      expect(stoppedAt).toBeLessThan(12);
      expect(cancelled.metrics).toHaveLength(stoppedAt);
      // Stopped by the protocol, no signal sent: the answer to its metrics, well within the grace period.
      expect(reports.get(id)?.at(-1)).toEqual({
        state: "failed",
        message: `stopped at the service's request after step ${stoppedAt} of 12, checkpoint saved`,
      });
      const log = await readFile(cancelled.logPath ?? "", "utf8");
      expect(log).toContain("trainer: the run was cancelled: the engine stops after its current step");
      expect(log).not.toContain("trainer: the engine did not stop");

      expect((await stack.request(`/v1/training/runs/${id}/resume`, { method: "POST" })).status).toBe(200);
      const resumed = await waitForRun(stack, id);
      expect(resumed.status, `${resumed.error}\n${resumed.logTail}`).toBe("succeeded");
      expect(resumed.attempts).toBe(2);
      // Same spec, same seed: the interrupted run's losses are the uninterrupted run's, step for step.
      expect(rank0Losses(resumed)).toEqual(uninterrupted);
      expect(resumed.checkpoints.at(-1)?.step).toBe(12);
    });

    it("fails a run whose engine cannot load its model, with the engine's message and last lines", async () => {
      const res = await stack.post("/v1/training/runs", {
        ...sftSpec(train),
        model: { path: "/nonexistent/model" },
      });
      const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
      expect(run.status).toBe("failed");
      expect(run.error).toMatch(/^the engine exited with status \d+/);
      expect(run.error).toContain("/nonexistent/model");
      expect(run.logTail).toContain("/nonexistent/model");
    });

    describe("over two ranks (torchrun, gloo)", () => {
      let ddp: TestStack;
      let same: string;
      beforeAll(async () => {
        ddp = await createStack("pglite", { ENGINE_PROCS: "2" });
        same = await ddp.version(
          "tiny-chat",
          "chat",
          Array.from({ length: 8 }, (_, i) => chat(i)),
        );
      });
      afterAll(async () => {
        await ddp?.cleanup();
      });

      it("trains sharded to the one-rank losses", async () => {
        const res = await ddp.post("/v1/training/runs", sftSpec(same));
        const run = await waitForRun(ddp, ((await res.json()) as { id: string }).id);
        expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
        // Each step's two rows go one to each rank. The loss is the token mean over both ranks' rows and the
        // gradient that of the one rank: the runs agree step for step, up to the order of floating-point sums.
        const losses = rank0Losses(run);
        expect(losses).toHaveLength(uninterrupted.length);
        for (const [i, loss] of losses.entries()) expect(loss).toBeCloseTo(uninterrupted[i] as number, 3);
        expect(run.metrics.every((m) => m.rank === 0)).toBe(true);
        expect(run.checkpoints.map((c) => c.step)).toEqual([6, 12]);
        // torchrun keeps each rank's stderr in a file of its own beside the run's log.
        const logs = await readdir(join(dirname(run.logPath ?? ""), "ranks-1"), { recursive: true });
        expect(logs.filter((f) => f.endsWith("stderr.log"))).toHaveLength(2);
      });

      it("stops both ranks after the same step when the service stops, queues the run, and resumes it", async () => {
        const reports = recordReports(ddp);
        const res = await ddp.post("/v1/training/runs", sftSpec(same));
        const { id } = (await res.json()) as { id: string };
        await untilStep(ddp, id, 2);
        await ddp.trainer.supervisor.stop();
        const stopped = await ddp.trainer.runs.get(id);
        expect(stopped.status).toBe("queued");
        const stoppedAt = stopped.checkpoints.at(-1)?.step ?? 0;
        expect(stoppedAt).toBeGreaterThanOrEqual(2);
        expect(stoppedAt).toBeLessThan(12);
        // Both ranks stopped at the service's request after the same step; no signal was needed.
        expect(reports.get(id)?.filter((r) => r.state === "failed")).toEqual([
          {
            state: "failed",
            message: `stopped at the service's request after step ${stoppedAt} of 12, checkpoint saved`,
          },
          {
            state: "failed",
            message: `stopped at the service's request after step ${stoppedAt} of 12, checkpoint saved`,
          },
        ]);
        expect(await readFile(stopped.logPath ?? "", "utf8")).not.toContain(
          "trainer: the engine did not stop",
        );

        await ddp.trainer.supervisor.start(200);
        const resumed = await waitForRun(ddp, id);
        expect(resumed.status, `${resumed.error}\n${resumed.logTail}`).toBe("succeeded");
        expect(resumed.attempts).toBe(2);
        const losses = rank0Losses(resumed);
        expect(losses).toHaveLength(12);
        for (const [i, loss] of losses.entries()) expect(loss).toBeCloseTo(uninterrupted[i] as number, 3);
      });
    });
  });

  describe("reading versions from a curator over HTTP", () => {
    let remote: Trainer;
    let curatorServer: ServerType;
    let remoteServer: ServerType;
    let curatorUrl: string;

    beforeAll(async () => {
      const curatorUp = await new Promise<{ url: string }>((resolve) => {
        curatorServer = serve({ fetch: stack.curator.app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
          resolve({ url: `http://127.0.0.1:${info.port}` }),
        );
      });
      curatorUrl = curatorUp.url;
      // The curator asks for API tokens: the trainer reads with one of role `trainer`.
      const { token } = await stack.curator.access.createToken({ name: "remote-trainer", role: "trainer" });
      remote = await openTrainer(
        loadConfig({
          TRAINER_CURATOR_URL: curatorUp.url,
          TRAINER_CURATOR_TOKEN: token,
          TRAINER_DATA_DIR: join(stack.dir, "remote-trainer"),
          TRAINER_PORT: "0",
          ENGINE_PYTHON: enginePython,
        }),
        { database: await openTestDatabase("pglite"), logger: pino({ level: "silent" }) },
      );
      remoteServer = (await startServer(remote)).server;
      await remote.supervisor.start(200);
    });

    afterAll(async () => {
      await remote?.close();
      await remote?.database.close();
      remoteServer?.close();
      curatorServer?.close();
    });

    it("names the token setting when the curator refuses the trainer", async () => {
      const anonymous = await openTrainer(
        loadConfig({
          TRAINER_CURATOR_URL: curatorUrl,
          TRAINER_DATA_DIR: join(stack.dir, "anonymous-trainer"),
          TRAINER_PORT: "0",
          ENGINE_PYTHON: enginePython,
        }),
        { database: await openTestDatabase("pglite"), logger: pino({ level: "silent" }) },
      );
      try {
        await expect(anonymous.runs.create(TrainingRunSpec.parse(sftSpec(train)))).rejects.toThrow(
          /refused a request without a token \(set TRAINER_CURATOR_TOKEN to a trainer token\) \(401\)/,
        );
      } finally {
        await anonymous.close();
        await anonymous.database.close();
      }
    });

    it("pins a run to versions the curator serves, and refuses hashes it does not know", async () => {
      const unknown = "cd".repeat(32);
      await expect(remote.runs.create(TrainingRunSpec.parse(sftSpec(unknown)))).rejects.toThrow(
        `datasets.train: version ${unknown} is not in the registry`,
      );
      await expect(remote.runs.create(TrainingRunSpec.parse(sftSpec(corpus)))).rejects.toThrow(
        /holds text samples, but train needs chat/,
      );
    });

    it.skipIf(!engineAvailable)("copies the shards over HTTP, verifies them and trains on them", async () => {
      const created = await remote.runs.create(
        TrainingRunSpec.parse(sftSpec(train, { totalSteps: 2, checkpointEvery: 0 })),
      );
      let run = await remote.runs.get(created.id);
      while (!["succeeded", "failed", "cancelled"].includes(run.status)) {
        await new Promise((r) => setTimeout(r, 200));
        run = await remote.runs.get(created.id);
      }
      expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
      const manifest = await stack.curator.registry.getManifest(train);
      const store = new LocalBlobStore(remote.config.blobDir);
      for (const shard of manifest.shards) expect(await store.has(shard.sha256)).toBe(true);
      expect(run.metrics).toHaveLength(2);
    });
  });
});
