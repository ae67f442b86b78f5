/**
 * @module Load benchmark of review over HTTP: N reviewers (50 by default), each with its own reviewer token,
 * loop `next` → decision against a curator on PostgreSQL served on loopback, for a fixed time. Reports
 * requests/s, decisions/s and p50/p99 latency of each call, then checks the database: no item has more than k
 * decisions, no reviewer decided an item twice, no item was held by two reviewers at once (from the handouts
 * each reviewer saw: the leases of one item never overlap), and every decision the server acknowledged is there
 * (and nothing else). The version reviewed is synthetic Thai chat rows built through the registry.
 *
 *   DATABASE_URL=postgres://… npm run bench:review -- [--reviewers 50] [--seconds 60] [--items 20000] [--k 3] [--json]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { openTestDatabase } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { eq } from "drizzle-orm";
import { pino } from "pino";
import { loadConfig } from "../src/config";
import { openCurator } from "../src/runtime";
import { startServer } from "../src/server";

const { values } = parseArgs({
  options: {
    reviewers: { type: "string", default: "50" },
    seconds: { type: "string", default: "60" },
    items: { type: "string", default: "20000" },
    k: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const reviewers = Number(values.reviewers);
const seconds = Number(values.seconds);
const items = Number(values.items);
const k = Number(values.k);

if (!process.env.DATABASE_URL) {
  console.log(
    "bench:review needs PostgreSQL: set DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/postgres)",
  );
  process.exit(0);
}

/** p50 and p99 of latencies in ms, to 0.1 ms. */
function percentiles(values: number[]): { p50: number; p99: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted.length
      ? Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number).toFixed(1))
      : Number.NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

