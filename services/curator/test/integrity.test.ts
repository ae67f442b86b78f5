/**
 * What the database itself refuses, whatever code path or manual fix tries it: moving a draft's rows into a
 * committed version, truncating committed content or history (with or without CASCADE), a version's status going
 * back or a committed version being published in place, a rewritten commit time, renaming or re-kinding a dataset
 * that has committed versions, and changing or deleting publications, Hub pushes, sample revisions, review
 * decisions or audit entries. Each attempt runs in a transaction that is rolled back, and each refusal is an
 * integrity_constraint_violation naming what it protects. The operations the registry performs still work: build,
 * commit, discard a draft, review, publish, record a push and append to the audit log.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { eq, type SQL, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

/** Thrown to roll back an attempt the database let through. */
class Applied extends Error {}

/** The database error under the query error that wraps it: its SQLSTATE and message. */
function databaseError(error: unknown): { code: string; message: string } | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return { code, message: e.message };
  }
  return undefined;
}

describe.each(testDatabaseKinds())("the database keeps history on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let committed: string;
  let draft: string;
  let published: string;
  let queue: string;

  const request = (path: string, init?: RequestInit) => curator.app.request(path, init);
  const post = (path: string, body: unknown = {}, headers: Record<string, string> = {}) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const build = async (dataset: string, file: string, maxRejected = 0) => {
    const res = await post(`/v1/datasets/${dataset}/versions`, {
      inputs: [{ path: file, split: "train" }],
      maxRejected,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { hash: string }).hash;
  };

  /** Run `statement` in a transaction that is always rolled back; what the database answered. */
  const attempt = async (statement: SQL) => {
    try {
      await curator.database.db.transaction(async (tx) => {
        await tx.execute(statement);
        throw new Applied();
      });
    } catch (error) {
      if (error instanceof Applied) return "applied";
      return databaseError(error) ?? error;
    }
    return "applied";
  };
  const refused = (message: RegExp) => ({ code: "23000", message: expect.stringMatching(message) });

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    const dir = curator.config.importDir;
    await mkdir(dir, { recursive: true });
    const rows = (prefix: string) =>
      Array.from({ length: 4 }, (_, i) =>
        chatRow(`${prefix}${i}`, `คำถาม ${prefix} ${i}`, `คำตอบ ${prefix} ${i}`),
      );
    await writeFile(join(dir, "kept.jsonl"), `${jsonl(rows("k"))}{broken\n`);
    await writeFile(join(dir, "draft.jsonl"), `${jsonl(rows("d"))}{broken\n`);
    expect((await post("/v1/datasets", { name: "kept", kind: "chat" })).status).toBe(201);
    committed = await build("kept", "kept.jsonl", 1);
    expect((await post(`/v1/versions/${committed}/commit`)).status).toBe(200);
    draft = await build("kept", "draft.jsonl", 1);

    // A review with an edit and a publication of what it decided.
    const created = await post(`/v1/versions/${committed}/review-queues`, {
      name: "kept-review",
      plan: { size: 2, seed: 1 },
      reviewsPerItem: 1,
    });
    queue = ((await created.json()) as { id: string }).id;
    type Item = { item: number; sample: { revision: number; sample: { messages: unknown[] } } };
    for (let n = 0; ; n++) {
      const next = await post(`/v1/review-queues/${queue}/next`);
      if (next.status === 204) break;
      const { item, sample } = (await next.json()) as Item;
      const path = `/v1/review-queues/${queue}/items/${item}/decision`;
      const decided =
        n === 0
          ? await post(
              path,
              {
                decision: "edit",
                sample: {
                  ...sample.sample,
                  messages: [sample.sample.messages[0], { role: "assistant", content: "แก้แล้ว" }],
                },
              },
              { "if-match": `"${sample.revision}"` },
            )
          : await post(path, { decision: "accept" });
      expect(decided.status, await decided.clone().text()).toBe(201);
    }
    const publish = await post(`/v1/review-queues/${queue}/publish`);
    expect(publish.status, await publish.clone().text()).toBe(201);
    published = ((await publish.json()) as { version: { hash: string } }).version.hash;

    await curator.database.db.insert(tables.hubPushes).values({
      versionHash: published,
      endpoint: "https://hub.example",
      repo: "lab/kept",
      branch: "main",
      commitSha: "0123456789abcdef0123456789abcdef01234567",
      files: [],
    });
    await curator.access.record(undefined, "version.commit", { hash: committed });
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  it("refuses to move a draft's samples, shards or rejected records into a committed version", async () => {
    // Shards and rejected records are numbered within their version: moved past the committed ones' numbers.
    const moves: [string, SQL][] = [
      ["samples", sql``],
      ["shards", sql`, ordinal = ordinal + 1000`],
      ["rejected_records", sql`, position = position + 1000`],
    ];
    for (const [table, renumber] of moves) {
      expect
        .soft(
          await attempt(
            sql`UPDATE ${sql.identifier(table)} SET version_hash = ${committed}${renumber} WHERE version_hash = ${draft}`,
          ),
        )
        .toMatchObject(
          refused(new RegExp(`version ${committed} is committed and its ${table} are immutable`)),
        );
    }
    // Within a draft, rows still change freely.
    expect(await attempt(sql`UPDATE samples SET split = 'test' WHERE version_hash = ${draft}`)).toBe(
      "applied",
    );
  });

  it("refuses to truncate committed content or history, with or without CASCADE", async () => {
    const attempts: [string, RegExp][] = [
      ["TRUNCATE samples", /truncating samples would remove committed or published versions/],
      ["TRUNCATE shards CASCADE", /truncating shards would remove committed or published versions/],
      ["TRUNCATE rejected_records", /truncating rejected_records would remove committed/],
      ["TRUNCATE dataset_versions CASCADE", /truncating dataset_versions would remove committed/],
      ["TRUNCATE datasets CASCADE", /truncating datasets would remove committed/],
      ["TRUNCATE publications", /truncating publications would remove history/],
      ["TRUNCATE hub_pushes", /truncating hub_pushes would remove history/],
      ["TRUNCATE review_queues CASCADE", /would remove history/],
      ["TRUNCATE sample_revisions", /truncating sample_revisions would remove history/],
      ["TRUNCATE review_decisions", /truncating review_decisions would remove history/],
      ["TRUNCATE audit_log", /truncating audit_log would remove history/],
    ];
    for (const [statement, message] of attempts)
      expect.soft(await attempt(sql.raw(statement)), statement).toMatchObject(refused(message));
  });

  it("moves a version's status only on from draft, and keeps when it was committed", async () => {
    const back = await attempt(
      sql`UPDATE dataset_versions SET status = 'committed' WHERE hash = ${published}`,
    );
    expect
      .soft(back)
      .toMatchObject(refused(new RegExp(`version ${published} is published and cannot become committed`)));
    expect
      .soft(await attempt(sql`UPDATE dataset_versions SET status = 'draft' WHERE hash = ${committed}`))
      .toMatchObject(refused(/is committed and cannot become draft/));
    // Only publishing a review makes a published version, and always a new one.
    expect
      .soft(await attempt(sql`UPDATE dataset_versions SET status = 'published' WHERE hash = ${committed}`))
      .toMatchObject(refused(/is committed and cannot become published/));
    expect
      .soft(
        await attempt(
          sql`UPDATE dataset_versions SET committed_at = committed_at - interval '1 day' WHERE hash = ${committed}`,
        ),
      )
      .toMatchObject(refused(new RegExp(`version ${committed} is committed and immutable`)));
    expect
      .soft(await attempt(sql`UPDATE dataset_versions SET created_at = now() WHERE hash = ${published}`))
      .toMatchObject(refused(/is published and immutable/));
    expect
      .soft(await attempt(sql`UPDATE dataset_versions SET status = 'committed' WHERE hash = ${draft}`))
      .toMatchObject(
        refused(new RegExp(`version ${draft} cannot become committed without the time it was committed`)),
      );
  });

  it("keeps the name and kind of a dataset with committed versions, and lets a dataset of drafts change", async () => {
    expect
      .soft(await attempt(sql`UPDATE datasets SET kind = 'text' WHERE name = 'kept'`))
      .toMatchObject(
        refused(/dataset kept has committed versions: its name and kind \(chat\) cannot change/),
      );
    expect
      .soft(await attempt(sql`UPDATE datasets SET name = 'renamed' WHERE name = 'kept'`))
      .toMatchObject(refused(/dataset kept has committed versions/));
    expect(await attempt(sql`UPDATE datasets SET description = 'ชุดที่เก็บไว้' WHERE name = 'kept'`)).toBe(
      "applied",
    );
    expect((await post("/v1/datasets", { name: "drafts-only", kind: "chat" })).status).toBe(201);
    expect(
      await attempt(sql`UPDATE datasets SET kind = 'text', name = 'renamed' WHERE name = 'drafts-only'`),
    ).toBe("applied");
  });

  it("never changes or deletes publications, Hub pushes, sample revisions, review decisions or audit entries", async () => {
    const attempts: [string, SQL, RegExp][] = [
      [
        "publications",
        sql`UPDATE publications SET parent_hash = ${draft} WHERE version_hash = ${published}`,
        /publications rows are history: they cannot be changed/,
      ],
      [
        "publications",
        sql`DELETE FROM publications WHERE version_hash = ${published}`,
        /publications rows are history: they cannot be deleted/,
      ],
      [
        "hub_pushes",
        sql`UPDATE hub_pushes SET commit_sha = 'ffffffffffffffffffffffffffffffffffffffff'`,
        /hub_pushes rows are history: they cannot be changed/,
      ],
      ["hub_pushes", sql`DELETE FROM hub_pushes`, /hub_pushes rows are history: they cannot be deleted/],
      [
        "sample_revisions",
        sql`UPDATE sample_revisions SET sample = '{}'::jsonb`,
        /sample_revisions rows are history: they cannot be changed/,
      ],
      ["sample_revisions", sql`DELETE FROM sample_revisions`, /sample_revisions rows are history/],
      [
        "review_decisions",
        sql`UPDATE review_decisions SET decision = 'reject'`,
        /review_decisions rows are history: they cannot be changed/,
      ],
      [
        "review_decisions",
        sql`DELETE FROM review_decisions WHERE queue_id = ${queue}`,
        /review_decisions rows are history/,
      ],
      ["audit_log", sql`UPDATE audit_log SET actor = 'someone else'`, /audit_log rows are history/],
      ["audit_log", sql`DELETE FROM audit_log`, /audit_log rows are history: they cannot be deleted/],
    ];
    for (const [table, statement, message] of attempts) {
      const [row] = await curator.database.db
        .execute(sql`SELECT count(*)::int AS n FROM ${sql.identifier(table)}`)
        .then((r) => (Array.isArray(r) ? r : (r as { rows: { n: number }[] }).rows) as { n: number }[]);
      expect(row?.n, `${table} holds rows to protect`).toBeGreaterThan(0);
      expect.soft(await attempt(statement), table).toMatchObject(refused(message));
    }
  });

  it("still builds, commits, discards drafts, and refuses to discard a draft under review with 409", async () => {
    await writeFile(join(curator.config.importDir, "more.jsonl"), jsonl([chatRow("m0", "อีก", "ครับ")]));
    await writeFile(join(curator.config.importDir, "gone.jsonl"), jsonl([chatRow("g0", "ทิ้ง", "ครับ")]));
    const more = await build("kept", "more.jsonl");
    const commit = await post(`/v1/versions/${more}/commit`);
    expect(await commit.json()).toMatchObject({ status: "committed", committedAt: expect.any(String) });
    const gone = await build("kept", "gone.jsonl");
    expect((await request(`/v1/versions/${gone}`, { method: "DELETE" })).status).toBe(204);
    expect(
      await curator.database.db.select().from(tables.samples).where(eq(tables.samples.versionHash, gone)),
    ).toEqual([]);

    const reviewed = await post(`/v1/versions/${draft}/review-queues`, {
      name: "draft-review",
      plan: { size: 1 },
    });
    const reviewQueue = ((await reviewed.json()) as { id: string }).id;
    const discard = await request(`/v1/versions/${draft}`, { method: "DELETE" });
    expect(discard.status).toBe(409);
    expect(((await discard.json()) as { error: { message: string } }).error.message).toBe(
      `version ${draft} is under review (review queue ${reviewQueue}): a draft with review queues cannot be discarded`,
    );
    expect((await request(`/v1/versions/${draft}`)).status).toBe(200);
  });
});
