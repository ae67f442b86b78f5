/**
 * The Python engine's tests (pytest under `tests/`), run once with the engine's interpreter and reported here
 * test by test, so `npm test` covers the engine too. The interpreter is `ENGINE_PYTHON`, else the engine's own
 * virtual environment (`.venv`, which `npm test` makes from the pinned requirements), else `python3`. Where it
 * cannot import torch, transformers and pytest, every engine test is reported skipped with that reason.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, it } from "vitest";
import { defaultEnginePython } from "../src/config";

const engineDir = dirname(fileURLToPath(import.meta.url));
const python = process.env.ENGINE_PYTHON || defaultEnginePython();

/** Whether the interpreter can run the engine's tests at all, and why not. */
function missingRequirement(): string | undefined {
  const probe = spawnSync(python, ["-c", "import torch, transformers, pytest"], { encoding: "utf8" });
  if (probe.error) return `${python} cannot be started (${probe.error.message}); set ENGINE_PYTHON`;
  if (probe.status !== 0)
    return `${python} cannot import torch, transformers and pytest (run \`node services/trainer/engine/venv.mjs\`, or set ENGINE_PYTHON)`;
  return undefined;
}

/** Test ids as pytest collects them, e.g. `tests/kernels/test_linear_logprobs.py::test_matches_reference[37]`. */
function collect(): string[] {
  const out = execFileSync(
    python,
    ["-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
    {
      cwd: engineDir,
      encoding: "utf8",
    },
  );
  return out.split("\n").filter((line) => line.includes("::"));
}

type Outcome = { outcome: "passed" | "failed" | "skipped"; text: string };

const missing = missingRequirement();
const ids = missing ? [] : collect();

describe.skipIf(missing !== undefined)(`engine (pytest with ${python})`, () => {
  const results = new Map<string, Outcome>();
  let runFailure = "";

  // One pytest run for the whole suite, in this hook: it takes minutes (two-rank runs, the benchmarks' smoke tests),
  // far longer on a machine other work is loading, so the hook gets 45 minutes.
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), "engine-tests-"));
    const report = join(dir, "report.jsonl");
    try {
      const run = spawnSync(python, ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], {
        cwd: engineDir,
        encoding: "utf8",
        env: { ...process.env, ENGINE_TEST_REPORT: report },
        maxBuffer: 64 * 1024 * 1024,
      });
      runFailure = `pytest exited with ${run.status}:\n${(run.stdout + run.stderr).slice(-4000)}`;
      const lines = existsSync(report) ? readFileSync(report, "utf8").trim().split("\n") : [];
      for (const line of lines.filter(Boolean)) {
        const { nodeid, outcome, text } = JSON.parse(line) as Outcome & { nodeid: string };
        // A failed teardown after a passed call is still a failure.
        if (results.get(nodeid)?.outcome !== "failed") results.set(nodeid, { outcome, text });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 2_700_000);

  for (const id of ids) {
    it(id, (context) => {
      const result = results.get(id);
      if (!result) throw new Error(`${id} has no result: ${runFailure}`);
      if (result.outcome === "skipped") context.skip(result.text);
      if (result.outcome === "failed") throw new Error(result.text);
    });
  }
});

if (missing !== undefined)
  describe("engine", () => {
    it.skip(`tests not run: ${missing}`, () => {});
  });
