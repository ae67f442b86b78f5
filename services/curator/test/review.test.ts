/**
 * Review queues over HTTP, with reviewer tokens: a seeded, stratified sample of a version; `next` leases an item
 * to one reviewer at a time, never twice to the same reviewer, never past its k decisions, also with many
 * reviewers asking at once; decisions only from the lease holder, and not after the lease expired; metrics with
 * acceptance by stratum, Cohen's and Fleiss' kappa, and the precision of the filters from reviewed drops.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { agreement } from "../src/review";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

describe("agreement", () => {
  it("is Cohen's kappa for two decisions per item and Fleiss' kappa for more", () => {
    const A = "accept" as const;
    const R = "reject" as const;
    // Observed 3/4; first decisions 3/4 accept, second 1/2: chance 1/2; kappa 1/2.
    expect(
      agreement(
        [
          [A, A],
          [R, R],
          [A, R],
          [A, A],
        ],
        2,
      ),
    ).toEqual({ method: "cohen", kappa: 0.5, items: 4 });
    // Mean pairwise agreement 2/3, accept share 1/2: kappa 1/3.
    const fleiss = agreement(
      [
        [A, A, A],
        [R, R, R],
        [A, A, R],
        [A, R, R],
      ],
      3,
    );
    expect(fleiss.method).toBe("fleiss");
    expect(fleiss.kappa).toBeCloseTo(1 / 3, 12);
    // Items short of k decisions do not count; all-accept leaves no room beyond chance.
    expect(agreement([[A], [A]], 2)).toEqual({ method: "cohen", kappa: null, items: 0 });
    expect(
      agreement(
        [
          [A, A],
          [A, A],
        ],
        2,
      ).kappa,
    ).toBeNull();
  });
});

describe.each(testDatabaseKinds())("review queues on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let hash: string;
  const reviewers: string[] = [];
  let curatorToken: string;

  beforeAll(async () => {
    curator = await createTestCurator(kind, { auth: true });
    await curator.registry.ensureDataset({ name: "review-ds", kind: "chat" });
    const files = {
      "forum.jsonl": jsonl(Array.from({ length: 6 }, (_, i) => chatRow(`f${i}`, `ถาม ${i}`, `ตอบ ${i}`))),
      // Two records the input step drops: a filter-reason stratum to review.
      "news.jsonl": `${jsonl(Array.from({ length: 6 }, (_, i) => chatRow(`n${i}`, `ข่าว ${i}`, `สรุป ${i}`)))}{oops\n{"id":"x"}\n`,
    };
    for (const [name, text] of Object.entries(files)) await writeFile(join(curator.dir, name), text);
    const { version } = await curator.registry.buildVersion("review-ds", {
      inputs: [
        { path: join(curator.dir, "forum.jsonl"), split: "train", source: "forum" },
        { path: join(curator.dir, "news.jsonl"), split: "train", source: "news" },
      ],
      maxRejected: 2,
    });
    hash = version.hash;
    for (let i = 0; i < 24; i++)
      reviewers.push((await curator.access.createToken({ name: `reviewer-${i}`, role: "reviewer" })).token);
    curatorToken = (await curator.access.createToken({ name: "lead", role: "curator" })).token;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const req = (token: string, method: string, path: string, body?: unknown) =>
    curator.app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  const createQueue = async (body: unknown) => {
    const res = await req(curatorToken, "POST", `/v1/versions/${hash}/review-queues`, body);
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as { id: string; items: number };
  };
  const next = async (token: string, queue: string) => {
    const res = await req(token, "POST", `/v1/review-queues/${queue}/next`);
    if (res.status === 204) return undefined;
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as {
      item: number;
      stratum: string;
      kind: string;
      sample?: { sampleId: string };
    };
  };
  const decide = (
    token: string,
    queue: string,
    item: number,
    decision: "accept" | "reject",
    reasons: string[] = [],
  ) => req(token, "POST", `/v1/review-queues/${queue}/items/${item}/decision`, { decision, reasons });

  it("samples a version by stratum, the same items for the same seed", async () => {
    const a = await createQueue({ name: "by source", plan: { strata: "source", size: 2, seed: 7 } });
    const b = await createQueue({ name: "again", plan: { strata: "source", size: 2, seed: 7 } });
    expect(a.items).toBe(4);
    const itemsOf = async (id: string) =>
      curator.database.db
        .select({ stratum: tables.reviewItems.stratum, sampleId: tables.reviewItems.sampleId })
        .from(tables.reviewItems)
        .where(eq(tables.reviewItems.queueId, id))
        .orderBy(tables.reviewItems.item);
    const first = await itemsOf(a.id);
    expect(first.map((i) => i.stratum)).toEqual(["forum", "forum", "news", "news"]);
    expect(await itemsOf(b.id)).toEqual(first);
    const dropped = await createQueue({ name: "drops", plan: { strata: "filter-reason", size: 5 } });
    expect(dropped.items).toBe(2);
    const none = await req(curatorToken, "POST", `/v1/versions/${hash}/review-queues`, {
      name: "bad",
      plan: { strata: "sideways", size: 1 },
    });
    expect(none.status).toBe(400);
    expect(((await none.json()) as { error: { message: string } }).error.message).toMatch(
      /^body\.plan\.strata: /,
    );
    expect((await req(reviewers[0] as string, "POST", `/v1/versions/${hash}/review-queues`, {})).status).toBe(
      403,
    );
  });

  it("answers bad input with a clear error: malformed and oversized bodies, unknown ids, bad fields", async () => {
    const queue = await createQueue({ name: "bad input", plan: { size: 2, seed: 1 } });
    const message = async (res: Response) =>
      ((await res.json()) as { error: { message: string } }).error.message;
    const raw = (path: string, body: string) =>
      curator.app.request(path, {
        method: "POST",
        headers: { authorization: `Bearer ${curatorToken}`, "content-type": "application/json" },
        body,
      });
    const malformed = await raw(`/v1/versions/${hash}/review-queues`, '{"name": "x", plan: }');
    expect(malformed.status).toBe(400);
    expect(await message(malformed)).toBe("Malformed JSON in request body");
    // Bodies over CURATOR_MAX_BODY_BYTES are refused before they are read, naming the setting.
    const huge = await raw(
      `/v1/versions/${hash}/review-queues`,
      JSON.stringify({ name: "x".repeat(9 * 1024 * 1024) }),
    );
    expect(huge.status).toBe(413);
    expect(await message(huge)).toBe(
      `the request body is larger than ${curator.config.maxBodyBytes} bytes (CURATOR_MAX_BODY_BYTES)`,
    );
    const badPlan = await req(curatorToken, "POST", `/v1/versions/${hash}/review-queues`, {
      name: "x",
      plan: { strata: "by-mood", size: 0 },
    });
    expect(badPlan.status).toBe(400);
    expect(await message(badPlan)).toMatch(/^body\.plan\.strata: .*; body\.plan\.size: /);
    const unknownVersion = await req(curatorToken, "POST", `/v1/versions/${"f".repeat(64)}/review-queues`, {
      name: "x",
      plan: { size: 1 },
    });
    expect(unknownVersion.status).toBe(404);
    expect(await message(unknownVersion)).toContain(`version ${"f".repeat(64)}`);
    const unknownQueue = await req(
      reviewers[0] as string,
      "POST",
      "/v1/review-queues/00000000-0000-4000-8000-000000000000/next",
    );
    expect(unknownQueue.status).toBe(404);
    expect(await message(unknownQueue)).toContain("review queue 00000000-0000-4000-8000-000000000000");
    expect((await req(reviewers[0] as string, "GET", "/v1/review-queues/not-a-uuid")).status).toBe(400);
    const unknownItem = await decide(reviewers[0] as string, queue.id, 99, "accept");
    expect(unknownItem.status).toBe(404);
    expect(await message(unknownItem)).toContain(`item 99 of review queue ${queue.id}`);
    const noReason = await req(
      reviewers[0] as string,
      "POST",
      `/v1/review-queues/${queue.id}/items/1/decision`,
      {
        decision: "reject",
      },
    );
    expect(noReason.status).toBe(400);
    expect(await message(noReason)).toBe("body.reasons: a rejection needs at least one reason code");
  });

  it("leases an item to one reviewer at a time and takes decisions only from the holder", async () => {
    const q = await createQueue({ name: "leases", plan: { size: 3 }, reviewsPerItem: 2 });
    const [r1, r2, r3] = reviewers as [string, string, string];
    const one = await next(r1, q.id);
    const two = await next(r2, q.id);
    expect(one?.item).not.toBe(two?.item);
    expect((await next(r1, q.id))?.item).toBe(one?.item); // asking again renews the same lease
    expect(one?.sample?.sampleId).toBeTruthy();

    const stolen = await decide(r2, q.id, one?.item as number, "accept");
    expect(stolen.status).toBe(409);
    expect(((await stolen.json()) as { error: { message: string } }).error.message).toMatch(
      /is not leased to you/,
    );
    const noReason = await decide(r1, q.id, one?.item as number, "reject");
    expect(noReason.status).toBe(400);
    expect(((await noReason.json()) as { error: { message: string } }).error.message).toContain(
      "body.reasons",
    );
    expect((await decide(r1, q.id, one?.item as number, "accept")).status).toBe(201);
    expect((await decide(r1, q.id, one?.item as number, "accept")).status).toBe(409);

    // r1 never gets the item they decided again; r3 may, as it needs a second decision.
    const seen = new Set<number>();
    for (let item = await next(r1, q.id); item; item = await next(r1, q.id)) {
      expect(item.item).not.toBe(one?.item);
      seen.add(item.item);
      expect((await decide(r1, q.id, item.item, "accept")).status).toBe(201);
    }
    expect(seen.has(two?.item as number)).toBe(false); // r2 still holds it

    // An expired lease: the item goes to someone else, and the old holder's decision is refused.
    await curator.database.db
      .update(tables.reviewItems)
      .set({ leaseExpires: sql`now() - interval '1 second'` })
      .where(and(eq(tables.reviewItems.queueId, q.id), eq(tables.reviewItems.item, two?.item as number)));
    const taken = await next(r3, q.id);
    expect(taken?.item).toBe(two?.item);
    const late = await decide(r2, q.id, two?.item as number, "accept");
    expect(late.status).toBe(409);
    expect(
      (await req(r3, "POST", `/v1/review-queues/${q.id}/items/99/decision`, { decision: "accept" })).status,
    ).toBe(404);
  });

  it("never hands an item to two reviewers at once nor past k decisions, with 24 reviewers asking together", async () => {
    const q = await createQueue({ name: "crowd", plan: { size: 10 }, reviewsPerItem: 2 });
    for (let round = 0; round < 4; round++) {
      const handed = await Promise.all(reviewers.map((r) => next(r, q.id)));
      const items = handed.filter((h) => h !== undefined).map((h) => h.item);
      expect(new Set(items).size).toBe(items.length); // no item held by two reviewers
      await Promise.all(
        handed.map((h, i) =>
          h ? decide(reviewers[i] as string, q.id, h.item, i % 3 ? "accept" : "reject", ["off-topic"]) : null,
        ),
      );
    }
    const rows = await curator.database.db
      .select({ item: tables.reviewDecisions.item, reviewer: tables.reviewDecisions.reviewer })
      .from(tables.reviewDecisions)
      .where(eq(tables.reviewDecisions.queueId, q.id));
    const perItem = new Map<number, string[]>();
    for (const r of rows) perItem.set(r.item, [...(perItem.get(r.item) ?? []), r.reviewer]);
    expect(perItem.size).toBe(10);
    for (const [, who] of perItem) {
      expect(who).toHaveLength(2);
      expect(new Set(who).size).toBe(2);
    }
    const info = (await (await req(curatorToken, "GET", `/v1/review-queues/${q.id}`)).json()) as {
      progress: { complete: number; decisions: number };
    };
    expect(info.progress).toMatchObject({ complete: 10, decisions: 20 });
    expect(await next(reviewers[0] as string, q.id)).toBeUndefined();
  });

  it("reports acceptance by stratum, agreement and the precision of the filters", async () => {
    const q = await createQueue({ name: "metrics", plan: { strata: "source", size: 2 }, reviewsPerItem: 2 });
    const [r1, r2] = reviewers as [string, string];
    // Reviewer 1 accepts everything; reviewer 2 rejects the news items.
    for (const [token, rejectNews] of [
      [r1, false],
      [r2, true],
    ] as const) {
      for (let item = await next(token, q.id); item; item = await next(token, q.id)) {
        const reject = rejectNews && item.stratum === "news";
        expect(
          (await decide(token, q.id, item.item, reject ? "reject" : "accept", reject ? ["wrong-answer"] : []))
            .status,
        ).toBe(201);
      }
    }
    const metrics = (await (await req(r1, "GET", `/v1/review-queues/${q.id}/metrics`)).json()) as Record<
      string,
      any
    >;
    expect(metrics).toMatchObject({ items: 4, decisions: 8, complete: 4, progress: 1 });
    expect(metrics.byStratum).toEqual([
      { stratum: "forum", items: 2, decisions: 4, accepted: 4, acceptance: 1 },
      { stratum: "news", items: 2, decisions: 4, accepted: 2, acceptance: 0.5 },
    ]);
    // First decisions all accept: chance agreement equals the observed share of accepts, kappa 0.
    expect(metrics.agreement).toEqual({ method: "cohen", kappa: 0, items: 4 });

    const drops = await createQueue({ name: "drops-metrics", plan: { strata: "filter-reason", size: 5 } });
    for (let item = await next(r1, drops.id), n = 0; item; item = await next(r1, drops.id), n++) {
      expect(item.kind).toBe("rejected");
      await decide(r1, drops.id, item.item, n === 0 ? "reject" : "accept", n === 0 ? ["malformed"] : []);
    }
    const dm = (await (await req(r1, "GET", `/v1/review-queues/${drops.id}/metrics`)).json()) as Record<
      string,
      any
    >;
    const reviewed = dm.filterPrecision.reduce((s: number, r: { reviewed: number }) => s + r.reviewed, 0);
    const agreed = dm.filterPrecision.reduce((s: number, r: { agreed: number }) => s + r.agreed, 0);
    expect([reviewed, agreed]).toEqual([2, 1]);
    expect(dm.agreement).toBeNull();
  });
});
