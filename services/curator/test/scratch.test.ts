/**
 * Scratch that killed processes leave behind: a build killed with SIGKILL leaves its folder, which the next
 * curator to open the data folder removes, while the scratch of a build still running (in this process, or in
 * another live one) is kept and that build finishes. Names of a reused pid (another start time), of the names
 * made before start times were recorded, of blob writes and of uploads that stopped long ago are covered, and
 * another host's scratch is left alone.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatasetBuilder, LocalBlobStore, processStartTime, thisProcess } from "@sovereign/shards";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { openCurator } from "../src/runtime";

const DEAD = 2147483646; // above any pid the kernel gives out
const sample = (i: number) => ({
  id: `s${i}`,
  source: "t",
  meta: {},
  tools: null,
  messages: [
    { role: "user" as const, content: `คำถาม ${i}` },
    { role: "assistant" as const, content: "คำตอบ" },
  ],
});

/** A build in another process that stores a few shards, says so, and then waits to be killed. */
const BUILD_AND_WAIT = `
import { DatasetBuilder, LocalBlobStore } from "@sovereign/shards";
const [scratchDir, blobDir] = process.argv.slice(1);
const builder = new DatasetBuilder({ dataset: "killed", kind: "chat", store: new LocalBlobStore(blobDir), scratchDir,
  pipeline: { name: "t", config: {} }, limits: { maxRows: 1 }, workers: 0 });
for (let i = 0; i < 3; i++)
  await builder.add("train", { id: "k" + i, source: "t", meta: {}, tools: null,
    messages: [{ role: "user", content: "q" + i }, { role: "assistant", content: "a" }] }, "k:" + i);
process.stdout.write("ready\\n");
setInterval(() => {}, 1000);
`;

function startBuild(scratchDir: string, blobDir: string) {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", BUILD_AND_WAIT, scratchDir, blobDir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`the build exited early (${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return { child, ready, exited };
}

describe("scratch of processes that no longer run", { timeout: 120_000 }, () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "curator-scratch-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is removed when the curator opens, and a live build's is kept and finishes", async () => {
    const config = { ...loadConfig({ CURATOR_DATA_DIR: dir }), logLevel: "silent" as const };
    const { scratchDir, blobDir } = config;
    const runDir = join(scratchDir, "runs", "00000000-0000-4000-8000-000000000001");
    await mkdir(runDir, { recursive: true });

    // A build killed with SIGKILL, and one that is still running in another process.
    const killed = startBuild(scratchDir, blobDir);
    await killed.ready;
    const killedScratch = (await readdir(scratchDir)).filter((n) =>
      n.startsWith(`build-${killed.child.pid}.`),
    );
    expect(killedScratch).toHaveLength(1);
    killed.child.kill("SIGKILL");
    await killed.exited;
    const running = startBuild(runDir, blobDir);
    await running.ready;
    const runningPid = running.child.pid as number;
    const start = processStartTime(runningPid) ?? "0";

    // A build in this process, under way while the curator opens.
    const store = new LocalBlobStore(blobDir);
    const live = new DatasetBuilder({
      dataset: "live",
      kind: "chat",
      store,
      scratchDir,
      pipeline: { name: "t", config: {} },
      limits: { maxRows: 1 },
      workers: 0,
    });
    for (let i = 0; i < 3; i++) await live.add("train", sample(i), `live:${i}`);

    const host = thisProcess().host;
    const stale = [
      join(scratchDir, `build-${DEAD}-0123456789ab`), // named before start times were recorded
      join(scratchDir, `build-${runningPid}.${Number(start) + 1}.${host}-0123456789ab`), // its pid, reused
      join(runDir, `build-${DEAD}.5.${host}-0123456789ab`),
      join(scratchDir, "publish", "q1", `build-${DEAD}.5.${host}-0123456789ab`),
      join(blobDir, "tmp", `${"a".repeat(64)}.${DEAD}.0badf00d`),
      join(blobDir, "tmp", `${"b".repeat(64)}.${DEAD}.5.${host}.0123456789ab`),
    ];
    const kept = [
      join(scratchDir, `build-${DEAD}.5.ffffffff-0123456789ab`), // another host's: cannot be asked
      join(scratchDir, "not-scratch"),
      join(runDir, "unit-000000.jsonl"),
    ];
    for (const path of [...stale, ...kept]) {
      await mkdir(join(path, ".."), { recursive: true });
      await writeFile(path, "x".repeat(1000));
    }
    const uploads = join(scratchDir, "uploads");
    await mkdir(uploads, { recursive: true });
    const abandoned = join(uploads, "00000000-0000-4000-8000-00000000000a");
    const receiving = join(uploads, "00000000-0000-4000-8000-00000000000b");
    const finished = join(uploads, "00000000-0000-4000-8000-00000000000c");
    for (const path of [abandoned, receiving, finished]) await writeFile(path, "{}\n");
    await writeFile(`${finished}.json`, "{}");
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const path of [abandoned, finished, `${finished}.json`])
      await utimes(path, twoHoursAgo, twoHoursAgo);

    const curator = await openCurator(config, { logger: pino({ level: "silent" }) });
    try {
      const left = await readdir(scratchDir);
      expect(left).not.toContain(killedScratch[0]);
      for (const path of [...stale, abandoned]) expect(await exists(path), path).toBe(false);
      for (const path of [...kept, receiving, finished, `${finished}.json`])
        expect(await exists(path), path).toBe(true);
      // The running builds' scratch is there, and this process's build finishes from it.
      expect(left.filter((n) => n.startsWith(`build-${process.pid}.`))).toHaveLength(1);
      expect((await readdir(runDir)).filter((n) => n.startsWith(`build-${runningPid}.`))).toHaveLength(1);
      const result = await live.finish();
      let indexed = 0;
      for await (const batch of result.sampleIndex()) indexed += batch.length;
      expect(indexed).toBe(3);
      await result.dispose();
    } finally {
      running.child.kill("SIGKILL");
      await running.exited;
      await curator.close();
    }
  });
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );
