/**
 * @module The engine protocol (docs/engine-protocol.md): what engine ranks of a running training run fetch and
 * report. Every request carries the run's engine token, issued to the engine the supervisor started.
 */
import { join } from "node:path";
import { ServiceError } from "@sovereign/http";
import { engineHyper } from "@sovereign/schemas";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import type { Context } from "hono";
import { z } from "zod";
import type { TrainerApp, TrainerEnv } from "../context";
import { runStopIds, runTokenizer } from "../run-tokenizer";
import { answerTurn } from "../tools";

const Step = z.coerce.number().int().nonnegative();
/** Steps are numbered from 1 (step k is the k-th optimizer step); the data plane counts from 0. */
const BatchStep = z.coerce.number().int().positive();
const BatchQuery = z.object({
  rank: z.coerce.number().int().nonnegative().default(0),
  world: z.coerce.number().int().positive().default(1),
  role: z.enum(["train", "corpus", "prompts"]),
});
const Metrics = z.strictObject({
  step: Step,
  rank: z.number().int().nonnegative().default(0),
  metrics: z.record(z.string(), z.number().refine(Number.isFinite, "must be a finite number")),
});
const Checkpoint = z.strictObject({
  step: Step,
  path: z.string().min(1),
  files: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        bytes: z.number().int().nonnegative(),
      }),
    )
    .min(1),
});
const Status = z.strictObject({
  state: z.enum(["running", "succeeded", "failed"]),
  message: z.string().max(20_000).optional(),
});
const Rollouts = z.strictObject({
  step: Step,
  items: z
    .array(
      z.strictObject({
        prompt: z.string().min(1),
        promptIds: z.array(z.number().int().nonnegative()),
        completionIds: z.array(z.number().int().nonnegative()),
      }),
    )
    .min(1)
    .max(65_536),
});

/** A turn's body names the same rollouts as a scoring request: each one's prompt and its ids so far. */
const Turns = Rollouts;

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues
    .slice(0, 10)
    .map((i) => `${[what, ...i.path.map(String)].join(".")}: ${i.message}`);
  throw new ServiceError("BAD_REQUEST", problems.join("; "));
}

