/**
 * @module Review queues. A queue takes a reproducible sample of a version: uniformly, or `size` items per
 * source or per constraint type, or among the records its pipeline dropped `size` per filter reason or per
 * duplicate cluster (to check what the filters took out). `next` hands a reviewer one item nobody else holds,
 * under a lease that expires, never one they decided before and never one that has its `k` decisions; it is one
 * statement that renews the reviewer's item or claims a row picked with `FOR UPDATE SKIP LOCKED`, so concurrent
 * reviewers never get the same item. A decision is taken only from the lease holder, once per reviewer and
 * item. Metrics: progress, acceptance by stratum, agreement between
 * reviewers (Cohen's kappa for two decisions per item, Fleiss' kappa for more), and per filter reason the
 * share of reviewed drops the reviewers agreed with (the filter's precision).
 */
import { type Database, rowsOf } from "@sovereign/db";
import { describeValidation, notFound, ServiceError } from "@sovereign/http";
import { type Sample, sampleSchemas, tables } from "@sovereign/schemas";
import { sha256Hex } from "@sovereign/shards";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Registry } from "./registry";

const { reviewQueues, reviewItems, reviewDecisions, samples, rejectedRecords, sampleRevisions } = tables;

export type ReviewPlan = tables.ReviewPlan;
export type Decision = "accept" | "reject" | "edit";

export type QueueInfo = {
  id: string;
  version: string;
  name: string;
  plan: ReviewPlan;
  reviewsPerItem: number;
  leaseSeconds: number;
  items: number;
  createdAt: string;
  progress: { decided: number; complete: number; decisions: number };
};

export type ReviewItem = {
  queue: string;
  item: number;
  kind: "sample" | "rejected";
  stratum: string;
  leaseExpiresAt: string;
  decisions: number;
  /** The sample as it stands: its latest revision (0: as the version holds it), to send back as If-Match. */
  sample?: {
    sampleId: string;
    split: string;
    source: string;
    revision: number;
    sample: Sample;
    original?: Sample;
  };
  rejected?: {
    position: number;
    step: string;
    reason: string;
    action: string;
    location: string;
    source: string;
    message: string;
    detail: unknown;
    record: unknown;
  };
};

export type QueueMetrics = {
  items: number;
  decisions: number;
  complete: number;
  progress: number;
  byStratum: {
    stratum: string;
    items: number;
    decisions: number;
    accepted: number;
    acceptance: number | null;
  }[];
  agreement: { method: "cohen" | "fleiss"; kappa: number | null; items: number } | null;
  filterPrecision: { reason: string; reviewed: number; agreed: number; precision: number | null }[];
};

type Candidate = { kind: "sample" | "rejected"; key: string; stratum: string; position?: number };

/** The constraint ids of a generated sample (`meta.autoif.constraints[].id`), each once, sorted. */
export function constraintTypes(meta: Record<string, unknown>): string[] {
  const constraints = (meta.autoif as { constraints?: unknown } | undefined)?.constraints;
  if (!Array.isArray(constraints)) return [];
  const ids = constraints
    .map((c) => (c as { id?: unknown } | null)?.id)
    .filter((id): id is string => typeof id === "string");
  return [...new Set(ids)].sort();
}

/**
 * The duplicate cluster a deduplication drop belongs to, named by the sample kept for it (exact and near
 * duplicates within the run), or by the sample of an earlier version it repeats; undefined for other drops.
 */
export function clusterOf(detail: unknown): string | undefined {
  const d = (detail ?? {}) as { kept?: unknown; cluster?: unknown; sampleId?: unknown; version?: unknown };
  if (typeof d.kept === "string") return d.kept;
  if (typeof d.cluster === "string") return d.cluster;
  if (typeof d.sampleId === "string" && typeof d.version === "string")
    return `${d.version.slice(0, 12)}:${d.sampleId}`;
  return undefined;
}

const rank = (seed: number, key: string) => sha256Hex(`${seed}:${key}`);

type QueueRow = typeof reviewQueues.$inferSelect;

/**
 * Why a reviewer may not decide an item now (409), or undefined when they may: the lease is theirs and live.
 * `live` is the database's verdict on the lease when a statement already made it.
 */