const dir = await mkdtemp(join(os.tmpdir(), "bench-review-"));
const database = await openTestDatabase("postgres");
const curator = await openCurator(
  {
    ...loadConfig({ CURATOR_DATA_DIR: dir, PORT: "0", LOG_LEVEL: "silent" }),
    pipelineWorkers: 0,
  },
  { database, logger: pino({ level: "silent" }) },
);
try {
  // The version: `items` short Thai conversations.
  const rows = Array.from({ length: items }, (_, i) =>
    JSON.stringify({
      id: `s${i}`,
      messages: [
        { role: "user", content: `คำถามข้อที่ ${i}: สิทธิของผู้เช่าตามกฎหมายมีอะไรบ้าง` },
        { role: "assistant", content: `คำตอบข้อที่ ${i}: ผู้เช่ามีสิทธิใช้ทรัพย์สินที่เช่าตามสัญญา` },
      ],
    }),
  );
  await writeFile(join(dir, "rows.jsonl"), `${rows.join("\n")}\n`);
  await curator.registry.ensureDataset({ name: "bench-review", kind: "chat" });
  const { version } = await curator.registry.buildVersion("bench-review", {
    inputs: [{ path: join(dir, "rows.jsonl"), split: "train" }],
  });
  const queue = await curator.reviews.create(version.hash, {
    name: "bench",
    plan: { strata: "none", size: items, seed: 0 },
    reviewsPerItem: k,
    leaseSeconds: 300,
  });
  const tokens = await Promise.all(
    Array.from({ length: reviewers }, async (_, i) => {
      const t = await curator.access.createToken({ name: `bench-reviewer-${i}`, role: "reviewer" });
      return { id: t.id, token: t.token };
    }),
  );
  const { server, url } = await startServer(curator);

  const latency = { next: [] as number[], decision: [] as number[] };
  const acknowledged: { item: number; reviewer: string }[] = [];
  /** From the `next` answer to sending the decision: a span inside the reviewer's lease, as the server keeps it. */
  const handouts: { item: number; reviewer: string; from: number; to: number }[] = [];
  let errors = 0;
  let exhausted = 0;
  const deadline = performance.now() + seconds * 1000;

  const reviewer = async ({ id, token }: { id: string; token: string }, n: number) => {
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const res = await fetch(`${url}/v1/review-queues/${queue.id}/next`, { method: "POST", headers });
      const t1 = performance.now();
      latency.next.push(t1 - t0);
      if (res.status === 204) {
        exhausted++;
        return;
      }
      if (res.status !== 200) {
        errors++;
        await res.arrayBuffer();
        continue;
      }
      const item = ((await res.json()) as { item: number }).item;
      const decision = n % 10 === 0 ? { decision: "reject", reasons: ["off-topic"] } : { decision: "accept" };
      const t2 = performance.now();
      const d = await fetch(`${url}/v1/review-queues/${queue.id}/items/${item}/decision`, {
        method: "POST",
        headers,
        body: JSON.stringify(decision),
      });
      const t3 = performance.now();
      latency.decision.push(t3 - t2);
      await d.arrayBuffer();
      if (d.status === 201) {
        acknowledged.push({ item, reviewer: id });
        handouts.push({ item, reviewer: id, from: t1, to: t2 });
      } else errors++;
    }
  };
  const started = performance.now();
  await Promise.all(tokens.map((t, i) => reviewer(t, i)));
  const elapsed = (performance.now() - started) / 1000;
  await new Promise<void>((resolve) => server.close(() => resolve()));

  // Checks against the database.
  const decided = await curator.database.db
    .select({ item: tables.reviewDecisions.item, reviewer: tables.reviewDecisions.reviewer })
    .from(tables.reviewDecisions)
    .where(eq(tables.reviewDecisions.queueId, queue.id));
  const perItem = new Map<number, string[]>();
  for (const d of decided) perItem.set(d.item, [...(perItem.get(d.item) ?? []), d.reviewer]);
  const overK = [...perItem.values()].filter((r) => r.length > k).length;
  const twice = [...perItem.values()].filter((r) => new Set(r).size !== r.length).length;
  const key = (d: { item: number; reviewer: string }) => `${d.item}/${d.reviewer}`;
  const inDb = new Set(decided.map(key));
  const lost = acknowledged.filter((a) => !inDb.has(key(a))).length;
  const unacknowledged = decided.length - acknowledged.length;
  // Each handout's span (next answered → decision sent) lies inside its lease on the server, which starts before
  // `next` answers and ends when the decision is stored, after it was sent. Two spans of one item that overlap
  // therefore mean two leases at once.
  let overlapping = 0;
  const byItem = new Map<number, typeof handouts>();
  for (const h of handouts) byItem.set(h.item, [...(byItem.get(h.item) ?? []), h]);
  for (const hs of byItem.values()) {
    hs.sort((a, b) => a.from - b.from);
    for (let i = 1; i < hs.length; i++)
      if ((hs[i] as (typeof hs)[number]).from < (hs[i - 1] as (typeof hs)[number]).to) overlapping++;
  }
  const requests = latency.next.length + latency.decision.length;
  const result = {
    reviewers,
    seconds: Number(elapsed.toFixed(1)),
    items,
    k,
    requests,
    requestsPerSecond: Math.round(requests / elapsed),
    decisionsPerSecond: Math.round(acknowledged.length / elapsed),
    nextMs: percentiles(latency.next),
    decisionMs: percentiles(latency.decision),
    allMs: percentiles([...latency.next, ...latency.decision]),
    checks: {
      overK,
      decidedTwice: twice,
      lost,
      unacknowledged,
      overlappingLeases: overlapping,
      errors,
      exhausted,
    },
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(
      `review load: ${reviewers} reviewers, ${result.seconds} s, k=${k}, ${items} items, PostgreSQL, ${os.cpus().length} cores`,
    );
    console.log(`  ${result.requestsPerSecond} requests/s, ${result.decisionsPerSecond} decisions/s`);
    console.log(`  next     p50 ${result.nextMs.p50} ms, p99 ${result.nextMs.p99} ms`);
    console.log(`  decision p50 ${result.decisionMs.p50} ms, p99 ${result.decisionMs.p99} ms`);
    console.log(`  all      p50 ${result.allMs.p50} ms, p99 ${result.allMs.p99} ms`);
    console.log(`  checks   ${JSON.stringify(result.checks)}`);
  }
  const ok =
    overK === 0 && twice === 0 && lost === 0 && unacknowledged === 0 && overlapping === 0 && errors === 0;
  if (!ok) process.exitCode = 1;
} finally {
  await curator.close();
  await rm(dir, { recursive: true, force: true });
}
