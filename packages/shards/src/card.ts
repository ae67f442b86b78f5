/**
 * @module Dataset cards: the Hugging Face `README.md` (YAML front matter with configs and splits, then a
 * human summary) generated from a manifest, so a version exported or pushed to the Hub describes itself.
 */
import type { Manifest } from "@sovereign/schemas";

const kindColumns: Record<Manifest["kind"], string> = {
  chat: "`messages` (OpenAI chat turns, with `tool_calls` and `tool` turns), `tools` (JSON)",
  text: "`text` (one document per row)",
  "rl-prompt": "`prompt` (chat turns), `reward_model` (`style`, `ground_truth`)",
};

/** YAML scalar: quoted unless it is a plain identifier, so Thai or odd names stay valid YAML. */
function yamlScalar(value: string | number): string {
  if (typeof value === "number") return String(value);
  return /^[A-Za-z0-9_./*-]+$/.test(value) ? value : JSON.stringify(value);
}

export function datasetCard(manifest: Manifest, versionHash: string, description = ""): string {
  const splits = Object.keys(manifest.splits).sort();
  const bytesBySplit = new Map<string, number>();
  for (const s of manifest.shards) bytesBySplit.set(s.split, (bytesBySplit.get(s.split) ?? 0) + s.bytes);
  const front = [
    "---",
    "configs:",
    "- config_name: default",
    "  data_files:",
    ...splits.flatMap((split) => [
      `  - split: ${yamlScalar(split)}`,
      `    path: ${yamlScalar(`data/${split}-*`)}`,
    ]),
    "dataset_info:",
    "  splits:",
    ...splits.flatMap((split) => [
      `  - name: ${yamlScalar(split)}`,
      `    num_examples: ${manifest.splits[split]?.rows ?? 0}`,
      `    num_bytes: ${bytesBySplit.get(split) ?? 0}`,
    ]),
    "tags:",
    `- ${yamlScalar(manifest.kind)}`,
    "---",
  ];
  const total = Object.values(manifest.splits).reduce((n, s) => n + s.rows, 0);
  const rejected = manifest.rejected.reduce((n, r) => n + r.rows, 0);
  const body = [
    `# ${manifest.dataset}`,
    "",
    description.trim(),
    "",
    `- Version: \`${versionHash}\` (sha256 of \`manifest.json\`)`,
    `- Kind: ${manifest.kind}; columns \`id\`, \`source\`, ${kindColumns[manifest.kind]}, \`meta\` (JSON provenance)`,
    `- Pipeline: ${manifest.pipeline.name} (config \`${manifest.pipeline.configHash}\`)`,
    `- Parents: ${manifest.parents.length ? manifest.parents.map((p) => `\`${p}\``).join(", ") : "none"}`,
    `- Rows: ${total} in ${manifest.shards.length} Parquet shard(s); ${rejected} input record(s) rejected (kept under \`rejected/\`)`,
    "",
    "| split | rows | shards |",
    "|---|---|---|",
    ...splits.map(
      (split) =>
        `| ${split} | ${manifest.splits[split]?.rows ?? 0} | ${manifest.shards.filter((s) => s.split === split).length} |`,
    ),
    "",
    "Every shard is named in `manifest.json` with its sha256; readers verify each shard before use.",
    "",
  ];
  return [...front, ...body.filter((line, i) => !(line === "" && body[i - 1] === ""))].join("\n");
}