function leaseConflict(
  queue: QueueRow,
  item: number,
  reviewer: string,
  held: { leaseHolder: string | null; leaseExpires: Date | null; decisions: number; live?: boolean },
): ServiceError | undefined {
  if (held.leaseHolder !== reviewer)
    return new ServiceError(
      "CONFLICT",
      `item ${item} of review queue ${queue.id} is not leased to you: take it with next first`,
    );
  if (!(held.live ?? (held.leaseExpires !== null && held.leaseExpires.getTime() >= Date.now())))
    return new ServiceError(
      "CONFLICT",
      `your lease on item ${item} of review queue ${queue.id} expired at ${held.leaseExpires?.toISOString()}: take it again with next`,
    );
  if (held.decisions >= queue.reviewsPerItem)
    return new ServiceError("CONFLICT", `item ${item} already has its ${queue.reviewsPerItem} decision(s)`);
  return undefined;
}

export class ReviewQueues {
  private readonly queueRows = new Map<string, QueueRow>();

  constructor(
    private readonly db: Database,
    private readonly registry: Registry,
  ) {}

  async create(
    hash: string,
    input: { name: string; plan: ReviewPlan; reviewsPerItem: number; leaseSeconds: number },
    createdBy?: string,
  ): Promise<QueueInfo> {
    await this.registry.getVersion(hash); // 404 for an unknown version
    const { plan } = input;
    // Candidates with their stratum, in a seeded order that does not depend on storage order.
    const candidates = await this.candidates(hash, plan.strata);
    const strata = new Map<string, typeof candidates>();
    for (const c of candidates) {
      const list = strata.get(c.stratum) ?? [];
      list.push(c);
      strata.set(c.stratum, list);
    }
    // A sample with several constraint types stands in each of their strata; it is reviewed once, in the
    // first (sorted) stratum that picks it.
    const taken = new Set<string>();
    const chosen = [...strata.keys()].sort().flatMap((stratum) =>
      (strata.get(stratum) ?? [])
        .filter((c) => !taken.has(c.key))
        .map((c) => ({ c, r: rank(plan.seed, c.key) }))
        .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
        .slice(0, plan.size)
        .map(({ c }) => {
          taken.add(c.key);
          return c;
        }),
    );
    if (!chosen.length)
      throw new ServiceError(
        "INPUT_REJECTED",
        plan.strata === "filter-reason"
          ? `version ${hash} has no dropped records to review`
          : plan.strata === "cluster"
            ? `version ${hash} has no records that deduplication dropped`
            : `version ${hash} has no samples to review`,
      );
    const id = await this.db.transaction(async (tx) => {
      const [queue] = await tx
        .insert(reviewQueues)
        .values({
          versionHash: hash,
          name: input.name,
          plan,
          reviewsPerItem: input.reviewsPerItem,
          leaseSeconds: input.leaseSeconds,
          items: chosen.length,
          createdBy: createdBy ?? null,
        })
        .returning({ id: reviewQueues.id });
      const queueId = (queue as { id: string }).id;
      for (let i = 0; i < chosen.length; i += 1000) {
        await tx.insert(reviewItems).values(
          chosen.slice(i, i + 1000).map((c, j) => ({
            queueId,
            item: i + j + 1,
            kind: c.kind,
            sampleId: c.kind === "sample" ? c.key : null,
            rejectedPosition: c.position ?? null,
            stratum: c.stratum,
          })),
        );
      }
      return queueId;
    });
    // Fresh statistics for the planner: a queue is often worked on at once, before autovacuum would have
    // analyzed its rows, and without them the claim's plan can scan the whole queue on every call.
    await this.db.execute(sql`ANALYZE review_items`);
    return this.get(id);
  }

