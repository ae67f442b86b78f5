/**
 * @module Benchmark of the trainer's data plane on real Thai data, on one core: tokenizing samples into
 * documents (the tokenizer alone, and a cold `openTrainingData` that also reads the Parquet shards and
 * writes the cache), then packing one epoch into frames from the warm cache. Chat samples are WangChanGLM's
 * OASST1 prompts and answers; the corpus is Krisdika's statutes, one document per `มาตรา`. The best of the
 * rounds counts, so the tokenizer's pre-token cache is warm, as it is a little way into any real corpus.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ChatSample, DatasetKind, Sample, TextSample } from "@sovereign/schemas";
import { DatasetBuilder, LocalBlobStore, type RawRecord } from "@sovereign/shards";
import { readCsv, readText } from "@sovereign/sources";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import { Documentizer, openTrainingData, type Role, type VersionInput } from "../src/index";

const CHAT_FILE = "instructions/wangchanglm-eval/oasst1_wangchang_sft_enth_answer.csv";
const STATUTE_DIR = "legal/thai-law-krisdika";

const usage = `Usage: npm run bench:dataplane -- [--seq-len N] [--rows N] [--rounds N] [--json]

  --seq-len N  tokens per packed row (default 4096)
  --rows N     rows per step (default 8)
  --rounds N   timed rounds; the best round of each measurement counts (default 3)
  --json       print the results as one JSON object

Reads the Thai reference data in THAI_DATA_DIR; without it the benchmark is skipped.`;

type Source = { name: string; kind: DatasetKind; role: Role; samples: Sample[] };

async function collect(
  records: AsyncGenerator<RawRecord>,
  make: (value: Record<string, unknown>, i: number) => Sample | undefined,
) {
  const out: Sample[] = [];
  for await (const record of records) {
    if (!record.ok) continue;
    const sample = make(record.value as Record<string, unknown>, out.length);
    if (sample) out.push(sample);
  }
  return out;
}

async function loadSources(dataDir: string): Promise<Source[]> {
  const chatPath = path.join(dataDir, CHAT_FILE);
  const chat = await collect(
    readCsv({ path: chatPath, label: CHAT_FILE }),
    (row, i): ChatSample | undefined => {
      const prompt = String(row.prompt ?? "").trim();
      const answer = String(row.answer ?? "").trim();
      if (!prompt || !answer) return undefined;
      const messages: ChatSample["messages"] = [
        { role: "user", content: prompt },
        { role: "assistant", content: answer },
      ];
      return { id: `oasst-${i}`, source: CHAT_FILE, meta: {}, messages, tools: null };
    },
  );
  const statutes: Sample[] = [];
  const dir = path.join(dataDir, STATUTE_DIR);
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".txt")).sort()) {
    const file = { path: path.join(dir, name), label: `${STATUTE_DIR}/${name}` };
    const sections = readText(file, { text: { split: { pattern: "^มาตรา" } } });
    statutes.push(
      ...(await collect(
        sections,
        (value, i): TextSample => ({
          id: `${name}-${i}`,
          source: file.label,
          meta: {},
          text: String(value.text),
        }),
      )),
    );
  }
  return [
    { name: "wangchanglm oasst1 chat", kind: "chat", role: "train", samples: chat },
    { name: "krisdika statutes corpus", kind: "text", role: "corpus", samples: statutes },
  ];
}

async function buildVersion(
  dir: string,
  source: Source,
): Promise<{ store: LocalBlobStore; version: VersionInput }> {
  const store = new LocalBlobStore(path.join(dir, "store"));
  const builder = new DatasetBuilder({
    dataset: source.name.replaceAll(" ", "-"),
    kind: source.kind,
    store,
    scratchDir: path.join(dir, "scratch"),
    pipeline: { name: "bench", config: {} },
    workers: 0,
  });
  for (const [i, sample] of source.samples.entries()) await builder.add("train", sample, `#${i + 1}`);
  const built = await builder.finish();
  await built.dispose();
  return { store, version: { hash: built.hash, manifest: built.manifest } };
}

type Result = {
  source: string;
  samples: number;
  documents: number;
  tokens: number;
  truncated: number;
  rowsPerEpoch: number;
  /** Real tokens over row slots in epoch 0. */
  fill: number;
  tokenizeTokensPerSecond: number;
  coldOpenTokensPerSecond: number;
  packTokensPerSecond: number;
  /** A cold open and one epoch of frames: what a run pays for its first epoch. */
  endToEndTokensPerSecond: number;
  warmOpenMs: number;
};

const round = (n: number, digits = 0) => Number(n.toFixed(digits));

