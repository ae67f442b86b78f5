/**
 * Exporting a checkpoint as a servable model, through the trainer's HTTP API and its CLI: the engine's export
 * entry point is called with the contract's arguments (checkpoint, a fresh folder, dtype, the run's tokenizer
 * files, the tokenizer's stop ids), what it lists is checked against what it wrote before the folder takes its
 * name, and the export is recorded and audited. Over HTTP the folder is always under the trainer's own
 * `exports/`; a caller names no path. The command line also pushes an export to a Hub model repo (the Hub test
 * server). The contract tests use a small stand-in for the engine's entry point that
 * writes what the contract says (the end-to-end test at the end runs the real one).
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { ROLES, type Role } from "@sovereign/http";
import { tables } from "@sovereign/schemas";
import { startHubTestServer } from "@sovereign/sources/testing";
import { qwen3TokenizerDir } from "@sovereign/tokenizer";
import { eq } from "drizzle-orm";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE_DIR, loadConfig } from "../src/config";
import { openTrainer } from "../src/runtime";
import { createStack, engineAvailable, insertRun, type TestStack, waitForRun } from "./helpers";

/** The contract: `-m sovereign_engine.export --checkpoint C --out O --dtype D --tokenizer T --stop-ids a,b`. */
const FAKE_EXPORT = `
const fs = require("node:fs");
const path = require("node:path");
const crypto = require("node:crypto");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_RECORD, JSON.stringify(args) + "\\n");
const opt = (name) => { const i = args.indexOf(name); return i < 0 ? undefined : args[i + 1]; };
if (args[0] !== "-m" || args[1] !== "sovereign_engine.export") process.exit(3);
const mode = fs.existsSync(process.env.FAKE_MODE) ? fs.readFileSync(process.env.FAKE_MODE, "utf8").trim() : "ok";
if (mode === "fail") {
  console.error("Traceback (most recent call last):\\nValueError: no weights in " + opt("--checkpoint"));
  process.exit(1);
}
const out = opt("--out");
fs.mkdirSync(out, { recursive: true });
for (const name of ["config.json", "model.safetensors"])
  fs.copyFileSync(path.join(opt("--checkpoint"), name), path.join(out, name));
for (const name of ["tokenizer.json", "tokenizer_config.json"])
  fs.copyFileSync(path.join(opt("--tokenizer"), name), path.join(out, name));
fs.writeFileSync(
  path.join(out, "generation_config.json"),
  JSON.stringify({ eos_token_id: opt("--stop-ids").split(",").map(Number), dtype: opt("--dtype") ?? null }),
);
const files = fs.readdirSync(out).sort().map((name) => {
  const bytes = fs.readFileSync(path.join(out, name));
  return { name, sha256: crypto.createHash("sha256").update(bytes).digest("hex"), bytes: bytes.length };
});
if (mode === "bad-size") files[0].bytes += 1;
if (mode === "unlisted") fs.writeFileSync(path.join(out, "stray.txt"), "x");
console.log("exported " + files.length + " files");
console.log(JSON.stringify({ files }));
`;

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const tiny = { tiny: "tiny", seed: 1 };
const spec = (model: unknown = tiny) => ({
  stage: "sft" as const,
  model,
  datasets: { train: "ab".repeat(32) },
  hyper: { totalSteps: 4, seqLen: 32, rowsPerStep: 1 },
});

/** A stand-in engine: `python` runs the script above, recording its arguments; `mode` switches its behaviour. */
async function fakeEngine(dir: string) {
  const record = join(dir, "calls.jsonl");
  const mode = join(dir, "mode");
  await writeFile(join(dir, "export.cjs"), FAKE_EXPORT);
  const python = join(dir, "python");
  await writeFile(
    python,
    `#!/bin/sh\nFAKE_RECORD='${record}' FAKE_MODE='${mode}' exec '${process.execPath}' '${join(dir, "export.cjs")}' "$@"\n`,
  );
  await chmod(python, 0o755);
  return {
    python,
    setMode: (m: "ok" | "fail" | "bad-size" | "unlisted") => writeFile(mode, m),
    calls: async () =>
      (await readFile(record, "utf8").catch(() => ""))
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as string[]),
  };
}