  /** What a plan draws from, each with its stratum (a sample may stand in several). */
  private async candidates(hash: string, strata: tables.ReviewStrata): Promise<Candidate[]> {
    if (strata === "filter-reason" || strata === "cluster") {
      const rows = await this.db
        .select({
          position: rejectedRecords.position,
          reason: rejectedRecords.reason,
          step: rejectedRecords.step,
          detail: rejectedRecords.detail,
        })
        .from(rejectedRecords)
        .where(and(eq(rejectedRecords.versionHash, hash), eq(rejectedRecords.action, "dropped")));
      return rows.flatMap((r): Candidate[] => {
        const cluster = clusterOf(r.detail);
        if (strata === "cluster" && cluster === undefined) return [];
        return [
          {
            kind: "rejected",
            key: String(r.position),
            stratum: strata === "cluster" ? `${r.step}/${cluster}` : `${r.step}/${r.reason}`,
            position: r.position,
          },
        ];
      });
    }
    if (strata === "constraint-type") {
      const out: Candidate[] = [];
      for await (const { sample } of this.registry.versionSamples(hash)) {
        const types = constraintTypes(sample.meta);
        for (const type of types.length ? types : ["unconstrained"])
          out.push({ kind: "sample", key: sample.id, stratum: type });
      }
      return out;
    }
    const rows = await this.db
      .select({ sampleId: samples.sampleId, source: samples.source })
      .from(samples)
      .where(eq(samples.versionHash, hash));
    return rows.map((r) => ({
      kind: "sample",
      key: r.sampleId,
      stratum: strata === "source" ? r.source : "all",
    }));
  }

  async list(): Promise<QueueInfo[]> {
    const rows = await this.db.select().from(reviewQueues).orderBy(desc(reviewQueues.createdAt));
    return Promise.all(rows.map((r) => this.info(r)));
  }

  async get(id: string): Promise<QueueInfo> {
    return this.info(await this.row(id));
  }

  /** A queue's row; queues never change once created, so rows are kept (a bounded number). */
  private async row(id: string) {
    const cached = this.queueRows.get(id);
    if (cached) return cached;
    const [row] = await this.db.select().from(reviewQueues).where(eq(reviewQueues.id, id));
    if (!row) throw notFound(`review queue ${id}`);
    if (this.queueRows.size >= 1_000) this.queueRows.delete(this.queueRows.keys().next().value as string);
    this.queueRows.set(id, row);
    return row;
  }

  private async info(r: QueueRow): Promise<QueueInfo> {
    const [p] = await this.db
      .select({
        decided: sql<number>`count(*) filter (where ${reviewItems.decisions} > 0)::int`,
        complete: sql<number>`count(*) filter (where ${reviewItems.decisions} >= ${r.reviewsPerItem})::int`,
        decisions: sql<number>`coalesce(sum(${reviewItems.decisions}), 0)::int`,
      })
      .from(reviewItems)
      .where(eq(reviewItems.queueId, r.id));
    return {
      id: r.id,
      version: r.versionHash,
      name: r.name,
      plan: r.plan,
      reviewsPerItem: r.reviewsPerItem,
      leaseSeconds: r.leaseSeconds,
      items: r.items,
      createdAt: r.createdAt.toISOString(),
      progress: { decided: p?.decided ?? 0, complete: p?.complete ?? 0, decisions: p?.decisions ?? 0 },
    };
  }

