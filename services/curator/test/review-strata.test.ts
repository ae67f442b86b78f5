/**
 * Review plans by constraint type and by duplicate cluster, on the version of a real pipeline run: generated
 * samples fall in one stratum per constraint type (a sample with two types is reviewed once), and the records
 * deduplication dropped fall in one stratum per cluster, named by the sample kept for it.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clusterOf, constraintTypes } from "../src/review";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

const constrained = (ids: string[]) => ({
  autoif: { constraints: ids.map((id) => ({ id, params: {} })), placement: "user" },
});

const answers = {
  tax: "ภาษีเงินได้บุคคลธรรมดาคำนวณจากเงินได้สุทธิหลังหักค่าใช้จ่ายและค่าลดหย่อนตามอัตราก้าวหน้า",
  land: "สัญญาซื้อขายอสังหาริมทรัพย์ต้องทำเป็นหนังสือและจดทะเบียนต่อพนักงานเจ้าหน้าที่ มิฉะนั้นตกเป็นโมฆะ",
  health: "การออกกำลังกายสม่ำเสมออย่างน้อยสัปดาห์ละหนึ่งร้อยห้าสิบนาทีช่วยลดความเสี่ยงโรคหัวใจและเบาหวาน",
  music: "ดนตรีไทยแบ่งเครื่องดนตรีเป็นเครื่องดีด สี ตี และเป่า วงปี่พาทย์ใช้ในพิธีกรรมและการแสดงโขนละคร",
};

describe("strata keys", () => {
  it("reads constraint types from meta.autoif, each once and sorted", () => {
    expect(constraintTypes(constrained(["b:y", "a:x", "b:y"]))).toEqual(["a:x", "b:y"]);
    expect(constraintTypes({})).toEqual([]);
    expect(constraintTypes({ autoif: { constraints: "no" } })).toEqual([]);
  });
  it("names a duplicate cluster by the sample kept for it, or the earlier version's sample", () => {
    expect(clusterOf({ kept: "s1", key: "k" })).toBe("s1");
    expect(clusterOf({ cluster: "c9" })).toBe("c9");
    expect(clusterOf({ sampleId: "s2", version: "a".repeat(64), similarity: 0.9 })).toBe(
      `${"a".repeat(12)}:s2`,
    );
    expect(clusterOf({ line: 3 })).toBeUndefined();
    expect(clusterOf(null)).toBeUndefined();
  });
});

describe.each(testDatabaseKinds())("review strata on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let hash: string;

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    const sources = join(curator.dir, "sources");
    await mkdir(sources, { recursive: true });
    curator.config.sourcesDir = sources;
    curator.config.pipelineWorkers = 0;
    await writeFile(
      join(sources, "strata.jsonl"),
      jsonl([
        // Generated samples, each unique; c2 has two constraint types.
        chatRow("c1", "อธิบายภาษีเงินได้", answers.tax, {
          meta: constrained(["length_constraints:number_words"]),
        }),
        chatRow("c2", "สัญญาซื้อขายที่ดิน", answers.land, {
          meta: constrained(["length_constraints:number_words", "detectable_format:title"]),
        }),
        chatRow("c3", "ดนตรีไทย", answers.music, { meta: constrained(["detectable_format:title"]) }),
        chatRow("c4", "ตอบสั้น ๆ", "ได้ครับ", { meta: constrained(["startend:quotation"]) }),
        // Duplicates among themselves: u1/u2 near (the answer), u3/u4 exact (the prompt).
        chatRow("u1", "ออกกำลังกายดีอย่างไร", `${answers.health} นะ`),
        chatRow("u2", "ออกกำลังกายดีอย่างไรหน่อย", `${answers.health} ครับ`),
        chatRow("u3", "สวัสดี", "สวัสดีครับ"),
        chatRow("u4", "สวัสดี", "สวัสดีค่ะ"),
      ]),
    );
    await curator.runs.work();
    const run = await curator.runs.submit({
      spec: {
        name: "strata",
        dataset: { name: "strata", kind: "chat" },
        sources: [{ type: "files", name: "fixture", paths: ["strata.jsonl"] }],
        steps: [
          { type: "dedup-exact", scope: "prompt" },
          { type: "dedup-near", fields: ["assistant"], minLength: 30, threshold: 0.7 },
        ],
        batchSize: 10,
      },
    });
    const done = await curator.runs.waitFor(run.id);
    expect(done.status, JSON.stringify(done)).toBe("succeeded");
    hash = done.versionHash as string;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const items = async (queue: string) => {
    const out: { stratum: string; id: string }[] = [];
    for (;;) {
      const item = await curator.reviews.next(queue, "r1");
      if (!item) return out;
      out.push({ stratum: item.stratum, id: item.sample?.sampleId ?? String(item.rejected?.position) });
      await curator.reviews.decide(queue, item.item, "r1", { decision: "accept", reasons: [], note: "" });
    }
  };

  it("takes size samples per constraint type, each sample once", async () => {
    const kept = (await curator.registry.browseSamples(hash, { limit: 100 })).items
      .map((s) => s.sampleId)
      .sort();
    const queue = await curator.reviews.create(hash, {
      name: "by type",
      plan: { strata: "constraint-type", size: 5, seed: 1 },
      reviewsPerItem: 1,
      leaseSeconds: 60,
    });
    const got = await items(queue.id);
    // Every kept sample once; a sample with two types in the first of its strata that picked it.
    expect(got.map((g) => g.id).sort()).toEqual(kept);
    const byType: Record<string, string[]> = {};
    for (const g of got) byType[g.stratum] = [...(byType[g.stratum] ?? []), g.id].sort();
    const unconstrained = kept.filter((id) => id.startsWith("u"));
    expect(unconstrained).toHaveLength(2);
    expect(byType).toEqual({
      "detectable_format:title": ["c2", "c3"],
      "length_constraints:number_words": ["c1"],
      "startend:quotation": ["c4"],
      unconstrained,
    });
    expect(queue.items).toBe(kept.length);
    // size bounds each stratum.
    const one = await curator.reviews.create(hash, {
      name: "one per type",
      plan: { strata: "constraint-type", size: 1, seed: 1 },
      reviewsPerItem: 1,
      leaseSeconds: 60,
    });
    const strata = (await items(one.id)).map((g) => g.stratum).sort();
    expect(strata).toEqual([
      "detectable_format:title",
      "length_constraints:number_words",
      "startend:quotation",
      "unconstrained",
    ]);
  });

  it("takes size drops per duplicate cluster, named by the sample kept", async () => {
    const dropped = (await curator.registry.browseRejected(hash, { limit: 100 })).items.filter(
      (r) => r.action === "dropped",
    );
    expect(dropped.length).toBeGreaterThanOrEqual(2);
    const queue = await curator.reviews.create(hash, {
      name: "by cluster",
      plan: { strata: "cluster", size: 10, seed: 1 },
      reviewsPerItem: 1,
      leaseSeconds: 60,
    });
    const got = await items(queue.id);
    expect(got).toHaveLength(dropped.length);
    for (const g of got) {
      const record = dropped.find((d) => String(d.position) === g.id);
      expect(record).toBeDefined();
      const kept = (record?.detail as { kept: string } | undefined)?.kept;
      expect(g.stratum).toBe(`${record?.step}/${kept}`);
    }
    // A plan by cluster over a version without dedup drops selects nothing: 422 with a reason.
    const clean = await curator.registry.buildVersion("strata", {
      inputs: [{ path: join(curator.config.sourcesDir, "strata.jsonl"), split: "train", source: "x" }],
    });
    await expect(
      curator.reviews.create(clean.version.hash, {
        name: "none",
        plan: { strata: "cluster", size: 1, seed: 1 },
        reviewsPerItem: 1,
        leaseSeconds: 60,
      }),
    ).rejects.toThrow(/no records that deduplication dropped/);
  });
});
