/**
 * The review page over HTTP, without a browser: signing in (bad tokens and roles that cannot review are
 * refused, the cookie is HttpOnly and same-site, and it opens pages but never the JSON API), form posts from
 * another origin refused, edits through the form (line breaks as browsers send them, a stale revision refused
 * with 409, fields that are not editable named), rejections that need a reason, unknown queues and items, and
 * the word diff and editable fields behind the edit view.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffWords, words } from "../src/web/diff";
import { applyFields, editableFields } from "../src/web/fields";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

describe("word diff", () => {
  it("cuts Thai into words, so a change inside a sentence shows only the words it changed", () => {
    expect(words("ผู้เยาว์ทำนิติกรรม").join("|")).toBe("ผู้|เยาว์|ทำ|นิติกรรม");
    expect(diffWords("ผู้เยาว์ทำนิติกรรมเองได้", "ผู้เยาว์ทำสัญญาเองได้")).toEqual([
      { op: "same", text: "ผู้เยาว์ทำ" },
      { op: "del", text: "นิติกรรม" },
      { op: "add", text: "สัญญา" },
      { op: "same", text: "เองได้" },
    ]);
    expect(diffWords("a b\nc", "a b\nc")).toEqual([{ op: "same", text: "a b\nc" }]);
    expect(diffWords("", "ใหม่")).toEqual([{ op: "add", text: "ใหม่" }]);
    // Parts joined give both sides back.
    const parts = diffWords("one two three\nfour", "one 2 three\nfour five");
    expect(
      parts
        .filter((p) => p.op !== "add")
        .map((p) => p.text)
        .join(""),
    ).toBe("one two three\nfour");
    expect(
      parts
        .filter((p) => p.op !== "del")
        .map((p) => p.text)
        .join(""),
    ).toBe("one 2 three\nfour five");
  });
});

describe("editable fields", () => {
  const sample = {
    id: "s",
    source: "x",
    meta: {},
    tools: null,
    messages: [
      { role: "user" as const, content: "ถาม" },
      {
        role: "assistant" as const,
        content: null,
        tool_calls: [{ id: "c1", type: "function" as const, function: { name: "f", arguments: "{}" } }],
      },
      { role: "tool" as const, content: "{}", tool_call_id: "c1" },
      { role: "assistant" as const, content: "ตอบ" },
    ],
  };
  it("names each message's text and each call's arguments, and reads CRLF back as LF", () => {
    expect(editableFields("chat", sample).map((f) => f.name)).toEqual([
      "f.messages.0.content",
      "f.messages.1.tool_calls.0.function.arguments",
      "f.messages.2.content",
      "f.messages.3.content",
    ]);
    const edited = applyFields("chat", sample, {
      "f.messages.0.content": "ถาม",
      "f.messages.3.content": "บรรทัดหนึ่ง\r\nบรรทัดสอง",
      revision: "0",
    });
    expect((edited as typeof sample).messages[3]?.content).toBe("บรรทัดหนึ่ง\nบรรทัดสอง");
    expect(sample.messages[3]?.content).toBe("ตอบ"); // the original is untouched
    expect(() => applyFields("chat", sample, { "f.meta.note": "x" })).toThrow(
      "form field f.meta.note is not an editable field of this sample",
    );
  });
});

describe("the review page over HTTP", { timeout: 120_000 }, () => {
  let curator: TestCurator;
  let queue: string;
  const tokens: Record<string, string> = {};
  const ORIGIN = "http://localhost";

  beforeAll(async () => {
    curator = await createTestCurator("pglite", { auth: true });
    await curator.registry.ensureDataset({ name: "page-ds", kind: "chat" });
    await writeFile(
      join(curator.dir, "page.jsonl"),
      jsonl([chatRow("p1", "คำถามหนึ่ง", "คำตอบหนึ่ง"), chatRow("p2", "คำถามสอง", "คำตอบสอง")]),
    );
    const { version } = await curator.registry.buildVersion("page-ds", {
      inputs: [{ path: join(curator.dir, "page.jsonl"), split: "train", source: "forum" }],
    });
    queue = (
      await curator.reviews.create(version.hash, {
        name: "page queue",
        plan: { strata: "none", size: 10, seed: 0 },
        reviewsPerItem: 2,
        leaseSeconds: 600,
      })
    ).id;
    for (const [name, role] of [
      ["ann", "reviewer"],
      ["ben", "reviewer"],
      ["bot", "pipeline"],
    ] as const)
      tokens[name] = (await curator.access.createToken({ name, role })).token;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const page = (
    path: string,
    token?: string,
    init: RequestInit & { form?: Record<string, string | string[]> } = {},
  ) => {
    const headers = new Headers(init.headers);
    if (token) headers.set("cookie", `curator_session=${token}`);
    let body = init.body;
    if (init.form) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(init.form)) for (const x of [v].flat()) params.append(k, x);
      body = params.toString();
      headers.set("content-type", "application/x-www-form-urlencoded");
      if (!headers.has("origin")) headers.set("origin", ORIGIN);
    }
    return curator.app.request(path, { method: init.form ? "POST" : (init.method ?? "GET"), headers, body });
  };
  const itemOf = (res: Response) => Number(/\/items\/(\d+)/.exec(res.headers.get("location") ?? "")?.[1]);

  it("signs a reviewer in with a token kept in an HttpOnly same-site cookie, and refuses the rest", async () => {
    const anonymous = await page("/review");
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/review/sign-in?next=%2Freview");

    const bad = await page("/review/sign-in", undefined, { form: { token: "sv_nope", next: "/review" } });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain("That token is not valid: unknown or revoked.");
    const pipeline = await page("/review/sign-in", undefined, {
      form: { token: tokens.bot as string, next: "" },
    });
    expect(pipeline.status).toBe(400);
    expect(await pipeline.text()).toContain("A pipeline token cannot review; ask for a reviewer token.");

    const ok = await page("/review/sign-in", undefined, {
      form: { token: tokens.ann as string, next: `/review/queues/${queue}` },
    });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/review/queues/${queue}`);
    const cookie = ok.headers.get("set-cookie") ?? "";
    expect(cookie).toContain(`curator_session=${tokens.ann}`);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/review/);
    // A next that leaves the review page is not followed.
    const away = await page("/review/sign-in", undefined, {
      form: { token: tokens.ann as string, next: "https://evil.example/" },
    });
    expect(away.headers.get("location")).toBe("/review");

    const list = await page("/review", tokens.ann);
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toContain("page queue");
    expect(html).toContain("ann (reviewer)");
    // The cookie opens pages, not the JSON API.
    expect((await page("/v1/review-queues", tokens.ann)).status).toBe(401);
    // A role that may not review gets the page's own 403.
    const forbidden = await page("/review", tokens.bot);
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toContain("a pipeline token may not call GET /review");

    const out = await page("/review/sign-out", tokens.ann, { form: {} });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/curator_session=;.*Max-Age=0/);
  });

  it("refuses form posts from another origin", async () => {
    for (const headers of [{ origin: "https://evil.example" }, { origin: "null" }]) {
      const res = await page(`/review/queues/${queue}/next`, tokens.ann, { form: {}, headers });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain(
        "form posts to the review page must come from the review page itself",
      );
    }
    // Sec-Fetch-Site: same-origin is enough without Origin.
    const res = await curator.app.request(`/review/queues/${queue}/next`, {
      method: "POST",
      headers: {
        cookie: `curator_session=${tokens.ann}`,
        "sec-fetch-site": "same-origin",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "",
    });
    expect(res.status).toBe(303);
  });

  it("edits through the form under the revision it was loaded at; a stale one gets 409", async () => {
    const annNext = await page(`/review/queues/${queue}/next`, tokens.ann, { form: {} });
    const item = itemOf(annNext);
    const itemPage = await page(`/review/queues/${queue}/items/${item}`, tokens.ann);
    expect(itemPage.status).toBe(200);
    // Ben holds the other item; Ann's item is not his to decide.
    const benItem = itemOf(await page(`/review/queues/${queue}/next`, tokens.ben, { form: {} }));
    expect(benItem).not.toBe(item);
    const notHis = await page(`/review/queues/${queue}/items/${item}/decision`, tokens.ben, {
      form: { decision: "accept" },
    });
    expect(notHis.status).toBe(409);
    expect(await notHis.text()).toContain("is not leased to you");
    expect(await (await page(`/review/queues/${queue}/items/${item}`, tokens.ben)).text()).toContain(
      "This item is not leased to you.",
    );

    const edit = await (await page(`/review/queues/${queue}/items/${item}/edit`, tokens.ann)).text();
    const original = /name="f\.messages\.1\.content"[^>]*>([^<]*)</.exec(edit)?.[1] ?? "";
    expect(original).toMatch(/^คำตอบ/);
    const fields = {
      revision: "0",
      "f.messages.0.content": /name="f\.messages\.0\.content"[^>]*>([^<]*)</.exec(edit)?.[1] ?? "",
    };
    // The diff view: the change is marked; an unknown field is named.
    const preview = await page(`/review/queues/${queue}/items/${item}/edit`, tokens.ann, {
      form: { ...fields, "f.messages.1.content": `${original}\r\nเพิ่มบรรทัด` },
    });
    expect(await preview.text()).toContain("<ins>\nเพิ่มบรรทัด</ins>");
    const unknown = await page(`/review/queues/${queue}/items/${item}/decision`, tokens.ann, {
      form: { ...fields, decision: "edit", "f.tools": "[]" },
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("form field f.tools is not an editable field of this sample");

    const saved = await page(`/review/queues/${queue}/items/${item}/decision`, tokens.ann, {
      form: { ...fields, decision: "edit", "f.messages.1.content": `${original}\r\nเพิ่มบรรทัด` },
    });
    expect(saved.status).toBe(303);
    const latest = await curator.reviews.item(queue, item);
    expect(latest.sample?.revision).toBe(1);
    const messages =
      (latest.sample?.sample as { messages: { content: string }[] } | undefined)?.messages ?? [];
    expect(messages[1]?.content).toBe(`${original}\nเพิ่มบรรทัด`);
    expect(messages[0]?.content).toBe(fields["f.messages.0.content"]);

    // Ben reaches the same item, edits the revision he loaded before Ann saved: refused, Ann's edit stays.
    await page(`/review/queues/${queue}/items/${benItem}/decision`, tokens.ben, {
      form: { decision: "accept" },
    });
    expect(itemOf(await page(`/review/queues/${queue}/next`, tokens.ben, { form: {} }))).toBe(item);
    const stale = await page(`/review/queues/${queue}/items/${item}/decision`, tokens.ben, {
      form: { ...fields, decision: "edit", "f.messages.1.content": "ทับของแอน" },
    });
    expect(stale.status).toBe(409);
    const staleHtml = await stale.text();
    expect(staleHtml).toContain("is at revision 1, not 0: load it again and redo the edit");
    // Ben's text is on the page, not lost.
    expect(staleHtml).toContain("Your edit, not saved");
    expect(staleHtml).toMatch(/<textarea readonly[^>]*>ทับของแอน<\/textarea>/);
    expect((await curator.reviews.item(queue, item)).sample?.revision).toBe(1);
  });

  it("shows a dropped record with the filter's reason, and measures the filter from the page's decisions", async () => {
    await writeFile(join(curator.dir, "dropped.jsonl"), `${jsonl([chatRow("d1", "ถาม", "ตอบ")])}{oops\n`);
    const { version } = await curator.registry.buildVersion("page-ds", {
      inputs: [{ path: join(curator.dir, "dropped.jsonl"), split: "train", source: "forum" }],
      maxRejected: 1,
    });
    const drops = await curator.reviews.create(version.hash, {
      name: "drops",
      plan: { strata: "filter-reason", size: 5, seed: 0 },
      reviewsPerItem: 1,
      leaseSeconds: 600,
    });
    const item = itemOf(await page(`/review/queues/${drops.id}/next`, tokens.ann, { form: {} }));
    const html = await (await page(`/review/queues/${drops.id}/items/${item}`, tokens.ann)).text();
    const record = (await curator.reviews.item(drops.id, item)).rejected;
    expect(record?.action).toBe("dropped");
    expect(html).toContain(`data-reason="${record?.reason}"`);
    expect(html).toContain("The filter was right to drop it");
    expect(html).toContain("Drop it (filter right)");
    const decided = await page(`/review/queues/${drops.id}/items/${item}/decision`, tokens.ann, {
      form: { decision: "reject", reasons: "filter-right" },
    });
    expect(decided.headers.get("location")).toMatch(/\?done&after=/);
    const metrics = await (await page(`/review/queues/${drops.id}/metrics`, tokens.ann)).text();
    expect(metrics).toContain(
      `<td>${record?.step}/${record?.reason}</td><td>1</td><td>1</td><td>100.0%</td>`,
    );
  });

  it("wants a reason to reject, answers unknown queues and items with 404, and shows the metrics", async () => {
    const item = itemOf(await page(`/review/queues/${queue}/next`, tokens.ann, { form: {} }));
    const path = `/review/queues/${queue}/items/${item}/decision`;
    const none = await page(path, tokens.ann, { form: { decision: "reject" } });
    expect(none.status).toBe(400);
    expect(await none.text()).toContain("a rejection needs a reason: tick one, or write a note");
    const noted = await page(path, tokens.ann, { form: { decision: "reject", note: "คำตอบไม่ครบ" } });
    expect(noted.status).toBe(303);
    const decided = (await curator.reviews.item(queue, item)).decided.find((d) => d.note === "คำตอบไม่ครบ");
    expect(decided?.reasons).toEqual(["other"]);
    const badDecision = await page(path, tokens.ann, { form: { decision: "maybe" } });
    expect(badDecision.status).toBe(400);

    expect((await page("/review/queues/not-a-queue", tokens.ann)).status).toBe(404);
    expect((await page("/review/queues/00000000-0000-4000-8000-000000000000", tokens.ann)).status).toBe(404);
    expect((await page(`/review/queues/${queue}/items/99`, tokens.ann)).status).toBe(404);
    expect((await page(`/review/queues/${queue}/items/x`, tokens.ann)).status).toBe(400);

    const metrics = await (await page(`/review/queues/${queue}/metrics`, tokens.ann)).text();
    expect(metrics).toContain("Cohen&#39;s κ");
    // Ann's edit and rejection, Ben's acceptance (his stale edit was refused): 2 of 3 kept.
    expect(metrics).toContain("<td>all</td><td>2</td><td>3</td><td>2</td><td>66.7%</td>");
  });
});