  /**
   * The next item for `reviewer`, leased to them; undefined when nothing is left for them. One statement: the
   * item the reviewer already holds, renewed; else the first free one in (decisions, item) order, which the
   * (queue, decisions, item) index walks without sorting the queue; with the sample's place in its shard and
   * its latest revision, so a sample is then read from the shard caches without another query.
   */
  async next(queueId: string, reviewer: string): Promise<ReviewItem | undefined> {
    const queue = await this.row(queueId);
    const lease = sql`lease_holder = ${reviewer}, lease_expires = now() + make_interval(secs => ${queue.leaseSeconds})`;
    const columns = sql`item, kind, sample_id, rejected_position, stratum, lease_expires, decisions`;
    const row = rowsOf(
      await this.db.execute(sql`
        WITH held AS (
          UPDATE review_items SET ${lease}
          WHERE queue_id = ${queueId} AND item = (
            SELECT item FROM review_items
            WHERE queue_id = ${queueId} AND lease_holder = ${reviewer} AND lease_expires > now()
              AND decisions < ${queue.reviewsPerItem}
            LIMIT 1 FOR UPDATE SKIP LOCKED)
          RETURNING ${columns}
        ), claimed AS (
          UPDATE review_items SET ${lease}
          WHERE queue_id = ${queueId} AND NOT EXISTS (SELECT 1 FROM held) AND item = (
            SELECT i.item FROM review_items i
            WHERE i.queue_id = ${queueId}
              AND i.decisions < ${queue.reviewsPerItem}
              AND (i.lease_expires IS NULL OR i.lease_expires < now())
              AND NOT EXISTS (
                SELECT 1 FROM review_decisions d
                WHERE d.queue_id = i.queue_id AND d.item = i.item AND d.reviewer = ${reviewer})
            ORDER BY i.decisions, i.item
            LIMIT 1
            FOR UPDATE SKIP LOCKED)
          RETURNING ${columns}
        ), got AS (SELECT * FROM held UNION ALL SELECT * FROM claimed)
        SELECT got.*, s.split, s.source, s.shard_ordinal, s."row" AS shard_row,
          (SELECT row_to_json(r) FROM (
             SELECT revision, sample FROM sample_revisions
             WHERE version_hash = ${queue.versionHash} AND sample_id = got.sample_id
             ORDER BY revision DESC LIMIT 1) r) AS latest
        FROM got LEFT JOIN samples s ON s.version_hash = ${queue.versionHash} AND s.sample_id = got.sample_id`),
    )[0];
    if (!row) return undefined;
    const latest = (typeof row.latest === "string" ? JSON.parse(row.latest) : row.latest) as {
      revision: number;
      sample: Sample;
    } | null;
    return this.describe(
      queue,
      {
        item: Number(row.item),
        kind: String(row.kind),
        sampleId: row.sample_id as string | null,
        rejectedPosition: row.rejected_position === null ? null : Number(row.rejected_position),
        stratum: String(row.stratum),
        leaseExpires: new Date(row.lease_expires as string | Date),
        decisions: Number(row.decisions),
      },
      row.shard_ordinal === null || row.shard_ordinal === undefined
        ? undefined
        : {
            split: String(row.split),
            source: String(row.source),
            at: { shardOrdinal: Number(row.shard_ordinal), row: Number(row.shard_row) },
            latest,
          },
    );
  }

  /**
   * One item as `next` hands it out, with who holds it and the decisions made on it, without taking a lease
   * (the reviewers' page shows an item by its number).
   */
  async item(
    queueId: string,
    item: number,
  ): Promise<
    ReviewItem & {
      leaseHolder: string | null;
      reviewsPerItem: number;
      decided: {
        reviewer: string;
        decision: Decision;
        reasons: string[];
        note: string;
        revision: number | null;
      }[];
    }
  > {
    const queue = await this.row(queueId);
    const [row] = await this.db
      .select()
      .from(reviewItems)
      .where(and(eq(reviewItems.queueId, queueId), eq(reviewItems.item, item)));
    if (!row) throw notFound(`item ${item} of review queue ${queueId}`);
    const decided = await this.db
      .select({
        reviewer: reviewDecisions.reviewer,
        decision: reviewDecisions.decision,
        reasons: reviewDecisions.reasons,
        note: reviewDecisions.note,
        revision: reviewDecisions.revision,
      })
      .from(reviewDecisions)
      .where(and(eq(reviewDecisions.queueId, queueId), eq(reviewDecisions.item, item)))
      .orderBy(asc(reviewDecisions.id));
    const described = await this.describe(queue, row);
    const held = row.leaseExpires && row.leaseExpires.getTime() > Date.now() ? row.leaseHolder : null;
    return { ...described, leaseHolder: held, reviewsPerItem: queue.reviewsPerItem, decided };
  }

