/**
 * From review to a published version: edits under If-Match (a stale revision is refused, no edit lost), the
 * publish gate (a finished queue, enough kept), and the published version: the parent without the rejected
 * samples and with the edits, so its diff against the parent is exactly the decisions, with the changes in its
 * rejected records, published in one step, and the same version again on a second publish.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

describe.each(testDatabaseKinds())("publishing a reviewed version on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let parent: string;
  let r1: string;
  let r2: string;
  let lead: string;

  beforeAll(async () => {
    curator = await createTestCurator(kind, { auth: true });
    await curator.registry.ensureDataset({ name: "pub-ds", kind: "chat" });
    const rows = Array.from({ length: 6 }, (_, i) => chatRow(`q${i}`, `คำถามที่ ${i}`, `คำตอบที่ ${i}`));
    await writeFile(join(curator.dir, "pub.jsonl"), jsonl(rows));
    const { version } = await curator.registry.buildVersion("pub-ds", {
      inputs: [{ path: join(curator.dir, "pub.jsonl"), split: "train", source: "forum" }],
    });
    parent = version.hash;
    r1 = (await curator.access.createToken({ name: "r1", role: "reviewer" })).token;
    r2 = (await curator.access.createToken({ name: "r2", role: "reviewer" })).token;
    lead = (await curator.access.createToken({ name: "lead", role: "curator" })).token;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const req = (
    token: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) =>
    curator.app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  type Item = { item: number; sample: { sampleId: string; revision: number; sample: Record<string, any> } };
  const next = async (token: string, queue: string) => {
    const res = await req(token, "POST", `/v1/review-queues/${queue}/next`);
    return res.status === 204 ? undefined : ((await res.json()) as Item);
  };
  const edited = (item: Item, answer: string) => ({
    ...item.sample.sample,
    messages: [item.sample.sample.messages[0], { role: "assistant", content: answer }],
  });
  const queueOf = async (body: unknown) => {
    const res = await req(lead, "POST", `/v1/versions/${parent}/review-queues`, body);
    expect(res.status, await res.clone().text()).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };

  it("takes an edit only against the revision it was made from", async () => {
    const queue = await queueOf({ name: "edits", plan: { size: 1, seed: 3 }, reviewsPerItem: 2 });
    const first = (await next(r1, queue)) as Item;
    expect(first.sample.revision).toBe(0);
    const path = `/v1/review-queues/${queue}/items/${first.item}/decision`;
    const noHeader = await req(r1, "POST", path, { decision: "edit", sample: edited(first, "แก้ครั้งแรก") });
    expect(noHeader.status).toBe(400);
    expect(((await noHeader.json()) as { error: { message: string } }).error.message).toMatch(
      /^header\.if-match: /,
    );
    const badSample = await req(
      r1,
      "POST",
      path,
      { decision: "edit", sample: { id: "other" } },
      { "if-match": '"0"' },
    );
    expect(badSample.status).toBe(400);
    expect(((await badSample.json()) as { error: { message: string } }).error.message).toContain(
      "body.sample.",
    );
    const ok = await req(
      r1,
      "POST",
      path,
      { decision: "edit", sample: edited(first, "แก้ครั้งแรก") },
      { "if-match": '"0"' },
    );
    expect(ok.status, await ok.clone().text()).toBe(201);
    expect(((await ok.json()) as { revision: number }).revision).toBe(1);

    // The second reviewer sees the edit, and an edit of the older revision is refused.
    const second = (await next(r2, queue)) as Item;
    expect(second.item).toBe(first.item);
    expect(second.sample.revision).toBe(1);
    expect(second.sample.sample.messages[1].content).toBe("แก้ครั้งแรก");
    const path2 = `/v1/review-queues/${queue}/items/${second.item}/decision`;
    const stale = await req(
      r2,
      "POST",
      path2,
      { decision: "edit", sample: edited(second, "ทับ") },
      { "if-match": "0" },
    );
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as { error: { message: string } }).error.message).toMatch(
      /is at revision 1, not 0/,
    );
    const onTop = await req(
      r2,
      "POST",
      path2,
      { decision: "edit", sample: edited(second, "แก้ครั้งที่สอง") },
      { "if-match": '"1"' },
    );
    expect(onTop.status).toBe(201);
    const revisions = await curator.database.db
      .select()
      .from(tables.sampleRevisions)
      .where(eq(tables.sampleRevisions.queueId, queue));
    expect(revisions.map((r) => r.revision).sort()).toEqual([1, 2]); // the first edit is kept
  });

  it("publishes a finished queue as a new version whose diff is the decisions, once", async () => {
    const queue = await queueOf({ name: "release", plan: { size: 100 } });
    const publish = () => req(lead, "POST", `/v1/review-queues/${queue}/publish`);
    const draft = await publish();
    expect(draft.status).toBe(409);
    expect(((await draft.json()) as { error: { message: string } }).error.message).toMatch(
      /is a draft: commit it before publishing/,
    );
    await curator.registry.commitVersion(parent);
    const early = await publish();
    expect(early.status).toBe(409);
    expect(((await early.json()) as { error: { message: string } }).error.message).toMatch(
      /is not finished: 0 of 6 items have their 1 decision/,
    );
    const decisions: Record<string, string> = {};
    for (let item = await next(r1, queue), n = 0; item; item = await next(r1, queue), n++) {
      const path = `/v1/review-queues/${queue}/items/${item.item}/decision`;
      const id = item.sample.sampleId;
      if (n === 0) {
        decisions[id] = "reject";
        expect((await req(r1, "POST", path, { decision: "reject", reasons: ["wrong-answer"] })).status).toBe(
          201,
        );
      } else if (n === 1) {
        decisions[id] = "edit";
        const body = { decision: "edit", sample: edited(item, "คำตอบที่แก้แล้ว") };
        expect((await req(r1, "POST", path, body, { "if-match": String(item.sample.revision) })).status).toBe(
          201,
        );
      } else {
        decisions[id] = "accept";
        expect((await req(r1, "POST", path, { decision: "accept" })).status).toBe(201);
      }
    }
    expect(Object.keys(decisions)).toHaveLength(6);
    expect((await req(r1, "POST", `/v1/review-queues/${queue}/publish`)).status).toBe(403);

    const res = await publish();
    expect(res.status, await res.clone().text()).toBe(201);
    const published = (await res.json()) as {
      version: { hash: string; status: string; parents: string[]; stats: { rows: number } };
      summary: { removed: number; edited: number; acceptance: number };
    };
    expect(published.version).toMatchObject({ status: "published", parents: [parent], stats: { rows: 5 } });
    expect(published.summary).toEqual({ removed: 1, edited: 1, acceptance: 5 / 6 });

    const rejectedId = Object.keys(decisions).find((id) => decisions[id] === "reject");
    const editedId = Object.keys(decisions).find((id) => decisions[id] === "edit");
    const diff = await curator.registry.diff(parent, published.version.hash);
    expect(diff.addedSamples.map((s) => s.sampleId)).toEqual([editedId]);
    expect(diff.removedSamples.map((s) => s.sampleId).sort()).toEqual([editedId, rejectedId].sort());
    expect(diff.unchanged).toBe(4);
    const sample = await curator.registry.getSample(published.version.hash, editedId as string);
    expect((sample.sample as { messages: { content: string }[] }).messages[1]?.content).toBe("คำตอบที่แก้แล้ว");
    const changes = await curator.registry.browseRejected(published.version.hash, { limit: 10 });
    expect(
      (changes as { items: { reason: string; action: string }[] }).items
        .map((r) => [r.reason, r.action])
        .sort(),
    ).toEqual([
      ["review-edited", "modified"],
      ["review-rejected", "dropped"],
    ]);

    const again = await publish();
    expect(again.status).toBe(200);
    expect(((await again.json()) as { version: { hash: string } }).version.hash).toBe(published.version.hash);
    const rows = await curator.database.db.select().from(tables.publications);
    expect(rows.filter((r) => r.versionHash === published.version.hash)).toEqual([
      expect.objectContaining({ parentHash: parent, queueId: queue }),
    ]);
    const audit = await curator.access.audit({ action: "version.publish" });
    expect(audit.map((a) => a.target)).toEqual([{ id: queue }, { id: queue }]);
  });

  it("refuses to publish a queue that kept too little", async () => {
    const queue = await queueOf({ name: "poor", plan: { size: 2, seed: 9 } });
    for (let item = await next(r2, queue); item; item = await next(r2, queue))
      await req(r2, "POST", `/v1/review-queues/${queue}/items/${item.item}/decision`, {
        decision: "reject",
        reasons: ["off-topic"],
      });
    const res = await req(lead, "POST", `/v1/review-queues/${queue}/publish`);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /kept 0\.0% of its reviewed samples, under the 80\.0% needed to publish/,
    );
  });
});
