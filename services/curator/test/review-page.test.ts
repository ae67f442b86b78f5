/**
 * The review page over HTTP, without a browser: signing in (bad tokens and roles that cannot review are
 * refused, the cookie is HttpOnly and same-site and holds a session, and it opens pages but never the JSON
 * API), sessions (only their sha256 stored, ended at sign-out, by revoking their token and by expiry, on
 * PGlite and PostgreSQL), form posts from another origin refused, edits through the form (line breaks as browsers send them, a stale revision refused
 * with 409, fields that are not editable named), rejections that need a reason, unknown queues and items, and
 * the word diff and editable fields behind the edit view.
 */
import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tokenCommand } from "@sovereign/access";
import { rowsOf } from "@sovereign/db";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { sha256Hex } from "@sovereign/shards";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { diffWords, words } from "../src/web/diff";
import { applyFields, editableFields } from "../src/web/fields";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

/** The session a sign-in answered with, from its Set-Cookie. */
function sessionOf(res: Response): string {
  const session = /curator_session=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")?.[1];
  if (!session) throw new Error(`no session cookie in the answer (${res.status})`);
  return session;
}

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
  /** Reviewers' session cookies, once signed in. */
  const sessions: Record<string, string> = {};
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
    session?: string,
    init: RequestInit & { form?: Record<string, string | string[]> } = {},
  ) => {
    const headers = new Headers(init.headers);
    if (session) headers.set("cookie", `curator_session=${session}`);
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
    expect(cookie).not.toContain(tokens.ann);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/review/);
    sessions.ann = sessionOf(ok);
    sessions.ben = sessionOf(
      await page("/review/sign-in", undefined, { form: { token: tokens.ben as string, next: "" } }),
    );
    // A next that leaves the review page is not followed.
    const away = await page("/review/sign-in", undefined, {
      form: { token: tokens.ann as string, next: "https://evil.example/" },
    });
    expect(away.headers.get("location")).toBe("/review");

    const list = await page("/review", sessions.ann);
    expect(list.status).toBe(200);
    const html = await list.text();
    expect(html).toContain("page queue");
    expect(html).toContain("ann (reviewer)");
    // The cookie opens pages, not the JSON API.
    expect((await page("/v1/review-queues", sessions.ann)).status).toBe(401);
    // A role that may not review gets the page's own 403.
    const forbidden = await curator.app.request("/review", {
      headers: { authorization: `Bearer ${tokens.bot}` },
    });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.text()).toContain("a pipeline token may not call GET /review");

    const other = sessionOf(
      await page("/review/sign-in", undefined, { form: { token: tokens.ann as string, next: "" } }),
    );
    const out = await page("/review/sign-out", other, { form: {} });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toMatch(/curator_session=;.*Max-Age=0/);
  });

  it("sends every page with a Content-Security-Policy that runs only its own script and styles, and no framing", async () => {
    const item = itemOf(await page(`/review/queues/${queue}/next`, sessions.ann, { form: {} }));
    const pages = [
      await page("/review/sign-in"),
      await page("/review", sessions.ann),
      await page(`/review/queues/${queue}`, sessions.ann),
      await page(`/review/queues/${queue}/items/${item}`, sessions.ann),
      await page(`/review/queues/${queue}/items/${item}/edit`, sessions.ann),
      await page(`/review/queues/${queue}/metrics`, sessions.ann),
      await page("/review/queues/00000000-0000-4000-8000-000000000000", sessions.ann), // 404 page
      // The access check's own error page.
      await curator.app.request("/review", { headers: { authorization: `Bearer ${tokens.bot}` } }),
    ];
    expect(pages.map((p) => p.status)).toEqual([200, 200, 200, 200, 200, 200, 404, 403]);
    for (const res of pages) {
      const html = await res.text();
      const policy = new Map(
        (res.headers.get("content-security-policy") ?? "").split(";").map((d) => {
          const [name = "", ...values] = d.trim().split(/\s+/);
          return [name, values] as const;
        }),
      );
      expect(policy.get("default-src")).toEqual(["'none'"]);
      expect(policy.get("frame-ancestors")).toEqual(["'none'"]);
      expect(policy.get("form-action")).toEqual(["'self'"]);
      expect(policy.get("base-uri")).toEqual(["'none'"]);
      expect(policy.get("object-src")).toEqual(["'none'"]);
      // Inline code runs only when its hash is listed: the page's one script and one style sheet are.
      const hashOf = (code: string) => `'sha256-${createHash("sha256").update(code).digest("base64")}'`;
      const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => hashOf(m[1] ?? ""));
      const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => hashOf(m[1] ?? ""));
      expect(scripts).toHaveLength(1);
      expect(styles).toHaveLength(1);
      expect(policy.get("script-src")).toEqual(scripts);
      expect(policy.get("style-src")).toEqual(styles);
      // Nothing else inline, which the policy would block: no style attributes, no event handler attributes.
      expect(html).not.toMatch(/\sstyle="/);
      expect(html).not.toMatch(/\son[a-z]+="/);
      expect(html).not.toMatch(/<script\s/);
      expect(res.headers.get("x-frame-options")).toBe("DENY");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    }
    // Every other answer is not to be sniffed either.
    for (const res of [await curator.app.request("/health"), await curator.app.request("/v1/datasets")])
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("refuses form posts from another origin", async () => {
    for (const headers of [{ origin: "https://evil.example" }, { origin: "null" }]) {
      const res = await page(`/review/queues/${queue}/next`, sessions.ann, { form: {}, headers });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain(
        "form posts to the review page must come from the review page itself",
      );
    }
    // Sec-Fetch-Site: same-origin is enough without Origin.
    const res = await curator.app.request(`/review/queues/${queue}/next`, {
      method: "POST",
      headers: {
        cookie: `curator_session=${sessions.ann}`,
        "sec-fetch-site": "same-origin",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "",
    });
    expect(res.status).toBe(303);
  });

  it("edits through the form under the revision it was loaded at; a stale one gets 409", async () => {
    const annNext = await page(`/review/queues/${queue}/next`, sessions.ann, { form: {} });
    const item = itemOf(annNext);
    const itemPage = await page(`/review/queues/${queue}/items/${item}`, sessions.ann);
    expect(itemPage.status).toBe(200);
    // Ben holds the other item; Ann's item is not his to decide.
    const benItem = itemOf(await page(`/review/queues/${queue}/next`, sessions.ben, { form: {} }));
    expect(benItem).not.toBe(item);
    const notHis = await page(`/review/queues/${queue}/items/${item}/decision`, sessions.ben, {
      form: { decision: "accept" },
    });
    expect(notHis.status).toBe(409);
    expect(await notHis.text()).toContain("is not leased to you");
    expect(await (await page(`/review/queues/${queue}/items/${item}`, sessions.ben)).text()).toContain(
      "This item is not leased to you.",
    );

    const edit = await (await page(`/review/queues/${queue}/items/${item}/edit`, sessions.ann)).text();
    const original = /name="f\.messages\.1\.content"[^>]*>([^<]*)</.exec(edit)?.[1] ?? "";
    expect(original).toMatch(/^คำตอบ/);
    const fields = {
      revision: "0",
      "f.messages.0.content": /name="f\.messages\.0\.content"[^>]*>([^<]*)</.exec(edit)?.[1] ?? "",
    };
    // The diff view: the change is marked; an unknown field is named.
    const preview = await page(`/review/queues/${queue}/items/${item}/edit`, sessions.ann, {
      form: { ...fields, "f.messages.1.content": `${original}\r\nเพิ่มบรรทัด` },
    });
    expect(await preview.text()).toContain("<ins>\nเพิ่มบรรทัด</ins>");
    const unknown = await page(`/review/queues/${queue}/items/${item}/decision`, sessions.ann, {
      form: { ...fields, decision: "edit", "f.tools": "[]" },
    });
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toContain("form field f.tools is not an editable field of this sample");

    const saved = await page(`/review/queues/${queue}/items/${item}/decision`, sessions.ann, {
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
    await page(`/review/queues/${queue}/items/${benItem}/decision`, sessions.ben, {
      form: { decision: "accept" },
    });
    expect(itemOf(await page(`/review/queues/${queue}/next`, sessions.ben, { form: {} }))).toBe(item);
    const stale = await page(`/review/queues/${queue}/items/${item}/decision`, sessions.ben, {
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
    const item = itemOf(await page(`/review/queues/${drops.id}/next`, sessions.ann, { form: {} }));
    const html = await (await page(`/review/queues/${drops.id}/items/${item}`, sessions.ann)).text();
    const record = (await curator.reviews.item(drops.id, item)).rejected;
    expect(record?.action).toBe("dropped");
    expect(html).toContain(`data-reason="${record?.reason}"`);
    expect(html).toContain("The filter was right to drop it");
    expect(html).toContain("Drop it (filter right)");
    const decided = await page(`/review/queues/${drops.id}/items/${item}/decision`, sessions.ann, {
      form: { decision: "reject", reasons: "filter-right" },
    });
    expect(decided.headers.get("location")).toMatch(/\?done&after=/);
    const metrics = await (await page(`/review/queues/${drops.id}/metrics`, sessions.ann)).text();
    expect(metrics).toContain(
      `<td>${record?.step}/${record?.reason}</td><td>1</td><td>1</td><td>100.0%</td>`,
    );
  });

  it("wants a reason to reject, answers unknown queues and items with 404, and shows the metrics", async () => {
    const item = itemOf(await page(`/review/queues/${queue}/next`, sessions.ann, { form: {} }));
    const path = `/review/queues/${queue}/items/${item}/decision`;
    const none = await page(path, sessions.ann, { form: { decision: "reject" } });
    expect(none.status).toBe(400);
    expect(await none.text()).toContain("a rejection needs a reason: tick one, or write a note");
    const noted = await page(path, sessions.ann, { form: { decision: "reject", note: "คำตอบไม่ครบ" } });
    expect(noted.status).toBe(303);
    const decided = (await curator.reviews.item(queue, item)).decided.find((d) => d.note === "คำตอบไม่ครบ");
    expect(decided?.reasons).toEqual(["other"]);
    const badDecision = await page(path, sessions.ann, { form: { decision: "maybe" } });
    expect(badDecision.status).toBe(400);

    expect((await page("/review/queues/not-a-queue", sessions.ann)).status).toBe(404);
    expect((await page("/review/queues/00000000-0000-4000-8000-000000000000", sessions.ann)).status).toBe(
      404,
    );
    expect((await page(`/review/queues/${queue}/items/99`, sessions.ann)).status).toBe(404);
    expect((await page(`/review/queues/${queue}/items/x`, sessions.ann)).status).toBe(400);

    const metrics = await (await page(`/review/queues/${queue}/metrics`, sessions.ann)).text();
    expect(metrics).toContain("Cohen&#39;s κ");
    // Ann's edit and rejection, Ben's acceptance (his stale edit was refused): 2 of 3 kept.
    expect(metrics).toContain("<td>all</td><td>2</td><td>3</td><td>2</td><td>66.7%</td>");
  });
});

describe.each(testDatabaseKinds())("review page sessions on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let admin: string;
  const HOURS = 2;
  const ORIGIN = "http://localhost";

  beforeAll(async () => {
    curator = await createTestCurator(kind, { auth: true, sessionHours: HOURS });
    admin = (await curator.access.createToken({ name: "root", role: "admin" })).token;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const reviewer = (name: string) => curator.access.createToken({ name, role: "reviewer" });
  const signIn = (token: string, base = ORIGIN, app = curator.app) =>
    app.request(`${base}/review/sign-in`, {
      method: "POST",
      headers: { origin: base, "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token, next: "/review" }).toString(),
    });
  const open = (session: string) =>
    curator.app.request("/review", { headers: { cookie: `curator_session=${session}` } });
  const signedIn = async (session: string) => {
    const res = await open(session);
    if (res.status === 200) return true;
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/review/sign-in?next=%2Freview");
    return false;
  };
  const rows = () => curator.database.db.select().from(tables.pageSessions);

  it("keeps a random session id in the cookie, never the token, and stores only its sha256", async () => {
    const ann = await reviewer("ann");
    const res = await signIn(ann.token);
    expect(res.status).toBe(303);
    const cookie = res.headers.get("set-cookie") ?? "";
    const session = sessionOf(res);
    expect(session).not.toContain(ann.token);
    expect(session).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/review/);
    expect(cookie).toContain(`Max-Age=${HOURS * 3600}`);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP, no https PUBLIC_URL

    const [row] = (await rows()).filter((r) => r.tokenId === ann.id);
    expect(row?.sessionSha256).toBe(sha256Hex(session));
    const stored = JSON.stringify(await rows());
    expect(stored).not.toContain(session);
    expect(stored).not.toContain(ann.token);
    const left = (row?.expiresAt.getTime() ?? 0) - Date.now();
    expect(left).toBeGreaterThan(HOURS * 3600_000 - 60_000);
    expect(left).toBeLessThanOrEqual(HOURS * 3600_000);

    expect(await signedIn(session)).toBe(true);
    // The token itself is not a session: as the cookie it opens nothing.
    expect(await signedIn(ann.token)).toBe(false);
    // The session opens pages, never the JSON API.
    const api = await curator.app.request("/v1/review-queues", {
      headers: { cookie: `curator_session=${session}` },
    });
    expect(api.status).toBe(401);
  });

  it("marks the cookie Secure over https, and behind a proxy when PUBLIC_URL is https", async () => {
    const ann = await reviewer("ann-tls");
    expect((await signIn(ann.token, "https://localhost")).headers.get("set-cookie")).toMatch(/; Secure/);
    const proxied = await createTestCurator(kind, { auth: true, publicUrl: "https://review.example" });
    try {
      const token = (await proxied.access.createToken({ name: "ann", role: "reviewer" })).token;
      const res = await proxied.app.request("http://localhost/review/sign-in", {
        method: "POST",
        headers: { origin: "https://review.example", "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ token, next: "/review" }).toString(),
      });
      expect(res.status).toBe(303);
      expect(res.headers.get("set-cookie")).toMatch(/; Secure/);
    } finally {
      await proxied.cleanup();
    }
  });

  it("ends the session at sign-out: the old cookie replayed is sent to sign in", async () => {
    const ben = await reviewer("ben");
    const session = sessionOf(await signIn(ben.token));
    const second = sessionOf(await signIn(ben.token)); // another browser
    expect(await signedIn(session)).toBe(true);
    const out = await curator.app.request("/review/sign-out", {
      method: "POST",
      headers: { origin: ORIGIN, cookie: `curator_session=${session}` },
    });
    expect(out.status).toBe(303);
    expect(await signedIn(session)).toBe(false);
    expect((await rows()).some((r) => r.sessionSha256 === sha256Hex(session))).toBe(false);
    // Signing out in one browser leaves the other signed in.
    expect(await signedIn(second)).toBe(true);
  });

  it("ends every session of a token revoked over HTTP or on the command line", async () => {
    const cat = await reviewer("cat");
    const sessions = [sessionOf(await signIn(cat.token)), sessionOf(await signIn(cat.token))];
    expect((await rows()).filter((r) => r.tokenId === cat.id)).toHaveLength(2);
    for (const session of sessions) expect(await signedIn(session)).toBe(true);
    const revoked = await curator.app.request(`/v1/tokens/${cat.id}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(revoked.status).toBe(200);
    for (const session of sessions) expect(await signedIn(session)).toBe(false);
    expect((await rows()).filter((r) => r.tokenId === cat.id)).toEqual([]);

    const dan = await reviewer("dan");
    const session = sessionOf(await signIn(dan.token));
    const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
    expect(
      await tokenCommand("curator", ["revoke", dan.id], curator.access, { stdout: quiet, stderr: quiet }),
    ).toBe(0);
    expect(await signedIn(session)).toBe(false);
  });

  it("sends the holder of an expired session to sign in, and clears expired sessions at the next sign-in", async () => {
    const eve = await reviewer("eve");
    const session = sessionOf(await signIn(eve.token));
    expect(await signedIn(session)).toBe(true);
    await curator.database.db
      .update(tables.pageSessions)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(tables.pageSessions.sessionSha256, sha256Hex(session)));
    expect(await signedIn(session)).toBe(false);
    const fresh = sessionOf(await signIn(eve.token));
    expect(await signedIn(fresh)).toBe(true);
    const expired = rowsOf(
      await curator.database.db.execute(
        sql`SELECT count(*)::int AS n FROM page_sessions WHERE expires_at <= now()`,
      ),
    );
    expect(expired[0]?.n).toBe(0);
  });
});