  /**
   * An item with its content: the sample at its latest revision, or the dropped record. `located` is what
   * `next` already read of a sample (its place in the shards and latest revision), so no query is repeated.
   */
  private async describe(
    queue: QueueRow,
    row: {
      item: number;
      kind: string;
      sampleId: string | null;
      rejectedPosition: number | null;
      stratum: string;
      leaseExpires: Date | null;
      decisions: number;
    },
    located?: {
      split: string;
      source: string;
      at: { shardOrdinal: number; row: number };
      latest: { revision: number; sample: unknown } | null;
    },
  ): Promise<ReviewItem> {
    const item: ReviewItem = {
      queue: queue.id,
      item: row.item,
      kind: row.kind as "sample" | "rejected",
      stratum: row.stratum,
      leaseExpiresAt: row.leaseExpires ? row.leaseExpires.toISOString() : "",
      decisions: row.decisions,
    };
    if (item.kind === "sample") {
      const sampleId = String(row.sampleId);
      let s: { split: string; source: string; sample: Sample };
      let latest: { revision: number; sample: unknown } | null | undefined;
      if (located) {
        s = { ...located, sample: await this.registry.sampleAt(queue.versionHash, located.at) };
        latest = located.latest;
      } else {
        s = await this.registry.getSample(queue.versionHash, sampleId);
        latest = await this.latestRevision(queue.versionHash, sampleId);
      }
      item.sample = {
        sampleId,
        split: s.split,
        source: s.source,
        revision: latest?.revision ?? 0,
        sample: (latest?.sample as Sample | undefined) ?? s.sample,
        ...(latest ? { original: s.sample } : {}),
      };
    } else {
      const [r] = await this.db
        .select()
        .from(rejectedRecords)
        .where(
          and(
            eq(rejectedRecords.versionHash, queue.versionHash),
            eq(rejectedRecords.position, Number(row.rejectedPosition)),
          ),
        );
      if (r) {
        const { versionHash: _, ...rest } = r;
        item.rejected = rest;
      }
    }
    return item;
  }

  /** The latest reviewer revision of a sample, if any. */
  async latestRevision(hash: string, sampleId: string) {
    const [latest] = await this.db
      .select()
      .from(sampleRevisions)
      .where(and(eq(sampleRevisions.versionHash, hash), eq(sampleRevisions.sampleId, sampleId)))
      .orderBy(desc(sampleRevisions.revision))
      .limit(1);
    return latest;
  }

  /**
   * A decision on an item the reviewer holds; refused (409) when the lease is not theirs or has expired. An
   * `edit` carries the whole edited sample and the revision it was made from (`ifMatch`): it becomes the
   * next revision, or is refused (409) when someone else's edit came first.
   */
  async decide(
    queueId: string,
    item: number,
    reviewer: string,
    input: { decision: Decision; reasons: string[]; note: string; sample?: unknown; ifMatch?: number },
  ) {
    const queue = await this.row(queueId);
    if (input.decision !== "edit") return this.acceptOrReject(queue, item, reviewer, input);
    // Read before the transaction: on PGlite's one connection a query outside it would wait for it to end.
    const { kind } = await this.registry.getVersion(queue.versionHash);
    return this.db.transaction(async (tx) => {
      const [held] = await tx
        .select()
        .from(reviewItems)
        .where(and(eq(reviewItems.queueId, queueId), eq(reviewItems.item, item)))
        .for("update");
      if (!held) throw notFound(`item ${item} of review queue ${queueId}`);
      const conflict = leaseConflict(queue, item, reviewer, held);
      if (conflict) throw conflict;
      if (held.kind !== "sample" || !held.sampleId)
        throw new ServiceError(
          "BAD_REQUEST",
          "body.decision: only samples can be edited, not dropped records",
        );
      if (input.ifMatch === undefined)
        throw new ServiceError(
          "BAD_REQUEST",
          "header.if-match: an edit names the revision it was made from (the item's sample.revision)",
        );
      const parsed = sampleSchemas[kind].safeParse(input.sample);
      if (!parsed.success)
        throw new ServiceError(
          "BAD_REQUEST",
          describeValidation("json", parsed.error).replaceAll("body.", "body.sample."),
        );
      if (parsed.data.id !== held.sampleId)
        throw new ServiceError(
          "BAD_REQUEST",
          `body.sample.id: an edit keeps the sample's id ${held.sampleId}`,
        );
      const [latest] = await tx
        .select({ revision: sampleRevisions.revision })
        .from(sampleRevisions)
        .where(
          and(
            eq(sampleRevisions.versionHash, queue.versionHash),
            eq(sampleRevisions.sampleId, held.sampleId),
          ),
        )
        .orderBy(desc(sampleRevisions.revision))
        .limit(1);
      const current = latest?.revision ?? 0;
      const stale = (at: number) =>
        new ServiceError(
          "CONFLICT",
          `sample ${held.sampleId} is at revision ${at}, not ${input.ifMatch}: load it again and redo the edit`,
        );
      if (input.ifMatch !== current) throw stale(current);
      const revision = current + 1;
      // Two queues over one version may hold the same sample: an edit from the other one that took this
      // revision first (its transaction commits while this insert waits) makes this one stale.
      const [taken] = await tx
        .insert(sampleRevisions)
        .values({
          versionHash: queue.versionHash,
          sampleId: held.sampleId,
          revision,
          sample: parsed.data,
          queueId,
          item,
          reviewer,
        })
        .onConflictDoNothing()
        .returning({ revision: sampleRevisions.revision });
      if (!taken) throw stale(revision);
      const [decision] = await tx
        .insert(reviewDecisions)
        .values({
          queueId,
          item,
          reviewer,
          decision: input.decision,
          revision,
          reasons: input.reasons,
          note: input.note,
        })
        .onConflictDoNothing()
        .returning();
      if (!decision) throw new ServiceError("CONFLICT", `you already decided item ${item} of this queue`);
      await tx
        .update(reviewItems)
        .set({ decisions: sql`${reviewItems.decisions} + 1`, leaseHolder: null, leaseExpires: null })
        .where(and(eq(reviewItems.queueId, queueId), eq(reviewItems.item, item)));
      return {
        queue: queueId,
        item,
        reviewer,
        decision: decision.decision,
        revision: decision.revision,
        reasons: decision.reasons,
        note: decision.note,
        createdAt: decision.createdAt.toISOString(),
      };
    });
  }

