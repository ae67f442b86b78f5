/**
 * An OPD teacher served at an endpoint the operator configured (`TRAINER_TEACHER_ENDPOINTS`), through the real
 * trainer app: the variable is read as JSON or a file with keys from the variables it names; a spec naming an
 * endpoint is queued and its engine gets the endpoint in `/config` without the key, and the key alone as
 * SOVEREIGN_TEACHER_API_KEY in its environment (seen by an engine interpreter that writes its environment down);
 * a spec with a URL, an unknown endpoint, or no topK is refused naming the field. With the engine, OPD runs with
 * topK against the engine's loopback test server (`engine/tests/train/served_teacher.py`, prompt_logprobs from a
 * tiny Qwen3) and reports its metrics; a wrong key fails the run naming the endpoint, never showing the key.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { tables } from "@sovereign/schemas";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, ENGINE_DIR, loadConfig } from "../src/config";
import { tokenHash } from "../src/runs";
import { createStack, engineAvailable, enginePython, type TestStack, waitForRun } from "./helpers";

const KEY = "sk-served-5ecret";
const KEY_VARIABLE = "E4_SERVED_TEACHER_KEY";

const chat = (i: number) => ({
  id: `c${i}`,
  messages: [
    { role: "user", content: `ข้อ ${i}: กฎหมายแพ่งว่าด้วยละเมิดอยู่มาตราใด` },
    { role: "assistant", content: "มาตรา ๔๒๐ ประมวลกฎหมายแพ่งและพาณิชย์" },
  ],
});

const opdSpec = (train: string, teacher: unknown, hyper: Record<string, unknown> = {}) => ({
  name: "served-opd",
  stage: "opd",
  model: { tiny: "tiny", seed: 1 },
  teacher,
  datasets: { train },
  hyper: {
    totalSteps: 3,
    seqLen: 64,
    rowsPerStep: 2,
    lr: 1e-2,
    topK: 4,
    lambda: 0.5,
    maxTokens: 8,
    checkpointEvery: 0,
    ...hyper,
  },
  seed: 5,
});

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error;

describe("TRAINER_TEACHER_ENDPOINTS", () => {
  it("reads endpoints as JSON or a file, each with the key its apiKeyEnv names, and shows no key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "trainer-teachers-"));
    try {
      const endpoints = {
        served: { baseUrl: "http://127.0.0.1:8000/v1/", model: "qwen", apiKeyEnv: KEY_VARIABLE },
        open: { baseUrl: "https://teacher.example/v1" },
      };
      await writeFile(join(dir, "teachers.json"), JSON.stringify(endpoints));
      for (const value of [JSON.stringify(endpoints), join(dir, "teachers.json")]) {
        const config = loadConfig({ TRAINER_TEACHER_ENDPOINTS: value, [KEY_VARIABLE]: KEY });
        expect(config.teachers.names).toEqual(["open", "served"]);
        expect(config.teachers.target("served", "qwen")).toEqual({
          endpoint: "served",
          baseUrl: "http://127.0.0.1:8000/v1",
          model: "qwen",
          apiKey: KEY,
        });
        expect(config.teachers.target("open", "m")?.apiKey).toBeNull();
        expect(config.teacherKeyVariables).toEqual([KEY_VARIABLE]);
        expect(JSON.stringify(config)).not.toContain(KEY);
      }
      const fails = (env: Record<string, string>) => {
        try {
          loadConfig(env);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigError);
          return (error as Error).message;
        }
        throw new Error(`accepted ${JSON.stringify(env)}`);
      };
      expect(fails({ TRAINER_TEACHER_ENDPOINTS: JSON.stringify(endpoints) })).toContain(
        `TRAINER_TEACHER_ENDPOINTS.served.apiKeyEnv: ${KEY_VARIABLE} is not set`,
      );
      expect(
        fails({ TRAINER_TEACHER_ENDPOINTS: JSON.stringify({ x: { baseUrl: "http://x/v1", apiKey: KEY } }) }),
      ).toContain("TRAINER_TEACHER_ENDPOINTS.x: a key is not written here");
      expect(
        fails({ TRAINER_TEACHER_ENDPOINTS: JSON.stringify({ x: { baseUrl: "http://u:p@x/v1" } }) }),
      ).toContain("TRAINER_TEACHER_ENDPOINTS.x.baseUrl: put no credentials in the URL");
      expect(fails({ TRAINER_TEACHER_ENDPOINTS: join(dir, "missing.json") })).toContain(
        "TRAINER_TEACHER_ENDPOINTS: cannot read",
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("a teacher endpoint in a run spec", { timeout: 120_000 }, () => {
  let stack: TestStack;
  let train: string;
  let dumps: string;
  const saved = { key: process.env[KEY_VARIABLE], stale: process.env.SOVEREIGN_TEACHER_API_KEY };

  beforeAll(async () => {
    // An engine interpreter that writes down the environment it was started with, then fails its run.
    dumps = await mkdtemp(join(tmpdir(), "trainer-engine-env-"));
    const fake = join(dumps, "python");
    await writeFile(fake, `#!/bin/sh\nenv > "${dumps}/$6.env"\nexit 3\n`);
    await chmod(fake, 0o755);
    // The service's own environment holds the key's variable, and a stale engine key from elsewhere.
    process.env[KEY_VARIABLE] = KEY;
    process.env.SOVEREIGN_TEACHER_API_KEY = "sk-stale-key";
    stack = await createStack("pglite", {
      ENGINE_PYTHON: fake,
      TRAINER_TEACHER_ENDPOINTS: JSON.stringify({
        served: { baseUrl: "http://127.0.0.1:9/v1", model: "tiny-teacher", apiKeyEnv: KEY_VARIABLE },
        open: { baseUrl: "http://127.0.0.1:9/v2" },
      }),
      [KEY_VARIABLE]: KEY,
    });
    train = await stack.version(
      "served-chat",
      "chat",
      Array.from({ length: 4 }, (_, i) => chat(i)),
    );
  });

  afterAll(async () => {
    await stack?.cleanup();
    await rm(dumps, { recursive: true, force: true });
    for (const [name, value] of [
      [KEY_VARIABLE, saved.key],
      ["SOVEREIGN_TEACHER_API_KEY", saved.stale],
    ] as const)
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
  });

  const engineEnv = async (id: string) =>
    Object.fromEntries(
      (await readFile(join(dumps, `${id}.env`), "utf8"))
        .split("\n")
        .filter((line) => line.includes("="))
        .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
    );

  it("refuses a URL, an unknown endpoint, a missing topK or model, and an endpoint outside OPD, naming the field", async () => {
    const refusals: [unknown, string][] = [
      [
        opdSpec(train, { baseUrl: "http://127.0.0.1:9/v1", model: "m" }),
        'body.teacher: a spec names a teacher endpoint the operator configured (TRAINER_TEACHER_ENDPOINTS), which holds its URL and key, and never a URL: write "teacher": { "endpoint": "<name>" }',
      ],
      [
        opdSpec(train, { endpoint: "elsewhere" }),
        'teacher.endpoint: no teacher endpoint "elsewhere" is configured (TRAINER_TEACHER_ENDPOINTS has open, served)',
      ],
      [
        opdSpec(train, { endpoint: "served" }, { topK: 0 }),
        "body.hyper.topK: a teacher endpoint (teacher.endpoint) serves its top-K log-probs only: set topK above 0",
      ],
      [
        opdSpec(train, { endpoint: "served" }, { teacherOffload: true }),
        "body.hyper.teacherOffload: a teacher endpoint (teacher.endpoint) has no weights here to offload",
      ],
      [
        opdSpec(train, { endpoint: "open" }),
        "teacher.model: endpoint open configures no model; name the one it serves the teacher as",
      ],
      [{ ...opdSpec(train, { endpoint: "served" }), stage: "sft" }, "body.teacher: stage sft has no teacher"],
    ];
    for (const [spec, message] of refusals) {
      const res = await stack.post("/v1/training/runs", spec);
      expect(res.status, JSON.stringify(spec)).toBe(400);
      expect((await errorOf(res)).message).toContain(message);
    }
    expect((await stack.trainer.runs.list()).filter((r) => r.name === "served-opd")).toEqual([]);
  });

  it("gives the engine the endpoint in /config and its key in SOVEREIGN_TEACHER_API_KEY, nowhere else", async () => {
    const res = await stack.post("/v1/training/runs", opdSpec(train, { endpoint: "served" }));
    expect(res.status, await res.clone().text()).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const run = await waitForRun(stack, id);
    expect(run.error).toMatch(/^the engine exited with status 3/);
    const env = await engineEnv(id);
    expect(env.SOVEREIGN_TEACHER_API_KEY).toBe(KEY);
    expect(env[KEY_VARIABLE]).toBeUndefined();
    expect(env.SOVEREIGN_ENGINE_TOKEN).toBeTruthy();

    await stack.trainer.database.db
      .update(tables.trainingRuns)
      .set({ engineTokenSha256: tokenHash("the-token") })
      .where(eq(tables.trainingRuns.id, id));
    const config = await stack.request(`/v1/engine/runs/${id}/config`, {
      headers: { authorization: "Bearer the-token" },
    });
    expect(config.status).toBe(200);
    const text = await config.text();
    expect(JSON.parse(text)).toMatchObject({
      stage: "opd",
      teacher: { endpoint: { name: "served", baseUrl: "http://127.0.0.1:9/v1", model: "tiny-teacher" } },
      hyper: { topK: 4 },
    });
    expect(text).not.toContain(KEY);
    const detail = await stack.request(`/v1/training/runs/${id}`);
    expect(await detail.text()).not.toContain(KEY);
  });

  it("gives the engine of a run whose endpoint has no key no teacher key at all", async () => {
    const res = await stack.post("/v1/training/runs", opdSpec(train, { endpoint: "open", model: "m" }));
    expect(res.status, await res.clone().text()).toBe(202);
    const { id } = (await res.json()) as { id: string };
    await waitForRun(stack, id);
    const env = await engineEnv(id);
    expect(env.SOVEREIGN_TEACHER_API_KEY).toBeUndefined();
    expect(env[KEY_VARIABLE]).toBeUndefined();
  });
});

/** The engine's loopback test server, as a process: its base URL, and a way to stop it and read its tally. */
async function startServedTeacher(env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    enginePython,
    [
      "tests/train/served_teacher.py",
      "--tiny",
      "tiny",
      "--seed",
      "2",
      "--name",
      "tiny-teacher",
      "--api-key-env",
      KEY_VARIABLE,
    ],
    { cwd: ENGINE_DIR, env: { ...process.env, ...env } },
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done) throw new Error(`the served teacher did not start:\n${stderr}`);
  const { baseUrl } = JSON.parse(first.value) as { baseUrl: string };
  // Closing its stdin stops it; its last line is the tally.
  let tally: Promise<{ requests: number; refused: number }> | undefined;
  return {
    baseUrl,
    stop() {
      tally ??= (async () => {
        child.stdin.end();
        const last = await lines.next();
        if (last.done) throw new Error(`the served teacher ended without its tally:\n${stderr}`);
        return JSON.parse(last.value);
      })();
      return tally;
    },
  };
}

