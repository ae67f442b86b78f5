/**
 * Access control of the trainer over HTTP: every route it registers has a rule (and every rule a route); the
 * runs API answers 401 without a valid token and 403 to the roles its rule leaves out, while the roles it names
 * get past; the engine protocol answers only to the run's engine token, an API token of any role is not one;
 * who started, cancelled and resumed a run lands in the audit log; `trainer token` makes tokens.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { openTestDatabase } from "@sovereign/db/testing";
import { ROLES, type Role } from "@sovereign/http";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { engineRoutes, trainerPolicy } from "../src/policy";
import { openTrainer } from "../src/runtime";
import { createStack, type TestStack, waitForRun } from "./helpers";

const ID = "00000000-0000-4000-8000-000000000000";
const concrete = (path: string) => path.replace(":id", ID).replace(":step", "1");

describe("trainer access control", { timeout: 120_000 }, () => {
  let stack: TestStack;
  let train: string;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    stack = await createStack("pglite", { TRAINER_AUTH: "on" });
    for (const role of ROLES)
      tokens[role] = (await stack.trainer.access.createToken({ name: `${role}-token`, role })).token;
    train = await stack.version("access-chat", "chat", [
      {
        id: "c1",
        messages: [
          { role: "user", content: "เมืองหลวงของไทยคืออะไร" },
          { role: "assistant", content: "กรุงเทพมหานคร" },
        ],
      },
    ]);
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  const call = (key: string, token?: string, body = "{}") => {
    const [method = "GET", path = "/"] = key.split(" ");
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    if (method === "POST") headers["content-type"] = "application/json";
    return stack.request(concrete(path), { method, headers, ...(method === "POST" ? { body } : {}) });
  };
  const spec = () => ({
    name: "access-sft",
    stage: "sft",
    model: { tiny: "tiny", seed: 1 },
    datasets: { train },
    hyper: { totalSteps: 2, seqLen: 32, rowsPerStep: 1 },
    seed: 1,
  });
  const errorOf = async (res: Response) =>
    ((await res.json()) as { error: { code: string; message: string } }).error;

  it("has a rule for every route it registers, and no rule without a route", () => {
    const routes = new Set(
      stack.trainer.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    );
    expect([...routes].filter((k) => !trainerPolicy[k])).toEqual([]);
    expect(Object.keys(trainerPolicy).filter((k) => !routes.has(k))).toEqual([]);
  });

  it("refuses the runs API without a valid token (401) and to the roles its rule leaves out (403)", async () => {
    let checked = 0;
    for (const [key, rule] of Object.entries(trainerPolicy)) {
      if (rule.roles === "public") continue;
      const anonymous = await call(key);
      expect(anonymous.status, key).toBe(401);
      expect((await errorOf(anonymous)).message).toContain(`${key} needs an API token`);
      expect((await call(key, "sv_not-a-token")).status, key).toBe(401);
      for (const role of ROLES) {
        const res = await call(key, tokens[role]);
        if (rule.roles.includes(role)) {
          expect([401, 403], `${key} as ${role}`).not.toContain(res.status);
        } else {
          expect(res.status, `${key} as ${role}`).toBe(403);
          expect((await errorOf(res)).message).toBe(
            `a ${role} token may not call ${key}; it needs ${rule.roles.join(", ")}`,
          );
        }
        checked++;
      }
    }
    expect(checked).toBe(30);
    expect((await stack.request("/health")).status).toBe(200);
  });

  it("says at /health only whether it can serve, and 503 once its database does not answer", async () => {
    const up = await stack.request("/health");
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ status: "ok" });
    const database = await openTestDatabase("pglite");
    const trainer = await openTrainer(
      loadConfig({ CURATOR_DATA_DIR: join(stack.dir, "curator"), TRAINER_DATA_DIR: join(stack.dir, "down") }),
      { database, logger: pino({ level: "silent" }) },
    );
    try {
      await database.close();
      const down = await trainer.app.request("/health");
      expect(down.status).toBe(503);
      expect(await errorOf(down)).toMatchObject({
        code: "UNAVAILABLE",
        message: "the service cannot serve: its database does not answer",
      });
    } finally {
      await trainer.close();
    }
  });

  it("answers the engine protocol only with the run's engine token, not with an API token", async () => {
    const run = await stack.trainer.runs.create({ ...spec(), name: "engine-access" } as never);
    await stack.trainer.runs.cancel(run.id);
    expect(engineRoutes).toHaveLength(7);
    for (const key of engineRoutes)
      for (const token of [undefined, tokens.admin, tokens.trainer]) {
        const res = await call(key.replace(":id", run.id), token);
        expect(res.status, `${key} with ${token ? "an API token" : "nothing"}`).toBe(401);
        expect((await errorOf(res)).code).toBe("UNAUTHORIZED");
      }
  });

  it("records who started, cancelled and resumed a run", async () => {
    const created = await call("POST /v1/training/runs", tokens.pipeline, JSON.stringify(spec()));
    expect(created.status, await created.clone().text()).toBe(202);
    const { id } = (await created.json()) as { id: string };
    expect((await call(`POST /v1/training/runs/${id}/cancel`, tokens.pipeline)).status).toBe(200);
    await waitForRun(stack, id); // the supervisor may have started it: wait for the cancel to land
    const resumed = await call(`POST /v1/training/runs/${id}/resume`, tokens.admin);
    expect(resumed.status, await resumed.clone().text()).toBe(200);
    expect((await call(`POST /v1/training/runs/${id}/cancel`, tokens.admin)).status).toBe(200);
    const audit = (await stack.trainer.access.audit({ limit: 50 })).filter((a) =>
      a.action.startsWith("training."),
    );
    expect(audit.map((a) => [a.actor, a.action, a.target.id ?? null]).reverse()).toEqual([
      ["pipeline-token", "training.create", null],
      ["pipeline-token", "training.cancel", id],
      ["admin-token", "training.resume", id],
      ["admin-token", "training.cancel", id],
    ]);
  });

  it("makes tokens on the command line", () => {
    const cli = ["--import", "tsx", join(import.meta.dirname, "../src/cli.ts")];
    // On its own embedded database: the server DATABASE_URL names is where the test databases are made, not one to migrate.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CURATOR_DATA_DIR: join(stack.dir, "cli-curator"),
      LOG_LEVEL: "silent",
    };
    delete env.DATABASE_URL;
    const created = spawnSync(
      process.execPath,
      [...cli, "token", "create", "--role", "pipeline", "--name", "ci"],
      {
        env,
        encoding: "utf8",
      },
    );
    expect(created.status, created.stderr).toBe(0);
    expect(created.stdout.trim()).toMatch(/^sv_[A-Za-z0-9_-]{43}$/);
    const listed = spawnSync(process.execPath, [...cli, "token", "list"], { env, encoding: "utf8" });
    expect(listed.stdout).toMatch(/\tpipeline\tci\tactive\t/);
    const bad = spawnSync(process.execPath, [...cli, "token", "create", "--role", "boss", "--name", "x"], {
      env,
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--role: boss is not one of admin, curator, reviewer, pipeline, trainer");
  });
});