  /**
   * An accept or reject in one statement: lock the item, add the decision if the lease is the reviewer's and
   * live and the item lacks decisions, and release the lease with the count raised only if it was added. When
   * nothing was added, the locked row says why.
   */
  private async acceptOrReject(
    queue: QueueRow,
    item: number,
    reviewer: string,
    input: { decision: Decision; reasons: string[]; note: string },
  ) {
    const row = rowsOf(
      await this.db.execute(sql`
        WITH held AS (
          SELECT lease_holder, lease_expires, lease_expires > now() AS live, decisions
          FROM review_items WHERE queue_id = ${queue.id} AND item = ${item}
          FOR UPDATE
        ), decided AS (
          INSERT INTO review_decisions (queue_id, item, reviewer, decision, reasons, note)
          SELECT ${queue.id}, ${item}, ${reviewer}, ${input.decision},
            ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(input.reasons)}::jsonb)), ${input.note}
          FROM held
          WHERE held.lease_holder = ${reviewer} AND held.live AND held.decisions < ${queue.reviewsPerItem}
          ON CONFLICT DO NOTHING
          RETURNING decision, created_at
        ), released AS (
          UPDATE review_items SET decisions = decisions + 1, lease_holder = NULL, lease_expires = NULL
          WHERE queue_id = ${queue.id} AND item = ${item} AND EXISTS (SELECT 1 FROM decided)
          RETURNING item
        )
        SELECT held.lease_holder, held.lease_expires, held.live, held.decisions,
          decided.decision, decided.created_at
        FROM held LEFT JOIN decided ON true`),
    )[0];
    if (!row) throw notFound(`item ${item} of review queue ${queue.id}`);
    if (row.decision === null || row.decision === undefined) {
      const conflict = leaseConflict(queue, item, reviewer, {
        leaseHolder: row.lease_holder as string | null,
        leaseExpires: row.lease_expires ? new Date(row.lease_expires as string | Date) : null,
        decisions: Number(row.decisions),
        live: Boolean(row.live),
      });
      throw conflict ?? new ServiceError("CONFLICT", `you already decided item ${item} of this queue`);
    }
    return {
      queue: queue.id,
      item,
      reviewer,
      decision: row.decision as Decision,
      revision: null,
      reasons: input.reasons,
      note: input.note,
      createdAt: new Date(row.created_at as string | Date).toISOString(),
    };
  }