async function benchmark(
  source: Source,
  options: { seqLen: number; rows: number; rounds: number },
  work: string,
): Promise<Result> {
  const tokenizer = await loadQwen3Tokenizer();
  const { store, version } = await buildVersion(path.join(work, source.kind), source);
  const common = {
    store,
    versions: [version],
    role: source.role,
    tokenizer,
    run: "bench",
    seqLen: options.seqLen,
    seed: 0,
    rowsPerStep: options.rows,
  };
  const documentizer = new Documentizer(tokenizer, {
    role: source.role,
    seqLen: options.seqLen,
    overlong: "truncate",
    thinking: true,
  });
  let best = { tokenize: Infinity, cold: Infinity, pack: Infinity, warm: Infinity };
  let stats: Awaited<ReturnType<typeof openTrainingData>>["stats"] | undefined;
  for (let r = 0; r < options.rounds; r++) {
    let start = performance.now();
    let tokens = 0;
    for (const sample of source.samples)
      for (const d of documentizer.documents(source.kind, sample).documents) tokens += d.ids.length;
    const tokenize = performance.now() - start;

    const cacheDir = path.join(work, `cache-${source.kind}-${r}`);
    start = performance.now();
    const cold = await openTrainingData({ ...common, cacheDir });
    const coldMs = performance.now() - start;
    cold.close();

    start = performance.now();
    const data = await openTrainingData({ ...common, cacheDir });
    const warm = performance.now() - start;
    stats = data.stats;
    if (tokens !== stats.tokens)
      throw new Error(`tokenizer pass counted ${tokens} tokens, the cache ${stats.tokens}`);
    const steps = Math.ceil(data.rowsInEpoch(0) / options.rows);
    start = performance.now();
    let bytes = 0;
    for (let step = 0; step < steps; step++) bytes += data.batchFrame(step, 0, 1).length;
    const pack = performance.now() - start;
    if (bytes === 0) throw new Error("no frames");
    data.close();
    best = {
      tokenize: Math.min(best.tokenize, tokenize),
      cold: Math.min(best.cold, coldMs),
      pack: Math.min(best.pack, pack),
      warm: Math.min(best.warm, warm),
    };
  }
  const s = stats as NonNullable<typeof stats>;
  return {
    source: source.name,
    samples: s.samples,
    documents: s.documents,
    tokens: s.tokens,
    truncated: s.truncated,
    rowsPerEpoch: s.rowsPerEpoch,
    fill: round(s.tokens / (s.rowsPerEpoch * options.seqLen), 3),
    tokenizeTokensPerSecond: round(s.tokens / (best.tokenize / 1000)),
    coldOpenTokensPerSecond: round(s.tokens / (best.cold / 1000)),
    packTokensPerSecond: round(s.tokens / (best.pack / 1000)),
    endToEndTokensPerSecond: round(s.tokens / ((best.cold + best.pack) / 1000)),
    warmOpenMs: round(best.warm, 1),
  };
}

function positiveInteger(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "seq-len": { type: "string" },
      rows: { type: "string" },
      rounds: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const options = {
    seqLen: positiveInteger(values["seq-len"], 4096, "--seq-len"),
    rows: positiveInteger(values.rows, 8, "--rows"),
    rounds: positiveInteger(values.rounds, 3, "--rounds"),
  };
  const dataDir = process.env.THAI_DATA_DIR;
  if (
    !dataDir ||
    !existsSync(path.join(dataDir, CHAT_FILE)) ||
    !existsSync(path.join(dataDir, STATUTE_DIR))
  ) {
    console.log(
      `bench:dataplane skipped: ${dataDir ? `no ${CHAT_FILE} or ${STATUTE_DIR} under ${dataDir}` : "THAI_DATA_DIR is not set"}. ` +
        "Set THAI_DATA_DIR to the Thai reference data.",
    );
    return;
  }
  const log = (line: string) => {
    if (!values.json) console.log(line);
  };
  const work = await mkdtemp(path.join(os.tmpdir(), "dataplane-bench-"));
  try {
    const sources = await loadSources(dataDir);
    log(
      `bench:dataplane: seqLen ${options.seqLen}, ${options.rows} rows a step, best of ${options.rounds} round(s), one core`,
    );
    const results: Result[] = [];
    for (const source of sources) {
      log(`  ${source.name}: ${source.samples.length} samples`);
      results.push(await benchmark(source, options, work));
    }
    const result = {
      machine: {
        cores: os.availableParallelism(),
        cpu: os.cpus()[0]?.model ?? "unknown",
        node: process.version,
      },
      options,
      results,
    };
    if (values.json) {
      console.log(JSON.stringify(result));
      return;
    }
    console.table(
      Object.fromEntries(
        results.map((r) => [
          r.source,
          {
            documents: r.documents,
            tokens: r.tokens,
            truncated: r.truncated,
            "row fill": r.fill,
            "tokenize tok/s": r.tokenizeTokensPerSecond,
            "cold open tok/s": r.coldOpenTokensPerSecond,
            "pack+frame tok/s": r.packTokensPerSecond,
            "end to end tok/s": r.endToEndTokensPerSecond,
            "warm open ms": r.warmOpenMs,
          },
        ]),
      ),
    );
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
