import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { sha256Hex } from "@sovereign/shards";
import { startHubTestServer } from "@sovereign/sources/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, jsonl } from "./helpers";

const cli = fileURLToPath(new URL("../bin/curator.mjs", import.meta.url));

type Run = { code: number | null; stdout: string; stderr: string };

/** The real CLI in a child process, on the embedded database in its own data folder. */
function curator(dataDir: string, ...args: string[]): Promise<Run> {
  return curatorWith({}, dataDir, ...args);
}

/** The same, with more environment variables. */
function curatorWith(extra: NodeJS.ProcessEnv, dataDir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra, CURATOR_DATA_DIR: dataDir, LOG_LEVEL: "warn" };
    delete env.DATABASE_URL;
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const hashIn = (text: string) => /\b([0-9a-f]{64})\b/.exec(text)?.[1] ?? "";

// Each command is a fresh process that loads the TypeScript sources and opens PGlite: seconds each on two cores.
describe("curator CLI", { timeout: 180_000 }, () => {
  let dir: string;
  let dataDir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "curator-cli-"));
    dataDir = join(dir, "state");
    await writeFile(
      join(dir, "train.jsonl"),
      jsonl([chatRow("c1", "สวัสดี", "สวัสดีครับ"), chatRow("c2", "ลาก่อน", "ลาก่อนครับ")]),
    );
    await writeFile(join(dir, "dev.jsonl"), jsonl([chatRow("d1", "ขอบคุณ", "ยินดีครับ")]));
    await writeFile(
      join(dir, "bad.jsonl"),
      `${JSON.stringify(chatRow("b1", "ดี", "ดีครับ"))}\n{oops\n${JSON.stringify({ id: "b2", messages: [] })}\n`,
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("builds, lists, shows, verifies and exports a version; verify catches a flipped byte", async () => {
    const built = await curator(
      dataDir,
      "build",
      "cli-chat",
      "--kind",
      "chat",
      join(dir, "train.jsonl"),
      `dev=${join(dir, "dev.jsonl")}`,
      "--commit",
    );
    expect(built.stderr).not.toMatch(/curator:/);
    expect(built.code).toBe(0);
    const hash = hashIn(built.stdout);
    expect(built.stdout).toContain("committed");

    const listed = await curator(dataDir, "list");
    expect(listed.stdout).toMatch(/cli-chat\tchat\t1 version/);
    const versions = await curator(dataDir, "list", "cli-chat");
    expect(versions.stdout).toContain(hash);

    const shown = await curator(dataDir, "show", hash.slice(0, 10));
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain("data/dev-00000-of-00001.parquet\t1 rows");
    expect(shown.stdout).toContain("data/train-00000-of-00001.parquet\t2 rows");

    const ok = await curator(dataDir, "verify", hash);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("verified");

    const out = join(dir, "export");
    const exported = await curator(dataDir, "export", hash, out);
    expect(exported.code).toBe(0);
    expect(sha256Hex(await readFile(join(out, "manifest.json")))).toBe(hash);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    for (const shard of manifest.shards)
      expect(sha256Hex(await readFile(join(out, shard.path)))).toBe(shard.sha256);
    expect(await readFile(join(out, "README.md"), "utf8")).toContain(`config_name: default`);
    // A folder with files in it is not exported into, and keeps what it had.
    await writeFile(join(out, "notes.txt"), "mine");
    const into = await curator(dataDir, "export", hash, out);
    expect(into.code).toBe(1);
    expect(into.stderr).toContain(`export: ${out} is not empty; give a new or empty folder`);
    expect(await readFile(join(out, "notes.txt"), "utf8")).toBe("mine");

    // Pushed to a Hub dataset repo (the test server on loopback), once it is allowed to leave unpublished.
    const hub = await startHubTestServer({ writeToken: "hf_cli_token" });
    try {
      const env = { HF_ENDPOINT: hub.url, HF_TOKEN: "hf_cli_token" };
      const refused = await curatorWith(env, dataDir, "push", hash, "thai-lab/cli-chat", "--create");
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/is committed, not published/);
      const pushed = await curatorWith(
        env,
        dataDir,
        "push",
        hash.slice(0, 10),
        "thai-lab/cli-chat",
        "--create",
        "--allow-committed",
      );
      expect(pushed.stderr).not.toMatch(/curator:/);
      expect(pushed.code).toBe(0);
      const commit = /commit ([0-9a-f]{40})/.exec(pushed.stdout)?.[1];
      expect(pushed.stdout).toContain(
        `pushed version ${hash} to ${hub.url}/datasets/thai-lab/cli-chat (main)`,
      );
      const files = hub.getRepo("thai-lab/cli-chat")?.commits[commit ?? ""] ?? {};
      for (const shard of manifest.shards)
        expect(sha256Hex(files[shard.path] as Uint8Array)).toBe(shard.sha256);
      expect(sha256Hex(files["manifest.json"] as Uint8Array)).toBe(hash);
      const again = await curatorWith(env, dataDir, "push", hash, "thai-lab/cli-chat", "--allow-committed");
      expect(again.stdout).toContain(`was already pushed to thai-lab/cli-chat@main: commit ${commit}`);
    } finally {
      await hub.close();
    }

    // Flip one byte of the train shard in the blob store.
    const train = manifest.shards.find((s: { split: string }) => s.split === "train");
    const blob = join(
      dataDir,
      "blobs",
      "sha256",
      train.sha256.slice(0, 2),
      train.sha256.slice(2, 4),
      train.sha256,
    );
    const bytes = await readFile(blob);
    bytes[50] = (bytes[50] ?? 0) ^ 0xff;
    await writeFile(blob, bytes);
    const bad = await curator(dataDir, "verify", hash);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`BAD  ${train.path}`);
    expect(bad.stdout).toContain(`shard ${train.path} of version ${hash}`);
    expect(bad.stdout).toContain("FAILED verification: 1 bad file");
    // An export that fails half-way (at the corrupt shard) leaves no folder behind, partial or temporary.
    const failed = await curator(dataDir, "export", hash, join(dir, "export-bad"));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`shard ${train.path} of version ${hash}`);
    expect((await readdir(dir)).filter((name) => name.includes("export-bad"))).toEqual([]);
  });

  it("verify re-hashes the stored manifest and card, naming one that is corrupt or missing", async () => {
    const built = await curator(dataDir, "build", "cli-files", "--kind", "chat", join(dir, "train.jsonl"));
    expect(built.code).toBe(0);
    const hash = hashIn(built.stdout);
    const blob = (sha: string) => join(dataDir, "blobs", "sha256", sha.slice(0, 2), sha.slice(2, 4), sha);
    const shown = await curator(dataDir, "verify", hash);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^ok {3}manifest\.json$/m);
    expect(shown.stdout).toMatch(/^ok {3}README\.md$/m);

    // The card's blob is named by the sha256 of the README.md an export writes.
    const out = join(dir, "export-files");
    expect((await curator(dataDir, "export", hash, out)).code).toBe(0);
    const cardBlob = sha256Hex(await readFile(join(out, "README.md")));
    await writeFile(blob(cardBlob), "# not the card\n");
    const corrupt = await curator(dataDir, "verify", hash);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stdout).toContain("BAD  README.md");
    expect(corrupt.stdout).toContain(`README.md of version ${hash}: stored bytes hash to`);

    await rm(blob(hash));
    const missing = await curator(dataDir, "verify", hash);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain("MISSING  manifest.json");
    expect(missing.stdout).toContain(
      `manifest.json of version ${hash}: blob ${hash} is missing from the store`,
    );
    expect(missing.stdout).toContain("FAILED verification: 2 bad file(s) (1 missing)");
  });

  it("lists every bad line with file:line and fails, or keeps the good ones within --max-rejected", async () => {
    const refused = await curator(dataDir, "build", "cli-bad", "--kind", "chat", join(dir, "bad.jsonl"));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`${join(dir, "bad.jsonl")}:2: malformed`);
    expect(refused.stderr).toContain(`${join(dir, "bad.jsonl")}:3: invalid`);
    const kept = await curator(dataDir, "build", "cli-bad", join(dir, "bad.jsonl"), "--max-rejected", "2");
    expect(kept.code).toBe(0);
    expect(kept.stdout).toContain("1 rows");
    expect(kept.stdout).toContain("2 record(s) rejected");
  });

  it("gives the demo the same version hash in a fresh data folder, and explains usage errors", async () => {
    const first = await curator(join(dir, "demo-a"), "demo", "--no-serve");
    const second = await curator(join(dir, "demo-b"), "demo", "--no-serve");
    expect(first.code).toBe(0);
    expect(hashIn(first.stdout)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashIn(second.stdout)).toBe(hashIn(first.stdout));
    const blobs = await readdir(join(dir, "demo-a", "blobs", "sha256"));
    expect(blobs.length).toBeGreaterThan(0);
    // The demo comes with a review queue over its version, made once.
    const queued = /review queue "demo review": (\d+) items, 0 reviewed/.exec(first.stdout);
    expect(Number(queued?.[1])).toBeGreaterThan(0);
    const again = await curator(join(dir, "demo-a"), "demo", "--no-serve");
    expect(again.stdout).toContain(queued?.[0]);

    const usage = await curator(dataDir, "build", "needs-kind", join(dir, "train.jsonl"));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("give --kind");
    const unknown = await curator(dataDir, "frobnicate");
    expect(unknown.code).toBe(2);
  });

  it("runs the operator's own spec file wherever its user may read, outside the source folders", async () => {
    const spec = {
      name: "cli-outside",
      dataset: { name: "cli-outside", kind: "chat" },
      sources: [{ type: "files", name: "train", paths: [join(dir, "train.jsonl")] }],
      steps: [],
    };
    await writeFile(join(dir, "outside.json"), JSON.stringify(spec));
    const sources = join(dir, "no-sources-here");
    const run = await curatorWith(
      { CURATOR_SOURCES_DIR: sources, CURATOR_IMPORT_DIR: sources, CURATOR_PIPELINE_WORKERS: "0" },
      join(dir, "operator"),
      "run",
      join(dir, "outside.json"),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/run \S+ succeeded: .*2 rows/);
  });

  it("refuses a second process on the same embedded database with a clear message", async () => {
    const { openDatabase } = await import("@sovereign/db");
    const held = await openDatabase({ dataDir: join(dataDir, "pg") });
    try {
      const blocked = await curator(dataDir, "list");
      expect(blocked.code).toBe(1);
      expect(blocked.stderr).toContain(`is in use by process ${process.pid}`);
    } finally {
      await held.close();
    }
  });

  it("creates the first admin token on the command line, lists and revokes it, and audits both", async () => {
    const state = join(dir, "tokens");
    const created = await curator(state, "token", "create", "--role", "admin", "--name", "root");
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^sv_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/token [0-9a-f-]{36} \(admin, root\); shown once/);
    const id = /token ([0-9a-f-]{36})/.exec(created.stderr)?.[1] ?? "";
    const listed = await curator(state, "token", "list");
    expect(listed.stdout).toContain(`${id}\tadmin\troot\tactive\tnever used`);
    expect(listed.stdout).not.toContain(token);
    const bad = await curator(state, "token", "create", "--role", "root", "--name", "x");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--role: root is not one of admin, curator, reviewer, pipeline, trainer");
    const revoked = await curator(state, "token", "revoke", id);
    expect(revoked.stdout).toMatch(new RegExp(`token ${id} \\(admin, root\\) revoked `));
    const audit = await curator(state, "audit");
    expect(audit.stdout).toMatch(/\tcli\ttoken\.revoke\t/);
    expect(audit.stdout).toMatch(/\tcli\ttoken\.create\t/);
  });

  it("fails at start naming a bad configuration variable", async () => {
    const run = await new Promise<Run>((resolve) => {
      const child = spawn(process.execPath, [cli, "list"], {
        env: { ...process.env, PORT: "not-a-port", DATABASE_URL: "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => {
        stderr += d;
      });
      child.on("close", (code) => resolve({ code, stdout: "", stderr }));
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("PORT");
  });
});
