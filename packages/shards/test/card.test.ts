import type { Manifest } from "@sovereign/schemas";
import { MANIFEST_FORMAT } from "@sovereign/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { datasetCard } from "../src/card";
import { sha256Hex } from "../src/hashing";
import { schemaFingerprint } from "../src/manifest";
import { buildVersion, jsonl, tempDirs, textRecords, writeText } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

const h = (s: string) => sha256Hex(s);

const manifest: Manifest = {
  format: MANIFEST_FORMAT,
  dataset: "thai-chat-mini",
  kind: "chat",
  schema: { fingerprint: schemaFingerprint("chat") },
  pipeline: { name: "curate", configHash: h("config") },
  parents: [h("parent-a"), h("parent-b")],
  splits: { train: { rows: 1500 }, test: { rows: 40 } },
  shards: [
    { path: "data/test-00000-of-00001.parquet", split: "test", sha256: h("s0"), bytes: 900, rows: 40 },
    { path: "data/train-00000-of-00002.parquet", split: "train", sha256: h("s1"), bytes: 20_000, rows: 1000 },
    { path: "data/train-00001-of-00002.parquet", split: "train", sha256: h("s2"), bytes: 10_000, rows: 500 },
  ],
  rejected: [{ path: "rejected/input.jsonl", sha256: h("r"), bytes: 300, rows: 7 }],
};

/** The YAML front matter between the leading `---` lines. */
function frontMatter(card: string): string[] {
  const lines = card.split("\n");
  expect(lines[0]).toBe("---");
  const end = lines.indexOf("---", 1);
  expect(end).toBeGreaterThan(0);
  return lines.slice(1, end);
}

describe("datasetCard", () => {
  const version = h("version");
  const card = datasetCard(manifest, version, "  ชุดข้อมูลสนทนาภาษาไทย สำหรับทดสอบ  ");

  it("starts with YAML front matter listing data_files per split, in split order", () => {
    const front = frontMatter(card);
    const configs = front.slice(0, front.indexOf("dataset_info:"));
    expect(configs).toEqual([
      "configs:",
      "- config_name: default",
      "  data_files:",
      "  - split: test",
      "    path: data/test-*",
      "  - split: train",
      "    path: data/train-*",
    ]);
  });

  it("lists dataset_info splits with num_examples and num_bytes summed over the split's shards", () => {
    const front = frontMatter(card);
    const info = front.slice(front.indexOf("dataset_info:"), front.indexOf("tags:"));
    expect(info).toEqual([
      "dataset_info:",
      "  splits:",
      "  - name: test",
      "    num_examples: 40",
      "    num_bytes: 900",
      "  - name: train",
      "    num_examples: 1500",
      "    num_bytes: 30000",
    ]);
    expect(front.slice(front.indexOf("tags:"))).toEqual(["tags:", "- chat"]);
  });

  it("contains the version hash, dataset name, description, parents, pipeline and totals", () => {
    expect(card).toContain(`Version: \`${version}\``);
    expect(card).toContain("# thai-chat-mini");
    expect(card).toContain("\nชุดข้อมูลสนทนาภาษาไทย สำหรับทดสอบ\n");
    expect(card).toContain(`\`${h("parent-a")}\`, \`${h("parent-b")}\``);
    expect(card).toContain(`curate (config \`${h("config")}\`)`);
    expect(card).toContain("Rows: 1540 in 3 Parquet shard(s); 7 input record(s) rejected");
    expect(card).toContain("| test | 40 | 1 |");
    expect(card).toContain("| train | 1500 | 2 |");
    expect(card).toContain("`tool_calls`");
  });

  it("has no doubled blank lines when there is no description", () => {
    const bare = datasetCard({ ...manifest, parents: [], rejected: [] }, version);
    expect(bare).not.toMatch(/\n\n\n/);
    expect(bare).toContain("Parents: none");
    expect(bare).toContain("0 input record(s) rejected");
  });

  it("tags the card with the kind and describes the kind's columns", () => {
    const rl = datasetCard({ ...manifest, kind: "rl-prompt" }, version);
    expect(frontMatter(rl).slice(-2)).toEqual(["tags:", "- rl-prompt"]);
    expect(rl).toContain("`reward_model`");
    const text = datasetCard({ ...manifest, kind: "text" }, version);
    expect(text).toContain("`text` (one document per row)");
  });

  it("is the card a built version carries, naming its hash and splits", async () => {
    const dir = await temp.make();
    const inputs = [
      { path: await writeText(dir, "train.jsonl", jsonl(textRecords(5, "a"))), split: "train" },
      { path: await writeText(dir, "validation.jsonl", jsonl(textRecords(2, "b"))), split: "validation" },
    ];
    const { version } = await buildVersion({ dir, kind: "text", inputs, limits: { maxRows: 2 } });
    expect(version.card).toBe(datasetCard(version.manifest, version.hash, "A small test dataset."));
    expect(version.card).toContain(version.hash);
    const front = frontMatter(version.card);
    expect(front).toContain("  - split: train");
    expect(front).toContain("    path: data/train-*");
    expect(front).toContain("  - split: validation");
    const trainAt = front.indexOf("  - name: train");
    expect(front[trainAt + 1]).toBe("    num_examples: 5");
    const validationAt = front.indexOf("  - name: validation");
    expect(front[validationAt + 1]).toBe("    num_examples: 2");
    const trainBytes = version.manifest.shards
      .filter((s) => s.split === "train")
      .reduce((n, s) => n + s.bytes, 0);
    expect(front[trainAt + 2]).toBe(`    num_bytes: ${trainBytes}`);
  });
});
