/**
 * The reviewers' web page in a real browser: Playwright drives Chromium (CHROMIUM_PATH, default
 * /usr/bin/chromium) against the curator served over HTTP on loopback. A reviewer signs in with a token,
 * opens a queue and reviews it to the end with the keyboard alone (accepting, rejecting with a reason,
 * editing one sample and checking the diff), then opens the metrics, and signs out; the decisions, the edit
 * and the audit entries are then read from the database. The page runs under its Content-Security-Policy,
 * which Chromium enforces: the keyboard script and the styles work, and nothing is refused. Screenshots of each screen go to .test-output/screenshots/review-page.
 *
 * Without Chromium the test is skipped, except under CI, where a missing browser is a failure.
 */
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { type ServerType, serve } from "@hono/node-server";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { and, eq } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestCurator, jsonl, type TestCurator } from "./helpers";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
const SHOTS = resolve(import.meta.dirname, "../../../.test-output/screenshots/review-page");
// The database the decisions are checked in: PostgreSQL when there is one, else PGlite.
const kind = testDatabaseKinds().at(-1) ?? "pglite";

const samples = [
  {
    id: "constrained",
    source: "autoif",
    messages: [
      { role: "system", content: "ตอบเป็นภาษาไทยเท่านั้น และตอบไม่เกินสามประโยค" },
      { role: "user", content: "อธิบายหลักการของสัญญาซื้อขายตามประมวลกฎหมายแพ่งและพาณิชย์" },
      {
        role: "assistant",
        content: "สัญญาซื้อขายคือสัญญาที่ผู้ขายโอนกรรมสิทธิ์ในทรัพย์สินให้แก่ผู้ซื้อ และผู้ซื้อตกลงจะใช้ราคา",
      },
    ],
    meta: {
      autoif: {
        constraints: [
          { id: "length_constraints:number_sentences", params: { relation: "at most", num_sentences: 3 } },
        ],
        placement: "system",
        instructionLanguage: "th",
        responseLanguage: "th",
        verification: [{ id: "length_constraints:number_sentences", pass: true, detail: "1 sentence" }],
      },
    },
  },
  {
    id: "tool-call",
    source: "tool-use",
    tools: [
      {
        type: "function",
        function: {
          name: "search_statute",
          description: "ค้นหามาตราในประมวลกฎหมาย",
          parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
        },
      },
    ],
    messages: [
      { role: "user", content: "ช่วยหามาตราเรื่องการบอกเลิกสัญญาเช่าให้หน่อย" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "search_statute", arguments: '{"query":"บอกเลิกสัญญาเช่า"}' },
          },
        ],
      },
      { role: "tool", tool_call_id: "call_1", name: "search_statute", content: '{"sections":["560","566"]}' },
      { role: "assistant", content: "มาตรา 560 และมาตรา 566 ว่าด้วยการบอกเลิกสัญญาเช่า" },
    ],
  },
  {
    id: "to-edit",
    source: "forum",
    messages: [
      { role: "user", content: "ผู้เยาว์ทำนิติกรรมเองได้หรือไม่" },
      { role: "assistant", content: "ผู้เยาว์ต้องได้รับความยินยอมจากผู้แทนโดยชอบธรรมก่อน" },
    ],
  },
  {
    id: "to-reject",
    source: "forum",
    messages: [
      { role: "user", content: "สวัสดี" },
      { role: "assistant", content: "hello hello hello" },
    ],
  },
];