export function registerEngineRoutes(app: TrainerApp) {
  const base = "/v1/engine/runs/:id";
  /** The run, once the request's bearer token is its current engine token. */
  const authorized = async (c: Context<TrainerEnv>) => {
    const id = c.req.param("id") as string;
    const header = c.req.header("authorization");
    const token = header?.startsWith("Bearer ") ? header.slice(7) : undefined;
    return c.get("runs").checkEngineToken(id, token);
  };
  const json = async (c: Context<TrainerEnv>) => {
    try {
      return await c.req.json();
    } catch (error) {
      throw new ServiceError("BAD_REQUEST", `malformed JSON body: ${(error as Error).message}`);
    }
  };

  app.get(`${base}/config`, async (c) => {
    const row = await authorized(c);
    const { spec } = row;
    const checkpoints = await c.get("runs").checkpoints(row.id);
    const last = checkpoints.at(-1);
    const tokenizer = await runTokenizer(spec.model);
    // A served teacher: where and what to ask, never its key (the engine has it in SOVEREIGN_TEACHER_API_KEY).
    const served = c.get("runs").servedTeacher(spec);
    return c.json({
      run: row.id,
      stage: spec.stage,
      model: spec.model,
      teacher: served
        ? { endpoint: { name: served.endpoint, baseUrl: served.baseUrl, model: served.model } }
        : (spec.teacher ?? null),
      reference: spec.reference ?? null,
      // Multi-turn rollouts with tools: the engine asks POST /turns after each assistant turn, up to maxTurns.
      tools: spec.tools
        ? {
            names: spec.tools.names,
            maxTurns: spec.tools.maxTurns,
            ...(spec.tools.maxToolTokens !== undefined ? { maxToolTokens: spec.tools.maxToolTokens } : {}),
          }
        : null,
      resume: last ? { step: last.step, path: last.path } : null,
      seed: spec.seed,
      seqLen: spec.hyper.seqLen,
      rowsPerStep: spec.hyper.rowsPerStep,
      totalSteps: spec.hyper.totalSteps,
      tokenizerVocab: tokenizer.vocabSize,
      // What rollouts stop at unless `hyper.stopIds` says otherwise: the data plane's end of turn and end of text
      // (a model folder's own tokenizer: its chat template's end of turn, then its generation_config.json eos
      // ids, then tokenizer_config.json's).
      stopIds: await runStopIds(spec.model),
      hyper: engineHyper(spec.stage, spec.hyper),
      checkpointDir: join(c.get("config").runsDir, row.id, "checkpoints"),
      data: c.get("data").stats(row.id),
    });
  });

  app.get(`${base}/batches/:step`, async (c) => {
    const row = await authorized(c);
    const step = parse(BatchStep, c.req.param("step"), "step");
    const query = parse(BatchQuery, c.req.query(), "query");
    if (query.rank >= query.world)
      throw new ServiceError("BAD_REQUEST", `query.rank: ${query.rank} is not below world ${query.world}`);
    const frame = c
      .get("data")
      .data(row.id, query.role)
      .batchFrame(step - 1, query.rank, query.world);
    return c.body(frame as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/octet-stream" });
  });

  app.post(`${base}/rollouts`, async (c) => {
    const row = await authorized(c);
    const body = parse(Rollouts, await json(c), "body");
    const scored = await c.get("rollouts").score(row.id, body.items, { multiTurn: Boolean(row.spec.tools) });
    if ((c.req.header("accept") ?? "").includes("application/json")) return c.json(scored, 200);
    const bytes = new Uint8Array(scored.rewards.length * 4);
    const view = new DataView(bytes.buffer);
    for (const [i, reward] of scored.rewards.entries()) view.setFloat32(i * 4, reward, true);
    return c.body(bytes, 200, { "content-type": "application/octet-stream" });
  });

  app.post(`${base}/turns`, async (c) => {
    const row = await authorized(c);
    const body = parse(Turns, await json(c), "body");
    const runTools = c.get("data").tools(row.id);
    const tokenizer = await loadQwen3Tokenizer();
    const settings = {
      tools: runTools.tools,
      maxTurns: runTools.spec.maxTurns,
      thinking: row.spec.hyper.thinking,
      ...(runTools.spec.maxToolTokens !== undefined ? { maxToolTokens: runTools.spec.maxToolTokens } : {}),
    };
    const items = body.items.map((item) => {
      const answer = answerTurn(item.completionIds, tokenizer, settings);
      return answer.done ? { done: true } : { done: false, append: answer.append, calls: answer.calls };
    });
    return c.json({ items }, 200);
  });

  app.post(`${base}/metrics`, async (c) => {
    const row = await authorized(c);
    const body = parse(Metrics, await json(c), "body");
    await c.get("runs").recordMetrics(row.id, body.step, body.rank, body.metrics, row.spec.hyper.totalSteps);
    // Whether the ranks are to stop after this step: the run was cancelled, or the service is stopping.
    return c.json({ stop: row.status === "cancelling" || c.get("supervisor").stopRequested(row.id) }, 200);
  });

  app.post(`${base}/checkpoints`, async (c) => {
    const row = await authorized(c);
    const body = parse(Checkpoint, await json(c), "body");
    await c.get("runs").recordCheckpoint(row.id, body.step, body.path, body.files);
    return c.body(null, 204);
  });

  app.post(`${base}/status`, async (c) => {
    const row = await authorized(c);
    const body = parse(Status, await json(c), "body");
    c.get("supervisor").report(row.id, {
      state: body.state,
      ...(body.message ? { message: body.message } : {}),
    });
    c.get("logger").info({ run: row.id, state: body.state, message: body.message }, "engine status");
    return c.body(null, 204);
  });
}
