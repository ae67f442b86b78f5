/**
 * Requests that race, fired at once through the HTTP app: identical builds all answer with the one version,
 * publishes of one queue all answer with the one published version, pipeline runs that produce the same version
 * both succeed with it, a commit and a discard of one draft leave exactly one winner and a 409 naming why, and
 * two edits of one sample from two queues keep one and refuse the other with 409. On PostgreSQL a row lock held
 * from another connection lets every request finish its reads before any of them writes, the interleaving that
 * turned these into 500s; PGlite runs one statement at a time, so there the requests simply run together.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DatabaseHandle } from "@sovereign/db";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { eq } from "drizzle-orm";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openCurator } from "../src/runtime";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

/**
 * Run `fire` while another connection holds the lock `lock.sql` takes, and let go once `waiters` statements
 * matching `pattern` wait on locks. On PGlite `fire` just runs.
 */
async function whileLocked<T>(
  database: DatabaseHandle,
  lock: { sql: string; params: string[]; pattern: string; waiters: number },
  fire: () => Promise<T>,
): Promise<T> {
  if (database.kind !== "postgres" || !database.url) return fire();
  const client = postgres(database.url, { max: 2, onnotice: () => {} });
  try {
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let locked = () => {};
    const held = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = client.begin(async (tx) => {
      await tx.unsafe(lock.sql, lock.params);
      locked();
      await released;
    });
    await held;
    const results = fire();
    let waiting = 0;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; ) {
      const [row] = await client<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE ${lock.pattern}`;
      waiting = row?.n ?? 0;
      if (waiting >= lock.waiters) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    release();
    await holder;
    expect(waiting, "requests waiting behind the held lock").toBeGreaterThanOrEqual(lock.waiters);
    return await results;
  } finally {
    await client.end({ timeout: 5 });
  }
}

type ErrorBody = { error: { code: string; message: string } };

describe.each(testDatabaseKinds())("concurrent requests on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  const request = (path: string, init?: RequestInit) => curator.app.request(path, init);
  const post = (path: string, body: unknown = {}) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const datasetLock = (name: string, waiters: number) => ({
    sql: "SELECT 1 FROM datasets WHERE name = $1 FOR UPDATE",
    params: [name],
    pattern: '%insert into "dataset_versions"%',
    waiters,
  });

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    await mkdir(curator.config.importDir, { recursive: true });
    const rows = Array.from({ length: 40 }, (_, i) => chatRow(`r${i}`, `คำถามข้อ ${i}`, `คำตอบข้อ ${i}`));
    await writeFile(join(curator.config.importDir, "rows.jsonl"), jsonl(rows));
    await writeFile(join(curator.config.importDir, "one.jsonl"), jsonl(rows.slice(0, 1)));
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const build = (dataset: string, file = "rows.jsonl") =>
    post(`/v1/datasets/${dataset}/versions`, { inputs: [{ path: file, split: "train" }] });

  it("answers identical builds at once with the one version they make", async () => {
    expect((await post("/v1/datasets", { name: "race-build", kind: "chat" })).status).toBe(201);
    const responses = await whileLocked(curator.database, datasetLock("race-build", 4), () =>
      Promise.all(Array.from({ length: 4 }, () => build("race-build"))),
    );
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ hash: string }>));
    expect(responses.map((r) => r.status).sort(), JSON.stringify(bodies)).toEqual([200, 200, 200, 201]);
    expect(new Set(bodies.map((b) => b.hash)).size).toBe(1);
    const versions = (await (await request("/v1/datasets/race-build/versions")).json()) as {
      items: { hash: string; stats: { rows: number } }[];
    };
    expect(versions.items).toEqual([
      expect.objectContaining({ hash: bodies[0]?.hash, stats: expect.objectContaining({ rows: 40 }) }),
    ]);
    const indexed = await curator.database.db
      .select()
      .from(tables.samples)
      .where(eq(tables.samples.versionHash, bodies[0]?.hash as string));
    expect(indexed).toHaveLength(40);
  });

  it("answers every publish of one queue at once with the one published version", async () => {
    expect((await post("/v1/datasets", { name: "race-publish", kind: "chat" })).status).toBe(201);
    const built = (await (await build("race-publish")).json()) as { hash: string };
    expect((await post(`/v1/versions/${built.hash}/commit`)).status).toBe(200);
    const queueRes = await post(`/v1/versions/${built.hash}/review-queues`, {
      name: "race",
      plan: { size: 3, seed: 1 },
      reviewsPerItem: 1,
    });
    expect(queueRes.status).toBe(201);
    const queue = ((await queueRes.json()) as { id: string }).id;
    for (;;) {
      const next = await post(`/v1/review-queues/${queue}/next`);
      if (next.status === 204) break;
      const { item } = (await next.json()) as { item: number };
      expect(
        (await post(`/v1/review-queues/${queue}/items/${item}/decision`, { decision: "accept" })).status,
      ).toBe(201);
    }
    const responses = await whileLocked(curator.database, datasetLock("race-publish", 4), () =>
      Promise.all(Array.from({ length: 4 }, () => post(`/v1/review-queues/${queue}/publish`))),
    );
    const bodies = await Promise.all(
      responses.map((r) => r.json() as Promise<{ version: { hash: string; status: string } }>),
    );
    expect(responses.map((r) => r.status).sort(), JSON.stringify(bodies)).toEqual([200, 200, 200, 201]);
    expect(new Set(bodies.map((b) => b.version.hash)).size).toBe(1);
    expect(bodies.every((b) => b.version.status === "published")).toBe(true);
    const rows = await curator.database.db
      .select()
      .from(tables.publications)
      .where(eq(tables.publications.queueId, queue));
    expect(rows.map((r) => r.versionHash)).toEqual([bodies[0]?.version.hash]);
  });

  it("lets exactly one of a commit and a discard of one draft win, and answers the other with 409", async () => {
    expect((await post("/v1/datasets", { name: "race-commit", kind: "chat" })).status).toBe(201);
    for (const [n, commitFirst] of [
      [0, true],
      [1, false],
    ] as const) {
      await writeFile(
        join(curator.config.importDir, `draft-${n}.jsonl`),
        jsonl([chatRow(`d${n}`, "ถาม", "ตอบ")]),
      );
      const built = await build("race-commit", `draft-${n}.jsonl`);
      expect(built.status).toBe(201);
      const draft = (await built.json()) as { hash: string };
      const commit = () => post(`/v1/versions/${draft.hash}/commit`);
      const discard = () => request(`/v1/versions/${draft.hash}`, { method: "DELETE" });
      const [committed, discarded] = await whileLocked(
        curator.database,
        {
          sql: "SELECT 1 FROM dataset_versions WHERE hash = $1 FOR SHARE",
          params: [draft.hash],
          pattern: '%"dataset_versions"%',
          waiters: 2,
        },
        async () => {
          if (commitFirst) {
            const c = commit();
            const d = discard();
            return [await c, await d] as const;
          }
          const d = discard();
          const c = commit();
          return [await c, await d] as const;
        },
      );
      const version = await request(`/v1/versions/${draft.hash}`);
      if (committed.status === 200) {
        expect(discarded.status).toBe(409);
        expect(((await discarded.json()) as ErrorBody).error.message).toMatch(
          /is committed: committed versions are immutable/,
        );
        expect(((await version.json()) as { status: string }).status).toBe("committed");
      } else {
        expect(committed.status, await committed.clone().text()).toBe(409);
        expect(discarded.status).toBe(204);
        expect(((await committed.json()) as ErrorBody).error.message).toMatch(
          /was discarded before it could be committed/,
        );
        expect(version.status).toBe(404);
      }
    }
  });

  it("keeps one of two edits of a sample made at once from two queues, refusing the other with 409", async () => {
    expect((await post("/v1/datasets", { name: "race-edit", kind: "chat" })).status).toBe(201);
    const built = (await (await build("race-edit", "one.jsonl")).json()) as { hash: string };
    type Item = {
      item: number;
      sample: { sampleId: string; revision: number; sample: { messages: unknown[] } };
    };
    const leased: { queue: string; item: Item }[] = [];
    for (const name of ["left", "right"]) {
      const res = await post(`/v1/versions/${built.hash}/review-queues`, { name, plan: { size: 1 } });
      const queue = ((await res.json()) as { id: string }).id;
      leased.push({ queue, item: (await (await post(`/v1/review-queues/${queue}/next`)).json()) as Item });
    }
    const edit = ({ queue, item }: { queue: string; item: Item }, answer: string) =>
      request(`/v1/review-queues/${queue}/items/${item.item}/decision`, {
        method: "POST",
        headers: { "content-type": "application/json", "if-match": `"${item.sample.revision}"` },
        body: JSON.stringify({
          decision: "edit",
          sample: {
            ...item.sample.sample,
            messages: [item.sample.sample.messages[0], { role: "assistant", content: answer }],
          },
        }),
      });
    const responses = await whileLocked(
      curator.database,
      {
        sql: "SELECT 1 FROM dataset_versions WHERE hash = $1 FOR UPDATE",
        params: [built.hash],
        pattern: '%insert into "sample_revisions"%',
        waiters: 2,
      },
      () => Promise.all(leased.map((l, i) => edit(l, `คำตอบที่แก้ ${i}`))),
    );
    expect(responses.map((r) => r.status).sort()).toEqual([201, 409]);
    const refused = responses.find((r) => r.status === 409) as Response;
    expect(((await refused.json()) as ErrorBody).error.message).toMatch(
      /sample r0 is at revision 1, not 0: load it again and redo the edit/,
    );
    const revisions = await curator.database.db
      .select()
      .from(tables.sampleRevisions)
      .where(eq(tables.sampleRevisions.versionHash, built.hash));
    expect(revisions.map((r) => r.revision)).toEqual([1]);
  });

  it("records the one version when two workers run pipelines that produce it at once", async () => {
    const second = await openCurator(curator.config, { database: curator.database, logger: curator.logger });
    try {
      curator.config.sourcesDir = join(curator.dir, "sources");
      await mkdir(curator.config.sourcesDir, { recursive: true });
      await writeFile(
        join(curator.config.sourcesDir, "race.jsonl"),
        jsonl(Array.from({ length: 6 }, (_, i) => chatRow(`p${i}`, `ถามเรื่อง ${i}`, `ตอบเรื่อง ${i}`))),
      );
      curator.config.pipelineWorkers = 0;
      await curator.runs.work();
      await second.runs.work();
      const spec = {
        name: "race-runs",
        dataset: { name: "race-runs", kind: "chat" },
        sources: [{ type: "files", name: "fixture", paths: ["race.jsonl"] }],
        steps: [{ type: "normalize" }],
      };
      expect((await post("/v1/datasets", { name: "race-runs", kind: "chat" })).status).toBe(201);
      const runs = await whileLocked(curator.database, datasetLock("race-runs", 2), async () => {
        const queued = await Promise.all([0, 1].map(() => post("/v1/pipelines/runs", { spec })));
        expect(queued.map((r) => r.status)).toEqual([202, 202]);
        const ids = await Promise.all(queued.map(async (r) => ((await r.json()) as { id: string }).id));
        return Promise.all(ids.map((id) => curator.runs.waitFor(id, undefined, 50)));
      });
      expect(runs.map((r) => [r.status, r.error])).toEqual([
        ["succeeded", null],
        ["succeeded", null],
      ]);
      expect(runs[0]?.versionHash).toBeTruthy();
      expect(runs[1]?.versionHash).toBe(runs[0]?.versionHash);
      const version = (await (await request(`/v1/versions/${runs[0]?.versionHash}`)).json()) as {
        status: string;
      };
      expect(version.status).toBe("committed");
    } finally {
      await second.runs.stop();
    }
  });
});