describe.skipIf(!haveBrowser && !process.env.CI)(
  `the review page in Chromium (${kind})`,
  { timeout: 180_000 },
  () => {
    let curator: TestCurator;
    let server: ServerType;
    let base: string;
    let browser: Browser;
    let page: Page;
    let queue: string;
    let version: string;
    let reviewer: { id: string; token: string };
    /** What Chromium refused under the pages' Content-Security-Policy. */
    const refused: string[] = [];

    beforeAll(async () => {
      if (!haveBrowser)
        throw new Error(`Chromium is not at ${CHROMIUM}: .ci/run installs it (apt package chromium)`);
      await rm(SHOTS, { recursive: true, force: true });
      await mkdir(SHOTS, { recursive: true });
      curator = await createTestCurator(kind, { auth: true });
      await curator.registry.ensureDataset({ name: "review-page", kind: "chat" });
      const input = join(curator.dir, "review-page.jsonl");
      await writeFile(input, jsonl(samples));
      version = (
        await curator.registry.buildVersion("review-page", {
          inputs: [{ path: input, split: "train", source: "mixed" }],
        })
      ).version.hash;
      queue = (
        await curator.reviews.create(version, {
          name: "ตรวจชุดแชท",
          plan: { strata: "none", size: 10, seed: 1 },
          reviewsPerItem: 1,
          leaseSeconds: 600,
        })
      ).id;
      const created = await curator.access.createToken({ name: "reviewer-1", role: "reviewer" });
      reviewer = { id: created.id, token: created.token };
      server = await new Promise<ServerType>((done) => {
        const s = serve({ fetch: curator.app.fetch, port: 0, hostname: "127.0.0.1" }, () => done(s));
      });
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      page.on("console", (message) => {
        if (/Content Security Policy/i.test(message.text())) refused.push(message.text());
      });
    });

    afterAll(async () => {
      await browser?.close();
      await new Promise((done) => (server ? server.close(done) : done(undefined)));
      await curator?.cleanup();
    });

    const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
    /** Press a key and wait for the page it leads to. */
    const pressAndWait = async (key: string) => {
      await Promise.all([page.waitForEvent("load"), page.keyboard.press(key)]);
    };

    it("signs in, reviews the queue to the end by keyboard, edits a sample, and records every decision", async () => {
      await page.goto(`${base}/review`);
      expect(new URL(page.url()).pathname).toBe("/review/sign-in");
      await shot("01-sign-in");
      await page.keyboard.type(reviewer.token); // the token field has the focus
      await pressAndWait("Enter");
      expect(new URL(page.url()).pathname).toBe("/review");
      await expect(page.locator(`tr[data-queue="${queue}"]`).textContent()).resolves.toContain("ตรวจชุดแชท");
      await expect(page.locator(`tr[data-queue="${queue}"]`).textContent()).resolves.toContain("0 / 4");
      await shot("02-queues");

      await pressAndWait("1");
      expect(new URL(page.url()).pathname).toBe(`/review/queues/${queue}`);
      await pressAndWait("n");

      const seen: string[] = [];
      for (let step = 0; step < 10 && !page.url().includes("done"); step++) {
        const sampleId = await page.locator("[data-sample-id]").getAttribute("data-sample-id");
        expect(sampleId).toBeTruthy();
        seen.push(sampleId as string);
        if (sampleId === "constrained") {
          // The system prompt, the constraint and its verdict are shown.
          await expect(page.locator(".turn.system").textContent()).resolves.toContain("ตอบเป็นภาษาไทยเท่านั้น");
          await expect(
            page.locator('[data-constraint="length_constraints:number_sentences"]').textContent(),
          ).resolves.toContain("passed");
          await shot("03-item-constraints");
          await pressAndWait("a");
        } else if (sampleId === "tool-call") {
          // Tools offered, the call with its arguments, and the tool's answer.
          const text = (await page.locator("[data-sample-id]").textContent()) ?? "";
          expect(text).toContain("search_statute");
          expect(text).toContain("ค้นหามาตราในประมวลกฎหมาย");
          expect(text).toContain('"query": "บอกเลิกสัญญาเช่า"');
          expect(text).toContain('"560"');
          await shot("04-item-tool-call");
          await pressAndWait("a");
        } else if (sampleId === "to-reject") {
          // The style sheet applies: the reject panel stays hidden until r opens it.
          expect(await page.locator("#reject-panel").isVisible()).toBe(false);
          await page.keyboard.press("r");
          expect(await page.locator("#reject-panel").isVisible()).toBe(true);
          await expect(page.locator("#reject-panel.open").count()).resolves.toBe(1);
          await page.keyboard.press("3"); // bad-thai
          await shot("05-reject-panel");
          await pressAndWait("Enter");
        } else if (sampleId === "to-edit") {
          await pressAndWait("e");
          expect(new URL(page.url()).pathname).toMatch(/\/edit$/);
          // The last field (the answer) has the focus: add to its end.
          await page.keyboard.press("Control+End");
          await page.keyboard.type(" ตามมาตรา 21");
          await pressAndWait("Control+Enter");
          await expect(page.locator('[data-diff="f.messages.1.content"] ins').textContent()).resolves.toBe(
            " ตามมาตรา 21",
          );
          await shot("06-edit-diff");
          await page.keyboard.press("Control+End");
          await page.keyboard.type(" แห่งประมวลกฎหมายแพ่งและพาณิชย์");
          await pressAndWait("Control+s");
        }
      }
      expect(page.url()).toContain("done");
      expect(seen.sort()).toEqual(["constrained", "to-edit", "to-reject", "tool-call"]);
      await expect(page.locator("[data-done]").count()).resolves.toBe(1);
      await shot("07-queue-done");

      await pressAndWait("m");
      const strata = (await page.locator('[data-table="strata"]').textContent()) ?? "";
      expect(strata).toContain("75.0%"); // 3 of 4 kept (an edit keeps the sample)
      await shot("08-metrics");
      expect(refused).toEqual([]);

      // Signing out ends the session: the page sends the browser to sign in, even with the old cookie put back.
      const [cookie] = await page.context().cookies();
      expect(cookie?.name).toBe("curator_session");
      expect(cookie?.value).not.toContain(reviewer.token);
      expect(cookie?.httpOnly).toBe(true);
      await page.locator("header form button").click();
      await page.waitForURL(/\/review\/sign-in$/);
      await page.context().addCookies([cookie as NonNullable<typeof cookie>]);
      await page.goto(`${base}/review`);
      expect(new URL(page.url()).pathname).toBe("/review/sign-in");

      // The database holds what the reviewer did: four decisions, the rejection's reason, the edit as revision 1.
      const db = curator.database.db;
      const decisions = await db
        .select()
        .from(tables.reviewDecisions)
        .where(eq(tables.reviewDecisions.queueId, queue));
      const items = await db.select().from(tables.reviewItems).where(eq(tables.reviewItems.queueId, queue));
      const sampleOf = new Map(items.map((i) => [i.item, i.sampleId]));
      const bySample = Object.fromEntries(
        decisions.map((d) => [
          sampleOf.get(d.item),
          { decision: d.decision, reasons: d.reasons, revision: d.revision },
        ]),
      );
      expect(bySample).toEqual({
        constrained: { decision: "accept", reasons: [], revision: null },
        "tool-call": { decision: "accept", reasons: [], revision: null },
        "to-reject": { decision: "reject", reasons: ["bad-thai"], revision: null },
        "to-edit": { decision: "edit", reasons: [], revision: 1 },
      });
      expect(new Set(decisions.map((d) => d.reviewer))).toEqual(new Set([reviewer.id]));
      const [revision] = await db
        .select()
        .from(tables.sampleRevisions)
        .where(
          and(
            eq(tables.sampleRevisions.versionHash, version),
            eq(tables.sampleRevisions.sampleId, "to-edit"),
          ),
        );
      expect(
        (revision?.sample as { messages: { content: string }[] } | undefined)?.messages[1]?.content,
      ).toBe("ผู้เยาว์ต้องได้รับความยินยอมจากผู้แทนโดยชอบธรรมก่อน ตามมาตรา 21 แห่งประมวลกฎหมายแพ่งและพาณิชย์");
      // The untouched turn came back byte for byte.
      expect(
        (revision?.sample as { messages: { content: string }[] } | undefined)?.messages[0]?.content,
      ).toBe("ผู้เยาว์ทำนิติกรรมเองได้หรือไม่");
      const audit = await db
        .select()
        .from(tables.auditLog)
        .where(eq(tables.auditLog.action, "review.decide"));
      expect(audit.map((a) => a.tokenId)).toEqual([reviewer.id, reviewer.id, reviewer.id, reviewer.id]);
    });
  },
);
