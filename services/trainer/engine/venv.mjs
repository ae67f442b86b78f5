/**
 * @module The engine's virtual environment: `services/trainer/engine/.venv`, created from the pinned
 * requirements (`requirements-test.txt`: the runtime, pytest and the reference libraries) the first time it is
 * needed and again whenever those files change; otherwise this returns at once. `npm test` runs it before the
 * tests, so the engine's tests run on a fresh clone with no step of their own.
 *
 * With `ENGINE_PYTHON` set, that interpreter is used as it is and nothing is installed. When the environment
 * cannot be made (no `python3`, no `venv` module, no package index), the reason is printed and the engine's tests
 * are reported skipped, except under `CI`, where that fails.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const engineDir = dirname(fileURLToPath(import.meta.url));
const venvDir = join(engineDir, ".venv");
const python = join(venvDir, "bin", "python");
const stampPath = join(venvDir, ".requirements-sha256");
const inputs = ["requirements.txt", "requirements-test.txt", "constraints.txt"];

function fail(message) {
  process.stderr.write(`engine environment: ${message}\n`);
  if (process.env.CI) {
    process.stderr.write("engine environment: CI needs it, so this fails\n");
    process.exit(1);
  }
  process.stderr.write("engine environment: the engine's tests will be reported skipped\n");
  process.exit(0);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: engineDir, stdio: ["ignore", "inherit", "inherit"] });
  if (result.error) fail(`${command} could not be started: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(" ")} exited with status ${result.status}`);
}

if (process.env.ENGINE_PYTHON) {
  process.stdout.write(`engine environment: ENGINE_PYTHON=${process.env.ENGINE_PYTHON}, used as it is\n`);
  process.exit(0);
}

const stamp = createHash("sha256");
for (const name of inputs) stamp.update(name).update(readFileSync(join(engineDir, name)));
const wanted = stamp.digest("hex");
if (existsSync(python) && existsSync(stampPath) && readFileSync(stampPath, "utf8").trim() === wanted)
  process.exit(0);

process.stdout.write(`engine environment: installing the pinned requirements into ${venvDir} (once)\n`);
if (!existsSync(python)) run(process.env.PYTHON || "python3", ["-m", "venv", venvDir]);
run(python, [
  "-m",
  "pip",
  "install",
  "--disable-pip-version-check",
  "--no-input",
  "--quiet",
  "-r",
  join(engineDir, "requirements-test.txt"),
]);
writeFileSync(stampPath, `${wanted}\n`);
process.stdout.write("engine environment: ready\n");
