/**
 * @module Publishing a reviewed version. A finished review queue (every item with its k decisions, unless that
 * is configured away) whose samples were kept at least `minAcceptance` of the time publishes a new version of
 * the queue's version: the samples the review rejected removed, the edited ones in their latest revision, every
 * other sample as it was. What review changed is kept in the new version's rejected records (step `review`:
 * `review-rejected` dropped, `review-edited` modified with the original), so its diff against the parent is the
 * decisions. The new version's lineage names its parent and the queue; it is recorded and marked published in one
 * transaction, and publishing the same queue again gives the same hash and no new rows.
 *
 * A sample is removed when at least half of its decisions reject it (a tie removes it). Decisions on dropped
 * records measure the filters and change nothing here.
 */
import { join } from "node:path";
import { ServiceError } from "@sovereign/http";
import { type Sample, tables } from "@sovereign/schemas";
import { DatasetBuilder, readShardRows, type ShardLimits } from "@sovereign/shards";
import { and, asc, eq } from "drizzle-orm";
import type { Registry, VersionInfo } from "./registry";
import type { ReviewQueues } from "./review";

const { reviewItems, reviewDecisions, sampleRevisions, publications, datasetVersions } = tables;

export type PublishSettings = {
  /** Refuse a queue with items short of their decisions. */
  requireFinished: boolean;
  /** Least share of decisions on samples that kept them (accepted or edited). */
  minAcceptance: number;
  scratchDir: string;
  shardLimits: ShardLimits;
};

export type Publication = {
  version: VersionInfo;
  parent: string;
  queue: string;
  summary: { removed: number; edited: number; acceptance: number };
  /** False when this queue had been published before: the same version was returned. */
  created: boolean;
};

export async function publishQueue(
  deps: { registry: Registry; reviews: ReviewQueues },
  queueId: string,
  settings: PublishSettings,
  publishedBy?: string,
): Promise<Publication> {
  const { registry, reviews } = deps;
  const { db } = registry;
  const queue = await reviews.get(queueId);
  const parent = await registry.getVersionDetail(queue.version);
  if (parent.status === "draft")
    throw new ServiceError(
      "CONFLICT",
      `version ${parent.hash} is a draft: commit it before publishing what its review decided`,
    );
  if (settings.requireFinished && queue.progress.complete < queue.items)
    throw new ServiceError(
      "CONFLICT",
      `review queue ${queueId} is not finished: ${queue.progress.complete} of ${queue.items} items have their ${queue.reviewsPerItem} decision(s)`,
    );

  // Each reviewed sample's decisions, and its latest revision from this queue.
  const decided = await db
    .select({
      sampleId: reviewItems.sampleId,
      decision: reviewDecisions.decision,
      reasons: reviewDecisions.reasons,
    })
    .from(reviewDecisions)
    .innerJoin(
      reviewItems,
      and(eq(reviewItems.queueId, reviewDecisions.queueId), eq(reviewItems.item, reviewDecisions.item)),
    )
    .where(and(eq(reviewDecisions.queueId, queueId), eq(reviewItems.kind, "sample")))
    .orderBy(asc(reviewDecisions.id));
  const bySample = new Map<string, { decisions: string[]; reasons: string[] }>();
  for (const d of decided) {
    const entry = bySample.get(d.sampleId ?? "") ?? { decisions: [], reasons: [] };
    entry.decisions.push(d.decision);
    entry.reasons.push(...d.reasons);
    bySample.set(d.sampleId ?? "", entry);
  }
  const kept = decided.filter((d) => d.decision !== "reject").length;
  const acceptance = decided.length ? kept / decided.length : 1;
  if (acceptance < settings.minAcceptance)
    throw new ServiceError(
      "CONFLICT",
      `review queue ${queueId} kept ${(acceptance * 100).toFixed(1)}% of its reviewed samples, under the ${(settings.minAcceptance * 100).toFixed(1)}% needed to publish`,
    );
  const removed = new Map<string, string[]>();
  for (const [id, e] of bySample) {
    const rejects = e.decisions.filter((d) => d === "reject").length;
    if (rejects * 2 >= e.decisions.length) removed.set(id, [...new Set(e.reasons)].sort());
  }
  const revisions = await db
    .select()
    .from(sampleRevisions)
    .where(and(eq(sampleRevisions.versionHash, parent.hash), eq(sampleRevisions.queueId, queueId)))
    .orderBy(asc(sampleRevisions.sampleId), asc(sampleRevisions.revision));
  const edited = new Map<string, { sample: Sample; revision: number }>();
  for (const r of revisions)
    if (!removed.has(r.sampleId))
      edited.set(r.sampleId, { sample: r.sample as Sample, revision: r.revision });

  const dataset = await registry.datasetRow(parent.dataset);
  const builder = new DatasetBuilder({
    dataset: dataset.name,
    kind: dataset.kind,
    store: registry.store,
    scratchDir: join(settings.scratchDir, "publish", queueId),
    // The configuration names the queue and what it decided, so the same decisions give the same hash.
    pipeline: {
      name: "review",
      config: {
        queue: queueId,
        removed: [...removed.keys()].sort(),
        edited: [...edited.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, e]) => [id, e.revision]),
      },
    },
    recordConfig: true,
    parents: [parent.hash],
    description: dataset.description,
    limits: settings.shardLimits,
    workers: 0,
  });
  try {
    for (const shard of parent.manifest.shards) {
      const rows = readShardRows(dataset.kind, await registry.shardBytes(parent.hash, shard));
      for (const [i, sample] of rows.entries()) {
        const location = `${shard.path}#${i}`;
        const reasons = removed.get(sample.id);
        const change = edited.get(sample.id);
        if (reasons) {
          await builder.reject({
            step: "review",
            reason: "review-rejected",
            action: "dropped",
            location,
            message: `rejected in review queue ${queueId}${reasons.length ? `: ${reasons.join(", ")}` : ""}`,
            record: sample,
            detail: { queue: queueId, reasons },
          });
        } else if (change) {
          await builder.add(shard.split, change.sample, location);
          await builder.reject({
            step: "review",
            reason: "review-edited",
            action: "modified",
            location,
            message: `edited in review queue ${queueId} (revision ${change.revision})`,
            record: sample,
            detail: { queue: queueId, revision: change.revision },
          });
        } else {
          await builder.add(shard.split, sample, location);
        }
      }
    }
  } catch (error) {
    await builder.abort();
    throw error;
  }
  const built = await builder.finish();
  const summary = { removed: removed.size, edited: edited.size, acceptance };
  const { version, created } = await registry.recordVersion(dataset, built, [parent.hash], {
    inTransaction: async (tx, hash) => {
      await tx
        .update(datasetVersions)
        .set({ status: "published", committedAt: new Date() })
        .where(and(eq(datasetVersions.hash, hash), eq(datasetVersions.status, "draft")));
      await tx
        .insert(publications)
        .values({
          versionHash: hash,
          parentHash: parent.hash,
          queueId,
          summary,
          publishedBy: publishedBy ?? null,
        })
        .onConflictDoNothing();
    },
  });
  return {
    version: await registry.getVersion(version.hash),
    parent: parent.hash,
    queue: queueId,
    summary,
    created,
  };
}
