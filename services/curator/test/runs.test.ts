/**
 * Pipeline runs over HTTP on both databases: queue a run, follow it to its version, read its per-step
 * stats and rejected records, cancel and resume, bad specs, and deduplication against an earlier version.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, postJson, type TestCurator } from "./helpers";

const answers: Record<string, string> = {
  ภาษี: "ผู้มีเงินได้ต้องยื่นแบบแสดงรายการภาษีเงินได้บุคคลธรรมดาภายในเดือนมีนาคมของปีถัดไป โดยหักค่าลดหย่อนตามสิทธิ",
  สุขภาพ: "การนอนหลับให้เพียงพอ กินผักผลไม้ และออกกำลังกายสม่ำเสมอ ช่วยให้ร่างกายแข็งแรงและลดความเสี่ยงของโรคเรื้อรัง",
  กฎหมาย: "สัญญาซื้อขายอสังหาริมทรัพย์ต้องทำเป็นหนังสือและจดทะเบียนต่อพนักงานเจ้าหน้าที่ มิฉะนั้นตกเป็นโมฆะ",
  การเงิน: "ควรแบ่งรายได้ส่วนหนึ่งเป็นเงินออมฉุกเฉินอย่างน้อยหกเดือนของค่าใช้จ่าย ก่อนเริ่มลงทุนในสินทรัพย์ที่มีความเสี่ยง",
  ดนตรี: "ดนตรีไทยแบ่งเครื่องดนตรีเป็นเครื่องดีด สี ตี และเป่า วงปี่พาทย์ใช้ในพิธีกรรมและการแสดงโขนละคร",
};
const answer = (topic: string) => answers[topic] as string;

const specFor = (dataset: string, file: string, against: string[] = []) => ({
  name: dataset,
  dataset: { name: dataset, kind: "chat" },
  sources: [{ type: "files", name: "fixture", paths: [file] }],
  steps: [
    { type: "normalize" },
    { type: "script", fields: ["assistant"], codeSwitching: "drop" },
    { type: "dedup-exact", scope: "prompt", against },
    { type: "dedup-near", fields: ["assistant"], minLength: 30, against },
  ],
  batchSize: 2,
  errorBudget: { maxRecords: 3 },
});

describe.each(testDatabaseKinds())("pipeline runs (%s)", (kind) => {
  let curator: TestCurator;
  const request = (path: string, init?: RequestInit) => curator.app.request(path, init);
  const post = (path: string, body: unknown) => postJson(curator.app, path, body);

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    const sources = join(curator.dir, "sources");
    await mkdir(sources, { recursive: true });
    curator.config.sourcesDir = sources;
    curator.config.pipelineWorkers = 0;
    const rows = ["ภาษี", "สุขภาพ", "กฎหมาย", "การเงิน"].map((t, i) =>
      chatRow(`q${i}`, `ช่วยอธิบายเรื่อง${t}`, answer(t)),
    );
    const lines = jsonl([
      ...rows,
      chatRow("dup", "ช่วยอธิบายเรื่องภาษี", answer("ภาษี")),
      chatRow("zh", "อาหาร", "อร่อย很好吃"),
    ]);
    await writeFile(join(sources, "first.jsonl"), `${lines}{broken\n`);
    await writeFile(
      join(sources, "second.jsonl"),
      jsonl([
        chatRow("again", "ช่วยอธิบายเรื่องภาษีหน่อย", answer("ภาษี")),
        chatRow("new", "ช่วยอธิบายเรื่องดนตรี", answer("ดนตรี")),
      ]),
    );
    await curator.runs.work();
  });

  afterAll(async () => {
    await curator?.cleanup();
  });

  it("queues a run, builds and commits its version, and reports per-step stats", async () => {
    const res = await post("/v1/pipelines/runs", { spec: specFor("runs-first", "first.jsonl") });
    expect(res.status).toBe(202);
    const queued = (await res.json()) as { id: string; status: string };
    expect(queued.status).toBe("queued");
    const run = await curator.runs.waitFor(queued.id);
    expect(run.status).toBe("succeeded");
    const fetched = (await (await request(`/v1/pipelines/runs/${queued.id}`)).json()) as {
      versionHash: string;
      progress: { recordsRead: number; kept: number; steps: { step: string }[] };
    };
    expect(fetched.progress.recordsRead).toBe(7);
    const version = (await (await request(`/v1/versions/${fetched.versionHash}`)).json()) as {
      status: string;
      stats: { rows: number };
    };
    expect(version.status).toBe("committed");
    expect(version.stats.rows).toBe(4);

    const stats = (await (await request(`/v1/versions/${fetched.versionHash}/stats`)).json()) as {
      steps: { step: string; in: number; out: number; dropped: Record<string, number> }[];
      reasons: { step: string; reason: string; count: number }[];
    };
    expect(stats.steps.map((s) => s.step)).toEqual([
      "0-input",
      "1-normalize",
      "2-script",
      "3-dedup-exact",
      "4-dedup-near",
      "build",
    ]);
    expect(stats.steps.find((s) => s.step === "2-script")?.dropped).toEqual({ "code-switching": 1 });
    expect(stats.reasons).toEqual(
      expect.arrayContaining([
        { step: "0-input", reason: "malformed", action: "dropped", count: 1 },
        { step: "2-script", reason: "code-switching", action: "dropped", count: 1 },
        { step: "3-dedup-exact", reason: "duplicate", action: "dropped", count: 1 },
      ]),
    );

    const page = (await (
      await request(`/v1/versions/${fetched.versionHash}/rejected?reason=malformed`)
    ).json()) as {
      items: { location: string; step: string; message: string }[];
    };
    expect(page.items).toHaveLength(1);
    expect(page.items[0]?.location).toBe("first.jsonl:7");
  });

  it("drops what an earlier committed version already holds", async () => {
    const res = await post("/v1/pipelines/runs", {
      spec: specFor("runs-second", "second.jsonl", ["runs-first"]),
    });
    const run = await curator.runs.waitFor(((await res.json()) as { id: string }).id);
    expect(run.status).toBe("succeeded");
    const stats = (await (await request(`/v1/versions/${run.versionHash}/stats`)).json()) as {
      rows: number;
      reasons: { reason: string; count: number }[];
    };
    expect(stats.rows).toBe(1);
    expect(stats.reasons.map((r) => r.reason)).toContain("near-duplicate-of-version");
  });

  it("refuses a bad spec naming the field, and an unknown pipeline", async () => {
    const bad = await post("/v1/pipelines/runs", { spec: { ...specFor("x", "first.jsonl"), batchSize: 0 } });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toContain("batchSize");
    const typo = await post("/v1/pipelines/runs", {
      spec: { ...specFor("x", "first.jsonl"), steps: [{ type: "quality", thresholds: { minWrods: 3 } }] },
    });
    expect(typo.status).toBe(400);
    expect(((await typo.json()) as { error: { message: string } }).error.message).toContain(
      'steps.0.thresholds: unknown quality threshold "minWrods"',
    );
    // The repetition filter measures every n-gram size up to the largest named: one near the text's length
    // would cost its length squared.
    const wide = await post("/v1/pipelines/runs", {
      spec: {
        ...specFor("x", "first.jsonl"),
        steps: [
          { type: "repetition", thresholds: { maxDuplicateNgramCharFraction: { 5: 0.5, 20000: 0.5 } } },
        ],
      },
    });
    expect(wide.status).toBe(400);
    expect(((await wide.json()) as { error: { message: string } }).error.message).toContain(
      "steps.0.thresholds.maxDuplicateNgramCharFraction: n-gram sizes go up to 64, not 20000",
    );
    const unknown = await post("/v1/pipelines/runs", { pipeline: "no-such-pipeline" });
    expect(unknown.status).toBe(404);
    const both = await post("/v1/pipelines/runs", {});
    expect(both.status).toBe(400);
  });

  it("fails a run past its error budget with the bad records' locations", async () => {
    const res = await post("/v1/pipelines/runs", {
      spec: { ...specFor("runs-budget", "first.jsonl"), errorBudget: { maxRecords: 0 } },
    });
    const run = await curator.runs.waitFor(((await res.json()) as { id: string }).id);
    expect(run.status).toBe("failed");
    expect(run.error).toContain("first.jsonl:7: malformed");
  });

  it("cancels a queued run, resumes it, and refuses to cancel a finished one", async () => {
    await curator.runs.stop();
    const res = await post("/v1/pipelines/runs", { spec: specFor("runs-cancel", "first.jsonl") });
    const { id } = (await res.json()) as { id: string };
    const cancelled = await post(`/v1/pipelines/runs/${id}/cancel`, {});
    expect(cancelled.status).toBe(202);
    expect(((await cancelled.json()) as { status: string }).status).toBe("cancelled");
    const resumed = await post(`/v1/pipelines/runs/${id}/resume`, {});
    expect(((await resumed.json()) as { status: string }).status).toBe("queued");
    await curator.runs.work();
    expect((await curator.runs.waitFor(id)).status).toBe("succeeded");
    const again = await post(`/v1/pipelines/runs/${id}/cancel`, {});
    expect(again.status).toBe(409);
    const list = (await (await request("/v1/pipelines/runs?status=succeeded")).json()) as {
      items: { id: string }[];
    };
    expect(list.items.map((r) => r.id)).toContain(id);
  });

  it("keeps a run that outlasts the stale time with the worker beating for it", async () => {
    // Recovery looks for dead workers every `staleSeconds`: a live run must never be taken from its worker.
    await curator.runs.stop();
    curator.config.staleSeconds = 0.5;
    curator.config.heartbeatSeconds = 0.1;
    const rows = Array.from({ length: 1_500 }, (_, i) =>
      chatRow(
        `long${i}`,
        `คำถามที่ ${i} เกี่ยวกับ${Object.keys(answers)[i % 5]}`,
        `${answer(Object.keys(answers)[i % 5] as string)} (${i})`,
      ),
    );
    await writeFile(join(curator.config.sourcesDir, "long.jsonl"), jsonl(rows));
    await curator.runs.work();
    try {
      const res = await post("/v1/pipelines/runs", {
        spec: { ...specFor("runs-long", "long.jsonl"), batchSize: 5 },
      });
      const { id } = (await res.json()) as { id: string };
      const run = await curator.runs.waitFor(id);
      expect(run.status, run.error ?? "").toBe("succeeded");
      expect(run.attempts).toBe(1);
      expect(Date.parse(run.finishedAt as string) - Date.parse(run.startedAt as string)).toBeGreaterThan(
        1_000,
      );
    } finally {
      await curator.runs.stop();
      curator.config.staleSeconds = 30;
      curator.config.heartbeatSeconds = 5;
      await curator.runs.work();
    }
  });

  it("fails a run whose stored spec this release refuses, instead of leaving it running", async () => {
    // As an earlier release stored it: a teacher named by URL, which specs may no longer carry.
    const spec = {
      ...specFor("runs-stored", "first.jsonl"),
      dataset: { name: "runs-stored", kind: "chat", description: "" },
      steps: [{ type: "render-thai", teacher: { baseUrl: "http://127.0.0.1:9/v1", model: "m" } }],
    };
    const [row] = await curator.database.db
      .insert(tables.pipelineRuns)
      .values({
        pipeline: "runs-stored",
        dataset: "runs-stored",
        spec: spec as unknown as typeof tables.pipelineRuns.$inferInsert.spec,
        configHash: "0".repeat(64),
        status: "queued",
      })
      .returning();
    const id = (row as { id: string }).id;
    await curator.runs.execute(id);
    const run = await curator.runs.get(id);
    expect(run.status).toBe("failed");
    expect(run.error).toMatch(/steps\.0\.teacher.*baseUrl/s);
    expect(run.finishedAt).not.toBeNull();
    // Recovery finds nothing to queue again.
    expect(await curator.runs.recover()).not.toContain(id);
  });

  it("lists the project's pipelines", async () => {
    const list = (await (await request("/v1/pipelines")).json()) as { items: { name: string }[] };
    expect(list.items.map((p) => p.name)).toEqual([
      "thai-autoif",
      "thai-instructions",
      "thai-legal-corpus",
      "thai-legal-rl-prompts",
      "tool-use",
      "tool-use-th",
    ]);
  });
});