describe.skipIf(!engineAvailable)("OPD against a served teacher", { timeout: 600_000 }, () => {
  let stack: TestStack;
  let train: string;
  let teacher: Awaited<ReturnType<typeof startServedTeacher>>;

  beforeAll(async () => {
    teacher = await startServedTeacher({ [KEY_VARIABLE]: KEY });
    stack = await createStack("pglite", {
      TRAINER_TEACHER_ENDPOINTS: JSON.stringify({
        served: { baseUrl: teacher.baseUrl, model: "tiny-teacher", apiKeyEnv: KEY_VARIABLE },
        "wrong-key": { baseUrl: teacher.baseUrl, model: "tiny-teacher", apiKeyEnv: "E4_WRONG_KEY" },
      }),
      [KEY_VARIABLE]: KEY,
      E4_WRONG_KEY: "sk-wrong-5ecret",
    });
    train = await stack.version(
      "served-chat",
      "chat",
      Array.from({ length: 8 }, (_, i) => chat(i)),
    );
  }, 300_000);

  afterAll(async () => {
    await stack?.cleanup();
    await teacher?.stop();
  });

  it("trains with the teacher's top-K log-probs and records its metrics; a wrong key fails naming the endpoint", async () => {
    const res = await stack.post("/v1/training/runs", opdSpec(train, { endpoint: "served" }));
    expect(res.status, await res.clone().text()).toBe(202);
    const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
    expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
    const metrics = run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics);
    expect(metrics).toHaveLength(3);
    for (const m of metrics) {
      expect(Number.isFinite(m.loss) && (m.loss as number) > 0).toBe(true);
      expect(Number.isFinite(m.kl_topk) && (m.kl_topk as number) > 0).toBe(true);
      expect(m.kl).toBeUndefined();
    }
    expect(await readFile(run.logPath ?? "", "utf8")).not.toContain(KEY);

    const wrong = await stack.post("/v1/training/runs", {
      ...opdSpec(train, { endpoint: "wrong-key" }),
      name: "wrong-key",
    });
    const failed = await waitForRun(stack, ((await wrong.json()) as { id: string }).id);
    expect(failed.status).toBe("failed");
    expect(failed.error).toContain(
      `TeacherEndpointError: teacher endpoint 'wrong-key' (POST ${teacher.baseUrl}/completions) refused (check the key the operator configured for it): HTTP 401: Incorrect API key provided: [redacted]`,
    );
    expect(`${failed.error}${failed.logTail}`).not.toContain("sk-wrong-5ecret");
    const tally = await teacher.stop();
    expect(tally.refused).toBeGreaterThanOrEqual(1);
    expect(tally.requests).toBeGreaterThan(tally.refused);
  });
});