  async metrics(queueId: string): Promise<QueueMetrics> {
    const queue = await this.row(queueId);
    const items = await this.db
      .select({ item: reviewItems.item, stratum: reviewItems.stratum, kind: reviewItems.kind })
      .from(reviewItems)
      .where(eq(reviewItems.queueId, queueId));
    const decisions = await this.db
      .select({ item: reviewDecisions.item, decision: reviewDecisions.decision })
      .from(reviewDecisions)
      .where(eq(reviewDecisions.queueId, queueId))
      .orderBy(asc(reviewDecisions.id));
    const byItem = new Map<number, Decision[]>();
    for (const d of decisions) {
      const list = byItem.get(d.item);
      if (list) list.push(d.decision);
      else byItem.set(d.item, [d.decision]);
    }

    const strata = new Map<string, { items: number; decisions: number; accepted: number }>();
    const reasons = new Map<string, { reviewed: number; agreed: number }>();
    for (const i of items) {
      const ds = byItem.get(i.item) ?? [];
      const s = strata.get(i.stratum) ?? { items: 0, decisions: 0, accepted: 0 };
      s.items++;
      s.decisions += ds.length;
      s.accepted += ds.filter((d) => d !== "reject").length; // an edit keeps the sample, changed
      strata.set(i.stratum, s);
      if (i.kind === "rejected" && ds.length) {
        const r = reasons.get(i.stratum) ?? { reviewed: 0, agreed: 0 };
        r.reviewed += ds.length;
        r.agreed += ds.filter((d) => d === "reject").length; // the reviewer would drop it too
        reasons.set(i.stratum, r);
      }
    }
    const complete = items.filter((i) => (byItem.get(i.item)?.length ?? 0) >= queue.reviewsPerItem).length;
    return {
      items: items.length,
      decisions: decisions.length,
      complete,
      progress: items.length ? complete / items.length : 0,
      byStratum: [...strata.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([stratum, s]) => ({
          stratum,
          ...s,
          acceptance: s.decisions ? s.accepted / s.decisions : null,
        })),
      agreement: queue.reviewsPerItem >= 2 ? agreement([...byItem.values()], queue.reviewsPerItem) : null,
      filterPrecision: [...reasons.entries()]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([reason, r]) => ({ reason, ...r, precision: r.reviewed ? r.agreed / r.reviewed : null })),
    };
  }
}

/**
 * Agreement over items with `k` decisions: Cohen's kappa between the first and second decision for k = 2,
 * Fleiss' kappa for k > 2. Null when no item has its k decisions, or when chance agreement is total.
 */
export function agreement(
  decisions: Decision[][],
  k: number,
): { method: "cohen" | "fleiss"; kappa: number | null; items: number } {
  // Two categories: kept (accepted or edited) and rejected.
  const full = decisions
    .filter((d) => d.length >= k)
    .map((d) => d.slice(0, k).map((x): Decision => (x === "edit" ? "accept" : x)));
  const method = k === 2 ? "cohen" : "fleiss";
  if (!full.length) return { method, kappa: null, items: 0 };
  const n = full.length;
  if (k === 2) {
    const agree = full.filter(([a, b]) => a === b).length / n;
    const pa = full.filter(([a]) => a === "accept").length / n;
    const pb = full.filter(([, b]) => b === "accept").length / n;
    const chance = pa * pb + (1 - pa) * (1 - pb);
    return { method, kappa: chance === 1 ? null : (agree - chance) / (1 - chance), items: n };
  }
  let meanAgreement = 0;
  let accepted = 0;
  for (const d of full) {
    const a = d.filter((x) => x === "accept").length;
    const r = k - a;
    meanAgreement += (a * (a - 1) + r * (r - 1)) / (k * (k - 1));
    accepted += a;
  }
  meanAgreement /= n;
  const p = accepted / (n * k);
  const chance = p * p + (1 - p) * (1 - p);
  return { method, kappa: chance === 1 ? null : (meanAgreement - chance) / (1 - chance), items: n };
}