/** A checkpoint folder as the engine writes one: config, weights (bytes enough for the stand-in) and state. */
async function checkpointDir(root: string, step: number): Promise<string> {
  const dir = join(root, `step-${step}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify({ model_type: "qwen3", step }));
  await writeFile(join(dir, "model.safetensors"), Buffer.alloc(64 + step, step));
  await writeFile(join(dir, "trainer_state.pt"), "state");
  return dir;
}

describe.each(testDatabaseKinds())("exporting a checkpoint on %s", { timeout: 60_000 }, (kind) => {
  let stack: TestStack;
  let work: string;
  let engine: Awaited<ReturnType<typeof fakeEngine>>;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "trainer-export-"));
    engine = await fakeEngine(work);
    stack = await createStack(kind, { ENGINE_PYTHON: engine.python, TRAINER_AUTH: "on" });
    for (const role of ROLES)
      tokens[role] = (await stack.trainer.access.createToken({ name: `${role}-token`, role })).token;
  });
  afterAll(async () => {
    await stack?.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  const exportRun = (id: string, body: unknown, role: Role = "pipeline") =>
    stack.request(`/v1/training/runs/${id}/export`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens[role]}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const errorOf = async (res: Response) => ((await res.json()) as { error: { message: string } }).error;

  /** A finished run with checkpoints at `steps`, recorded as its engine reports them. */
  async function runWithCheckpoints(steps: number[], model: unknown = tiny) {
    const id = await insertRun(stack, spec(model) as never);
    const dirs: Record<number, string> = {};
    for (const step of steps) {
      dirs[step] = await checkpointDir(join(work, "checkpoints", id), step);
      await stack.trainer.runs.recordCheckpoint(id, step, dirs[step], [
        { name: "model.safetensors", sha256: "0".repeat(64), bytes: 64 + step },
      ]);
    }
    return { id, dirs };
  }

  it("exports the last checkpoint under the trainer's own folder with the contract's arguments, once", async () => {
    await engine.setMode("ok");
    const { id, dirs } = await runWithCheckpoints([2, 4]);
    const before = (await engine.calls()).length;
    const res = await exportRun(id, {});
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(201);
    const done = (await res.json()) as {
      dir: string;
      step: number;
      files: { name: string; sha256: string }[];
    };
    const dir = join(stack.trainer.config.dataDir, "exports", id, "step-4");
    expect(done).toMatchObject({ run: id, step: 4, dir, dtype: "bfloat16", hub: null });
    expect(done.files.map((f) => f.name)).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    for (const file of done.files) expect(sha256(await readFile(join(dir, file.name)))).toBe(file.sha256);
    expect(await readFile(join(dir, "model.safetensors"))).toEqual(
      await readFile(join(dirs[4] as string, "model.safetensors")),
    );
    // The engine was asked exactly this, into a fresh folder beside the destination that took its name after.
    const calls = (await engine.calls()).slice(before);
    expect(calls).toHaveLength(1);
    const [call] = calls as [string[]];
    const partial = call[call.indexOf("--out") + 1] as string;
    expect(call).toEqual([
      "-m",
      "sovereign_engine.export",
      "--checkpoint",
      dirs[4],
      "--out",
      partial,
      "--dtype",
      "bfloat16",
      "--tokenizer",
      qwen3TokenizerDir(),
      "--stop-ids",
      "151645,151643",
    ]);
    expect(dirname(partial)).toBe(dirname(dir));
    expect(existsSync(partial)).toBe(false);
    expect(JSON.parse(await readFile(join(dir, "generation_config.json"), "utf8")).eos_token_id).toEqual([
      151645, 151643,
    ]);

    // Asked again: the recorded export, not another run of the engine.
    const again = await exportRun(id, {}, "admin");
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(done);
    expect((await engine.calls()).length).toBe(before + 1);
    const run = await stack.request(`/v1/training/runs/${id}`, {
      headers: { authorization: `Bearer ${tokens.trainer}` },
    });
    expect(((await run.json()) as { exports: unknown[] }).exports).toEqual([done]);
    const audit = await stack.trainer.access.audit({ action: "training.export" });
    expect(audit.filter((a) => a.target.id === id).map((a) => a.actor)).toEqual([
      "admin-token",
      "pipeline-token",
    ]);
  });

  it("lets only the roles that start runs export", async () => {
    const { id } = await runWithCheckpoints([1]);
    for (const role of ROLES) {
      const res = await exportRun(id, {}, role);
      if (role === "admin" || role === "pipeline") expect(res.status, role).toBeLessThan(300);
      else expect(res.status, role).toBe(403);
    }
    const anonymous = await stack.request(`/v1/training/runs/${id}/export`, { method: "POST" });
    expect(anonymous.status).toBe(401);
    // No body at all is the same as {}: the last checkpoint, exported before.
    const bodiless = await stack.request(`/v1/training/runs/${id}/export`, {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    expect(bodiless.status, await bodiless.clone().text()).toBe(200);
  });

  it("exports the step and dtype asked for, and refuses unknown steps, a path, and a run with no checkpoint", async () => {
    await engine.setMode("ok");
    const { id, dirs } = await runWithCheckpoints([2, 4]);
    const res = await exportRun(id, { step: 2, dtype: "float32" });
    expect(res.status).toBe(201);
    const done = (await res.json()) as { dir: string };
    expect(done).toMatchObject({
      step: 2,
      dtype: "float32",
      dir: join(stack.trainer.config.dataDir, "exports", id, "step-2-float32"),
    });
    const call = (await engine.calls()).at(-1) as string[];
    expect(call.slice(2, 4)).toEqual(["--checkpoint", dirs[2]]);
    expect(call.slice(call.indexOf("--dtype"), call.indexOf("--dtype") + 2)).toEqual(["--dtype", "float32"]);

    const unknownStep = await exportRun(id, { step: 3 });
    expect(unknownStep.status).toBe(404);
    expect((await errorOf(unknownStep)).message).toBe(
      `checkpoint step 3 of training run ${id} (it has steps 2, 4) not found`,
    );
    const elsewhere = join(work, "elsewhere");
    const withDir = await exportRun(id, { dir: elsewhere });
    expect(withDir.status).toBe(400);
    expect((await errorOf(withDir)).message).toContain(
      "an export over HTTP goes to the trainer's own folder (TRAINER_DATA_DIR/exports/<run>/step-<k>)",
    );
    expect(existsSync(elsewhere)).toBe(false);
    expect((await exportRun(id, { dtype: "float16" })).status).toBe(400);

    const bare = await insertRun(stack, spec() as never);
    const none = await exportRun(bare, {});
    expect(none.status).toBe(409);
    expect((await errorOf(none)).message).toBe(`training run ${bare} has no checkpoint to export yet`);
    expect((await exportRun("00000000-0000-4000-8000-000000000000", {})).status).toBe(404);
  });

  it("gives the export the tokenizer files of a model folder that has them, else Qwen3's", async () => {
    await engine.setMode("ok");
    const own = join(work, "model-with-tokenizer");
    await mkdir(own, { recursive: true });
    for (const name of ["tokenizer.json", "tokenizer_config.json"])
      await writeFile(join(own, name), await readFile(join(qwen3TokenizerDir(), name)));
    const bare = join(work, "model-without-tokenizer");
    await mkdir(bare, { recursive: true });
    for (const [model, expected] of [
      [{ path: own }, own],
      [{ path: bare }, qwen3TokenizerDir()],
    ] as const) {
      const { id } = await runWithCheckpoints([1], model);
      expect((await exportRun(id, {})).status).toBe(201);
      const call = (await engine.calls()).at(-1) as string[];
      expect(call[call.indexOf("--tokenizer") + 1]).toBe(expected);
    }
  });

  it("fails an export whose engine fails or whose files disagree with its list, leaving nothing behind", async () => {
    const { id } = await runWithCheckpoints([3]);
    const cases = [
      ["fail", /^the export failed \(status 1\):\n.*\nValueError: no weights in .*step-3$/s],
      ["bad-size", /^the export's config\.json holds \d+ bytes, not the \d+ listed$/],
      ["unlisted", /^the export's files disagree with its list: not listed stray\.txt$/],
    ] as const;
    for (const [mode, message] of cases) {
      await engine.setMode(mode);
      const res = await exportRun(id, {});
      expect(res.status, mode).toBe(500);
      expect((await errorOf(res)).message, mode).toMatch(message);
      expect(await readdir(join(stack.trainer.config.dataDir, "exports", id))).toEqual([]);
    }
    const recorded = await stack.trainer.database.db
      .select()
      .from(tables.trainingExports)
      .where(eq(tables.trainingExports.runId, id));
    expect(recorded).toEqual([]);
    await engine.setMode("ok");
    expect((await exportRun(id, {})).status).toBe(201);
  });
});

describe("trainer export on the command line", { timeout: 120_000 }, () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), "trainer-export-cli-"));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it("writes a checkpoint's model into a new or empty folder of its user's choice, and pushes it to a Hub model repo", async () => {
    const engine = await fakeEngine(work);
    await engine.setMode("ok");
    // Its own embedded database: the server DATABASE_URL names is where test databases are made.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      CURATOR_DATA_DIR: join(work, "curator"),
      TRAINER_DATA_DIR: join(work, "trainer"),
      ENGINE_PYTHON: engine.python,
      LOG_LEVEL: "silent",
    };
    delete env.DATABASE_URL;
    const config = loadConfig(env);
    let id: string;
    let checkpoint: string;
    {
      const trainer = await openTrainer(config, { logger: pino({ level: "silent" }) });
      try {
        const run = await trainer.database.db
          .insert(tables.trainingRuns)
          .values({
            stage: "sft",
            spec: spec() as never,
            datasets: {},
            specHash: "0".repeat(64),
            status: "cancelled",
          })
          .returning();
        id = run[0]?.id as string;
        checkpoint = await checkpointDir(join(work, "checkpoints"), 2);
        await trainer.runs.recordCheckpoint(id, 2, checkpoint, [
          { name: "model.safetensors", sha256: "0".repeat(64), bytes: 66 },
        ]);
        await checkpointDir(join(work, "checkpoints"), 5);
        await trainer.runs.recordCheckpoint(id, 5, join(work, "checkpoints", "step-5"), [
          { name: "model.safetensors", sha256: "0".repeat(64), bytes: 69 },
        ]);
      } finally {
        await trainer.close();
      }
    }
    // Asynchronous: the Hub test server below answers from this process.
    const cli = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn(
          process.execPath,
          ["--import", "tsx", join(import.meta.dirname, "../src/cli.ts"), ...args],
          { env: { ...env } },
        );
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => {
          stdout += chunk.toString("utf8");
        });
        child.stderr.on("data", (chunk: Buffer) => {
          stderr += chunk.toString("utf8");
        });
        child.once("close", (status) => done({ status, stdout, stderr }));
      });
    const out = join(work, "served", "tiny-step-2");
    await mkdir(out, { recursive: true }); // empty: allowed
    const done = await cli("export", id, "2", out, "--dtype", "float32");
    expect(done.status, done.stderr).toBe(0);
    expect(done.stdout).toContain(`step 2 of run ${id} exported to ${out}`);
    expect(done.stdout).toMatch(/^[0-9a-f]{64} {2}\d+\tmodel\.safetensors$/m);
    expect((await readdir(out)).sort()).toEqual([
      "config.json",
      "generation_config.json",
      "model.safetensors",
      "tokenizer.json",
      "tokenizer_config.json",
    ]);
    const call = (await engine.calls()).at(-1) as string[];
    expect(call.slice(2, 4)).toEqual(["--checkpoint", checkpoint]);
    expect(call).toContain("float32");

    const notEmpty = await cli("export", id, out);
    expect(notEmpty.status).toBe(1);
    expect(notEmpty.stderr).toContain(`${out} is not empty: export into a new or empty folder`);
    const last = await cli("export", id, join(work, "served", "last"));
    expect(last.status, last.stderr).toBe(0);
    expect(last.stdout).toContain(`step 5 of run ${id} exported to`);
    expect((await cli("export", id)).status).toBe(2);
    expect((await cli("export", id, "two", out)).stderr).toContain("step: two is not a step number");

    // To a Hub model repo (the test server on loopback): the export made above, pushed as it is.
    const hub = await startHubTestServer({ writeToken: "hf_trainer_token" });
    let commit: string;
    try {
      const refused = await cli(
        "export",
        id,
        "2",
        out,
        "--dtype",
        "float32",
        "--push",
        "thai-lab/tiny-sft",
        "--create",
      );
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain("set HF_TOKEN to a token (hf_…) with write access to the repo");
      env.HF_ENDPOINT = hub.url;
      env.HF_TOKEN = "hf_trainer_token";
      const pushed = await cli(
        "export",
        id,
        "2",
        out,
        "--dtype",
        "float32",
        "--push",
        "thai-lab/tiny-sft",
        "--create",
      );
      expect(pushed.status, pushed.stderr).toBe(0);
      expect(pushed.stdout).toContain(`step 2 of run ${id} was exported before to ${out}`);
      commit = /commit ([0-9a-f]{40})$/m.exec(pushed.stdout)?.[1] as string;
      expect(pushed.stdout).toContain(`pushed to ${hub.url}/thai-lab/tiny-sft (main): commit ${commit}`);
      const files = hub.getRepo("thai-lab/tiny-sft", "model")?.commits[commit] ?? {};
      for (const name of await readdir(out))
        expect(sha256(Buffer.from(files[name] as Uint8Array)), name).toBe(
          sha256(await readFile(join(out, name))),
        );
      // A folder changed since its export is not sent.
      await writeFile(join(out, "config.json"), "{}");
      const changed = await cli("export", id, "2", out, "--dtype", "float32", "--push", "thai-lab/tiny-sft");
      expect(changed.status).toBe(1);
      expect(changed.stderr).toMatch(/the export's config\.json (holds \d+ bytes|hashes to)/);
      env.HF_TOKEN = "hf_not_allowed";
      const denied = await cli("export", id, "--push", "thai-lab/tiny-sft", join(work, "served", "last"));
      expect(denied.status).toBe(1);
      expect(denied.stderr).toContain("the Hub refused HF_TOKEN for model repo thai-lab/tiny-sft");
    } finally {
      await hub.close();
      delete env.HF_ENDPOINT;
      delete env.HF_TOKEN;
    }

    const trainer = await openTrainer(config, { logger: pino({ level: "silent" }) });
    try {
      const run = await trainer.runs.get(id);
      expect(run.exports.map((e) => [e.step, e.dir, e.dtype, e.hub])).toEqual([
        [2, out, "float32", { repo: "thai-lab/tiny-sft", commit }],
        [5, join(work, "served", "last"), "bfloat16", null],
      ]);
      const audit = (await trainer.access.audit()).filter((a) => a.action.startsWith("training.export"));
      expect(audit.map((a) => [a.actor, a.action, a.target])).toEqual([
        ["cli", "training.export.push", { id, repo: "thai-lab/tiny-sft", commit }],
        ["cli", "training.export", { id, step: "5", dir: join(work, "served", "last") }],
        ["cli", "training.export", { id, step: "2", dir: out }],
      ]);
    } finally {
      await trainer.close();
    }
  });
});

/** The engine's export entry point, once it is there: a trained tiny model that transformers serves. */
const exportModule = join(ENGINE_DIR, "sovereign_engine", "export.py");

describe.skipIf(!engineAvailable || !existsSync(exportModule))("exporting with the engine", () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await createStack();
  });
  afterAll(async () => {
    await stack?.cleanup();
  });

  it("exports a trained tiny Qwen3 that transformers loads, with Qwen3's tokenizer and stop ids", async () => {
    const train = await stack.version("export-chat", "chat", [
      {
        id: "c1",
        messages: [
          { role: "user", content: "เมืองหลวงของไทยคืออะไร" },
          { role: "assistant", content: "กรุงเทพมหานคร" },
        ],
      },
    ]);
    const res = await stack.post("/v1/training/runs", {
      stage: "sft",
      model: tiny,
      datasets: { train },
      hyper: { totalSteps: 2, seqLen: 32, rowsPerStep: 1, checkpointEvery: 0 },
    });
    const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
    expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
    const exported = await stack.post(`/v1/training/runs/${run.id}/export`, { dtype: "bfloat16" });
    expect(exported.status, await exported.clone().text()).toBe(201);
    const { dir } = (await exported.json()) as { dir: string };
    const checkpoint = run.checkpoints.at(-1)?.path as string;
    const check = spawnSync(
      stack.trainer.config.engine.python,
      [
        "-c",
        `
import json, sys, torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig
out, checkpoint = sys.argv[1], sys.argv[2]
model = AutoModelForCausalLM.from_pretrained(out)
tokenizer = AutoTokenizer.from_pretrained(out)
generation = GenerationConfig.from_pretrained(out)
trained = load_file(f"{checkpoint}/model.safetensors")
exported = model.state_dict()
same = all(torch.equal(exported[k].float(), v.to(torch.bfloat16).float()) for k, v in trained.items() if k in exported)
ids = tokenizer.apply_chat_template([{"role": "user", "content": "สวัสดี"}], add_generation_prompt=True)
ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
new = model.generate(torch.tensor([ids]), max_new_tokens=4, do_sample=False)
print(json.dumps({"dtype": str(model.dtype), "same": same, "eos": generation.eos_token_id,
                  "im_end": tokenizer.convert_tokens_to_ids("<|im_end|>"), "generated": new.shape[1] - len(ids)}))
`,
        dir,
        checkpoint,
      ],
      { encoding: "utf8" },
    );
    expect(check.status, check.stderr).toBe(0);
    const loaded = JSON.parse(check.stdout.trim().split("\n").at(-1) as string);
    expect(loaded).toMatchObject({
      dtype: "torch.bfloat16",
      same: true,
      eos: [151645, 151643],
      im_end: 151645,
    });
    expect(loaded.generated).toBeGreaterThan(0);
  });
});
