/**
 * What a pipeline spec sent over HTTP may read, on both databases: its `files` sources stay below the source
 * roots (absolute paths, `../`, `/proc`, links to files and folders outside, escaping globs are refused, by the
 * request or by the run, and nothing is committed), a relative source still builds, a resumed run stays
 * confined, and the operator's own run (the command line) reads where its user may.
 */
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { chatRow, createTestCurator, jsonl, postJson, type TestCurator } from "./helpers";

const SECRET = "ความลับของเครื่องแม่ข่าย-7f3a";

const specReading = (dataset: string, paths: string[]) => ({
  name: dataset,
  dataset: { name: dataset, kind: "chat" },
  sources: [{ type: "files", name: "fixture", paths }],
  steps: [],
});

type ErrorBody = { error: { code: string; message: string } };
type RunBody = { id: string; status: string; origin: string };

describe.each(testDatabaseKinds())("sources of runs queued over HTTP (%s)", (kind) => {
  let curator: TestCurator;
  let sources: string;
  let outside: string;
  const request = (path: string, init?: RequestInit) => curator.app.request(path, init);
  const post = (path: string, body: unknown) => postJson(curator.app, path, body);

  /** The dataset's versions over HTTP: none, whether the dataset was never created (404) or has none. */
  const versionsOf = async (dataset: string) => {
    const res = await request(`/v1/datasets/${dataset}/versions`);
    if (res.status === 404) return [];
    return ((await res.json()) as { items: unknown[] }).items;
  };

  /** Queue the spec over HTTP; the run is accepted and fails at execution, naming the source and the path. */
  const failedRun = async (dataset: string, paths: string[]) => {
    const res = await post("/v1/pipelines/runs", { spec: specReading(dataset, paths) });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as RunBody;
    const run = await curator.runs.waitFor(queued.id);
    expect(run.status).toBe("failed");
    expect(await versionsOf(dataset)).toEqual([]);
    expect(queued.origin).toBe("api");
    return run;
  };

  /** Queue the spec over HTTP; the request itself is refused with 400 and no run is queued. */
  const refused = async (dataset: string, paths: string[]) => {
    const before = (await curator.runs.list({ limit: 200 })).length;
    const res = await post("/v1/pipelines/runs", { spec: specReading(dataset, paths) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("BAD_REQUEST");
    expect((await curator.runs.list({ limit: 200 })).length).toBe(before);
    expect(await versionsOf(dataset)).toEqual([]);
    return body.error.message;
  };

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    sources = join(curator.dir, "sources");
    outside = join(curator.dir, "outside");
    await mkdir(join(sources, "walked"), { recursive: true });
    await mkdir(join(sources, "walked-dir"), { recursive: true });
    await mkdir(join(sources, "globbed"), { recursive: true });
    await mkdir(outside, { recursive: true });
    curator.config.sourcesDir = sources;
    curator.config.pipelineWorkers = 0;
    await writeFile(join(sources, "good.jsonl"), jsonl([chatRow("g1", "สวัสดี", "สวัสดีครับ")]));
    await writeFile(join(outside, "secret.jsonl"), jsonl([chatRow("s1", "ขอดูหน่อย", SECRET)]));
    await symlink(join(outside, "secret.jsonl"), join(sources, "linked.jsonl"));
    await symlink(outside, join(sources, "linked-dir"));
    await writeFile(join(sources, "walked", "fine.jsonl"), jsonl([chatRow("w1", "ดี", "ดีครับ")]));
    await symlink(join(outside, "secret.jsonl"), join(sources, "walked", "leak.jsonl"));
    await writeFile(join(sources, "walked-dir", "fine.jsonl"), jsonl([chatRow("w2", "ดี", "ดีครับ")]));
    await symlink(outside, join(sources, "walked-dir", "elsewhere"));
    await writeFile(join(sources, "globbed", "fine.jsonl"), jsonl([chatRow("w3", "ดี", "ดีครับ")]));
    await symlink(join(outside, "secret.jsonl"), join(sources, "globbed", "leak.jsonl"));
    await curator.runs.work();
  });

  afterAll(async () => {
    await curator?.cleanup();
  });

  it("builds a relative source below the sources folder, recorded as queued over HTTP", async () => {
    const res = await post("/v1/pipelines/runs", { spec: specReading("confined-good", ["good.jsonl"]) });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as RunBody;
    expect(queued.origin).toBe("api");
    const run = await curator.runs.waitFor(queued.id);
    expect(run.status, run.error ?? "").toBe("succeeded");
    expect(await versionsOf("confined-good")).toHaveLength(1);
  });

  it("reads below the import folder and the folders of CURATOR_SOURCE_ROOTS, by absolute path", async () => {
    const extra = join(curator.dir, "extra");
    await mkdir(extra, { recursive: true });
    await mkdir(curator.config.importDir, { recursive: true });
    await writeFile(join(extra, "more.jsonl"), jsonl([chatRow("e1", "เพิ่มเติม", "ได้ครับ")]));
    await writeFile(
      join(curator.config.importDir, "imported.jsonl"),
      jsonl([chatRow("i1", "นำเข้า", "ได้ครับ")]),
    );
    const spec = specReading("confined-roots", [
      join(extra, "more.jsonl"),
      join(curator.config.importDir, "*.jsonl"),
    ]);
    expect((await post("/v1/pipelines/runs", { spec })).status).toBe(400);

    curator.config.sourceRoots = loadConfig({
      CURATOR_SOURCE_ROOTS: `${delimiter}${extra}${delimiter}`,
    }).sourceRoots;
    try {
      expect(curator.config.sourceRoots).toEqual([extra]);
      const res = await post("/v1/pipelines/runs", { spec });
      expect(res.status).toBe(202);
      const run = await curator.runs.waitFor(((await res.json()) as RunBody).id);
      expect(run.status, run.error ?? "").toBe("succeeded");
      expect(await versionsOf("confined-roots")).toHaveLength(1);
    } finally {
      curator.config.sourceRoots = [];
    }
  });

  it("refuses an absolute path, a ../ escape and /proc/self/environ when the run is queued", async () => {
    const absolute = await refused("confined-absolute", [join(outside, "secret.jsonl")]);
    expect(absolute).toContain(
      `sources.0.paths.0: source "fixture": path "${join(outside, "secret.jsonl")}"`,
    );
    expect(absolute).toContain("is outside the folders this source may read");

    const climbing = await refused("confined-climb", ["../outside/secret.jsonl"]);
    expect(climbing).toContain('path "../outside/secret.jsonl" is outside the folders this source may read');

    const environ = await refused("confined-environ", ["good.jsonl", "/proc/self/environ"]);
    expect(environ).toContain(
      'sources.0.paths.1: source "fixture": path "/proc/self/environ" is under /proc',
    );

    // Not even a root that holds it opens /proc.
    curator.config.sourceRoots = ["/"];
    try {
      expect(await refused("confined-environ-root", ["/proc/self/environ"])).toContain("is under /proc");
    } finally {
      curator.config.sourceRoots = [];
    }
  });

  it("refuses globs that start outside the roots or climb out of them", async () => {
    const absolute = await refused("confined-glob-absolute", [join(outside, "*.jsonl")]);
    expect(absolute).toContain(
      `pattern "${join(outside, "*.jsonl")}" starts at ${outside}, outside the folders this source may read`,
    );
    const climbing = await refused("confined-glob-climb", ["*/../../outside/*.jsonl"]);
    expect(climbing).toContain('pattern "*/../../outside/*.jsonl" climbs out of the folder it matches in');
  });

  it("fails the run on a link to a file outside, named directly, in a walked folder or matched by a glob", async () => {
    const direct = await failedRun("confined-link-file", ["linked.jsonl"]);
    expect(direct.error).toContain(
      'source "fixture": "linked.jsonl" leads outside the folders this source may read',
    );
    const walked = await failedRun("confined-link-walked", ["walked"]);
    expect(walked.error).toContain('source "fixture": "walked/leak.jsonl" (from "walked") leads outside');
    const globbed = await failedRun("confined-link-glob", ["globbed/*.jsonl"]);
    expect(globbed.error).toContain('"globbed/leak.jsonl" (from "globbed/*.jsonl") leads outside');
  });

  it("fails the run on a link to a folder outside, named directly, in a walked folder or matched by a glob", async () => {
    const direct = await failedRun("confined-link-dir", ["linked-dir"]);
    expect(direct.error).toContain('source "fixture": "linked-dir" leads outside');
    const through = await failedRun("confined-link-dir-path", ["linked-dir/secret.jsonl"]);
    expect(through.error).toContain('"linked-dir/secret.jsonl" leads outside');
    const walked = await failedRun("confined-link-dir-walked", ["walked-dir"]);
    expect(walked.error).toContain('"walked-dir/elsewhere" (from "walked-dir") leads outside');
    const globbed = await failedRun("confined-link-dir-glob", ["walked-dir/*/*.jsonl"]);
    expect(globbed.error).toContain('"walked-dir/elsewhere" (from "walked-dir/*/*.jsonl") leads outside');
  });

  it("keeps a resumed run confined", async () => {
    const run = await failedRun("confined-resumed", ["linked.jsonl"]);
    const resumed = await post(`/v1/pipelines/runs/${run.id}/resume`, {});
    expect(resumed.status).toBe(202);
    const again = await curator.runs.waitFor(run.id);
    expect(again.status).toBe("failed");
    expect(again.error).toContain('"linked.jsonl" leads outside');
    expect(await versionsOf("confined-resumed")).toEqual([]);
  });

  it("runs the operator's own spec (the command line) wherever its user may read", async () => {
    const queued = await curator.runs.submit({
      spec: specReading("operator-reads", [join(outside, "secret.jsonl")]),
      origin: "operator",
    });
    expect(queued.origin).toBe("operator");
    const run = await curator.runs.waitFor(queued.id);
    expect(run.status, run.error ?? "").toBe("succeeded");
    const samples = (await (await request(`/v1/versions/${run.versionHash}/samples`)).json()) as {
      items: unknown[];
    };
    expect(JSON.stringify(samples.items)).toContain(SECRET);
  });
});
