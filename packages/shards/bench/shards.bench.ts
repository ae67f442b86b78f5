/** @module Benchmark of the shard format: write+hash and read+verify throughput and peak memory on Thai chat samples. */
import { once } from "node:events";
import { createWriteStream, existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { finished } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type ChatMessage, ChatSample, type ToolDefinition } from "@sovereign/schemas";
import {
  canonicalJson,
  DatasetBuilder,
  DEFAULT_SHARD_LIMITS,
  LocalBlobStore,
  readJsonl,
  readVersionSamples,
  verifyVersion,
} from "../src/index";
import { defaultWorkerCount } from "../src/worker-pool";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const MB = 1_000_000;
/** Samples generated and written to the input file per batch. */
const GEN_BATCH = 1_000;
/** Every this-many rows read back is regenerated and compared in full, so a fast but wrong reader fails. */
const SPOT_CHECK_EVERY = 997;

const usage = `Usage: npm run bench:shards -- [--rows N] [--max-shard-rows N] [--max-shard-mb N] [--workers N] [--json] [--synthetic]

  --rows N            chat samples to write (default 100000, about 350 MB of text)
  --max-shard-rows N  shard row limit (default ${DEFAULT_SHARD_LIMITS.maxRows})
  --max-shard-mb N    shard content limit in MiB (default ${DEFAULT_SHARD_LIMITS.maxBytes / 1024 / 1024})
  --workers N         worker threads encoding shards for the builder (default: the builder's); 0 encodes in this thread
  --json              print the results as one JSON object
  --synthetic         use generated Thai-like text when THAI_DATA_DIR is absent

Samples are composed from the Thai reference data in THAI_DATA_DIR (default ../shared/data next to the repository).`;

type Pools = {
  /** Short social-media messages, used as the casual opening of user turns. */
  messages: string[];
  news: { title: string; body: string }[];
  statutes: { law: string; section: string; content: string }[];
  /** Two-turn instruction dialogues with answers. */
  dialogues: { turns: string[]; answers: string[] }[];
  /** All news bodies joined: the filler that brings each sample to its target size. */
  filler: string;
};

async function listFiles(dir: string, suffix: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  // Sorted, because directory order differs between file systems and the samples must not.
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

async function loadThaiPools(dataDir: string): Promise<Pools> {
  const messages: string[] = [];
  const wisesight = path.join(dataDir, "corpora/wisesight-sentiment");
  for (const file of await listFiles(wisesight, ".txt")) {
    for (const line of (await readFile(file, "utf8")).split("\n")) {
      const text = line.trim();
      if (text) messages.push(text);
    }
  }

  const news: Pools["news"] = [];
  for (const file of await listFiles(path.join(dataDir, "corpora/thaigov-v2"), ".txt")) {
    const lines = (await readFile(file, "utf8")).replace(/\r\n/g, "\n").split("\n");
    const title = (lines[0] ?? "").replace(/^รัฐบาลไทย-[^-]*-/, "").trim();
    const body = lines.slice(1).join("\n").trim();
    if (title && body.length > 200) news.push({ title, body });
  }

  const statutes: Pools["statutes"] = [];
  for (const file of await listFiles(path.join(dataDir, "legal/nitibench-statutes"), ".json")) {
    const sections = JSON.parse(await readFile(file, "utf8")) as {
      law_name: string;
      section_num: string;
      section_content: string;
    }[];
    for (const s of sections) {
      if (s.section_content?.trim()) {
        statutes.push({ law: s.law_name, section: s.section_num, content: s.section_content.trim() });
      }
    }
  }

  const dialogues: Pools["dialogues"] = [];
  const mtBench = path.join(dataDir, "instructions/sea-mt-bench-thai/mt_bench_thai_full.jsonl");
  for (const line of (await readFile(mtBench, "utf8")).split("\n")) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as {
      prompts: { text: string }[];
      references?: string[];
      baselines?: Record<string, string[]>;
    };
    const turns = record.prompts.map((p) => p.text);
    const answers =
      Object.values(record.baselines ?? {}).find((a) => a.length === turns.length) ?? record.references ?? [];
    if (turns.length && answers.length === turns.length) dialogues.push({ turns, answers });
  }

  for (const [name, pool] of Object.entries({ messages, news, statutes, dialogues })) {
    if (pool.length === 0)
      throw new Error(`no ${name} found under ${dataDir}: is THAI_DATA_DIR the reference data?`);
  }
  return { messages, news, statutes, dialogues, filler: news.map((n) => n.body).join("\n\n") };
}

/** Thai-looking text from a fixed syllable list, for machines without the reference data (--synthetic). */
function syntheticPools(): Pools {
  const syllables =
    "การ ประ ชา ชน รัฐ บาล กฎ หมาย มาตรา ความ ผิด ศาล ผู้ ต้อง หา สัญ ญา ซื้อ ขาย ทรัพย์ สิน หนี้ ดอก เบี้ย ภาษี อากร ข่าว นายก รัฐมนตรี ประชุม ครม อนุมัติ โครง การ งบ ประมาณ เศรษฐ กิจ ท่อง เที่ยว เกษตร กร น้ำ ท่วม ถนน โรง เรียน".split(
      " ",
    );
  let state = 0x9e3779b9;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state;
  };
  const sentence = (words: number) =>
    Array.from({ length: words }, () => {
      const n = 1 + (next() % 3);
      return Array.from({ length: n }, () => syllables[next() % syllables.length]).join("");
    }).join(" ");
  const news = Array.from({ length: 300 }, () => ({
    title: sentence(8),
    body: Array.from({ length: 12 }, () => sentence(40)).join("\n"),
  }));
  return {
    messages: Array.from({ length: 5_000 }, () => sentence(4 + (next() % 12))),
    news,
    statutes: Array.from({ length: 2_000 }, (_, i) => ({
      law: `พระราชบัญญัติ${sentence(3)} พ.ศ. ${2500 + (i % 60)}`,
      section: String(1 + (i % 400)),
      content: sentence(20 + (next() % 80)),
    })),
    dialogues: Array.from({ length: 90 }, () => ({
      turns: [sentence(15), sentence(10)],
      answers: [sentence(60), sentence(40)],
    })),
    filler: news.map((n) => n.body).join("\n\n"),
  };
}

/** 32-bit integer mix (murmur3 finaliser): index-derived choices look unrelated from one sample to the next. */
function mix(i: number, salt: number): number {
  let h = (i ^ Math.imul(salt, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const pick = <T>(pool: readonly T[], i: number, salt: number): T => pool[mix(i, salt) % pool.length] as T;

const TOOLS: ToolDefinition[] = [
  {
    type: "function",
    function: {
      name: "search_statute",
      description: "ค้นหาตัวบทกฎหมายไทยตามชื่อกฎหมายและเลขมาตรา",
      parameters: {
        type: "object",
        properties: { law_name: { type: "string" }, section: { type: "string" } },
        required: ["law_name", "section"],
      },
    },
  },
  {
    type: "function",
    function: {
      name: "get_news",
      description: "ดึงข่าวทำเนียบรัฐบาลที่ตรงกับคำค้น",
      parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] },
    },
  },
];

const SYSTEM_PROMPTS = [
  "คุณเป็นผู้ช่วยด้านกฎหมายไทย ตอบโดยอ้างอิงตัวบทกฎหมายที่เกี่ยวข้องและอธิบายเป็นภาษาที่เข้าใจง่าย",
  "คุณเป็นผู้ช่วยสรุปข่าวภาษาไทย สรุปให้กระชับ ถูกต้อง และไม่แต่งข้อมูลเพิ่ม",
  "คุณเป็นผู้ช่วยที่สุภาพและเป็นประโยชน์ ตอบเป็นภาษาไทย",
];

/**
 * Deterministic chat samples composed from the pools: sample i depends only on i, so the stream needs no
 * state (memory stays flat however many rows are asked for) and any row can be regenerated to check a read.
 */
class SampleComposer {
  constructor(private readonly pools: Pools) {}

  sample(i: number): ChatSample {
    const { messages, news, statutes, dialogues } = this.pools;
    const greeting = pick(messages, i, 1);
    const statute = pick(statutes, i, 2);
    // Long sections and answers are cut so that the filler, not the source, sets each sample's size.
    const section = statute.content.slice(0, 400);
    const item = pick(news, i, 3);
    const dialogue = pick(dialogues, i, 4);
    const template = i % 5;
    const callId = `call_${i.toString(36)}`;
    let turns: ChatMessage[];
    let tools: ToolDefinition[] | null = null;
    // Which message is grown with filler to the sample's target size; by default the last.
    let grow = -1;
    switch (template) {
      case 0:
        turns = [
          { role: "system", content: SYSTEM_PROMPTS[0] as string },
          { role: "user", content: `${greeting}\n\nช่วยอธิบาย${statute.law} มาตรา ${statute.section} ให้หน่อย` },
          { role: "assistant", content: `${section}\n\nตัวอย่างที่เกี่ยวข้อง:\n` },
        ];
        break;
      case 1:
        tools = TOOLS;
        turns = [
          { role: "system", content: SYSTEM_PROMPTS[0] as string },
          { role: "user", content: `${greeting}\n\n${statute.law} มาตรา ${statute.section} ว่าไว้อย่างไร` },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: callId,
                type: "function",
                function: {
                  name: "search_statute",
                  arguments: JSON.stringify({ law_name: statute.law, section: statute.section }),
                },
              },
            ],
          },
          {
            role: "tool",
            tool_call_id: callId,
            name: "search_statute",
            content: JSON.stringify({ law_name: statute.law, section_num: statute.section, text: section }),
          },
          { role: "assistant", content: `สรุปมาตรา ${statute.section}: ${section.slice(0, 200)}\n\n` },
        ];
        break;
      case 2:
        grow = 1;
        turns = [
          { role: "system", content: SYSTEM_PROMPTS[1] as string },
          { role: "user", content: `สรุปข่าวต่อไปนี้ให้หน่อย\n\n${item.title}\n` },
          { role: "assistant", content: `${item.title}\n\n${item.body.slice(0, 400)}` },
        ];
        break;
      case 3:
        turns = [
          { role: "system", content: SYSTEM_PROMPTS[2] as string },
          ...dialogue.turns.flatMap((turn, t): ChatMessage[] => [
            { role: "user", content: t === 0 ? `${greeting}\n${turn}` : turn },
            { role: "assistant", content: (dialogue.answers[t] ?? "").slice(0, 300) },
          ]),
          { role: "user", content: `ขอบคุณ แล้วข่าวนี้ล่ะ: ${item.title}` },
          { role: "assistant", content: "" },
        ];
        break;
      default:
        tools = TOOLS;
        turns = [
          { role: "system", content: SYSTEM_PROMPTS[1] as string },
          { role: "user", content: `${greeting}\n\nมีข่าวเรื่อง "${item.title}" ไหม` },
          {
            role: "assistant",
            content: null,
            tool_calls: [
              {
                id: callId,
                type: "function",
                function: { name: "get_news", arguments: JSON.stringify({ query: item.title.slice(0, 60) }) },
              },
            ],
          },
          { role: "tool", tool_call_id: callId, name: "get_news", content: item.body.slice(0, 300) },
          { role: "assistant", content: `${item.title}\n\n` },
        ];
    }
    const sample: ChatSample = {
      id: `th-chat-${i.toString().padStart(9, "0")}`,
      source: ["statute-qa", "statute-tool", "news-summary", "instruction", "news-tool"][template] as string,
      meta: { bench: "shards", template, index: i },
      messages: turns,
      tools,
    };
    this.fill(sample, sample.messages.at(grow), i);
    return sample;
  }

  /** Grow one message with a window of news text so sizes spread over 1.8–4.8 KB (about 3.5 KB on average with the fixed parts). */
  private fill(sample: ChatSample, message: ChatMessage | undefined, i: number): void {
    const target = 1_800 + (mix(i, 5) % 3_001);
    const need = target - Buffer.byteLength(JSON.stringify(sample));
    if (need <= 0 || !message || typeof message.content !== "string") return;
    const { filler } = this.pools;
    // Thai is 3 bytes a character in UTF-8 and ASCII 1: measure one window, then rescale it once.
    let chars = Math.min(need, filler.length - 1);
    let start = mix(i, 6) % (filler.length - chars);
    const space = filler.indexOf(" ", start);
    if (space !== -1 && space - start < 200 && space + chars < filler.length) start = space + 1;
    const measured = Buffer.byteLength(filler.slice(start, start + chars));
    chars = Math.max(1, Math.floor((chars * need) / Math.max(measured, 1)));
    message.content += filler.slice(start, Math.min(filler.length, start + chars));
  }
}

/** Peak RSS, overall and per phase. The interval misses synchronous stretches, hence the explicit samples too. */
class RssSampler {
  peak = 0;
  /** What the RSS was made of at the peak, to tell the JavaScript heap from buffers and WebAssembly memory. */
  atPeak: NodeJS.MemoryUsage | undefined;
  private phasePeak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sample(), 100);
    this.timer.unref();
  }

  sample(): void {
    // The process's RSS: worker threads share it, so their memory is counted too.
    const rss = process.memoryUsage.rss();
    if (rss > this.peak) {
      this.peak = rss;
      this.atPeak = process.memoryUsage();
    }
    if (rss > this.phasePeak) this.phasePeak = rss;
  }

  /** The peak since the last call, then start a new phase. */
  endPhase(): number {
    this.sample();
    const peak = this.phasePeak;
    this.phasePeak = 0;
    return peak;
  }

  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }
}

type Phase = {
  seconds: number;
  /** CPU time of the whole process: the main thread, the workers and V8's helper threads. */
  cpuSeconds: number;
  mbPerSec: number;
  mbPerCpuSecond: number;
  peakRssMb: number;
};

function phase(inputMb: number, ms: number, cpuMicros: number, peakRss: number): Phase {
  const seconds = ms / 1000;
  return {
    seconds: round(seconds, 3),
    cpuSeconds: round(cpuMicros / 1e6, 3),
    mbPerSec: round(inputMb / seconds, 1),
    mbPerCpuSecond: round(inputMb / (cpuMicros / 1e6), 1),
    peakRssMb: round(peakRss / MB, 1),
  };
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Run `work` and time it: wall clock and the process's CPU time. */
async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number; cpu: number }> {
  const c0 = cpuMicros();
  const t0 = performance.now();
  const result = await work();
  return { result, ms: performance.now() - t0, cpu: cpuMicros() - c0 };
}

function positiveInt(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${flag} needs a positive number, got ${JSON.stringify(value)}`);
  return n;
}

function workerCount(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`--workers needs a whole number, got ${JSON.stringify(value)}`);
  return n;
}

/**
 * Write the samples as JSONL, validated, outside any timed region; returns their JSON size. Timing the
 * builder while this thread generates samples would overstate it: with workers, encoding goes on in the
 * background while the generator runs, so the builder would seem to cost only what `add` takes.
 */
async function writeInput(composer: SampleComposer, rows: number, file: string): Promise<number> {
  const out = createWriteStream(file);
  let bytes = 0;
  for (let start = 0; start < rows; start += GEN_BATCH) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(rows, start + GEN_BATCH); i++) {
      const sample = composer.sample(i);
      const parsed = ChatSample.safeParse(sample);
      if (!parsed.success) throw new Error(`generated sample ${i} is invalid: ${parsed.error.message}`);
      const json = JSON.stringify(sample);
      bytes += Buffer.byteLength(json);
      lines.push(`${json}\n`);
    }
    if (!out.write(lines.join(""))) await once(out, "drain");
  }
  out.end();
  await finished(out);
  return bytes;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rows: { type: "string" },
      "max-shard-rows": { type: "string" },
      "max-shard-mb": { type: "string" },
      workers: { type: "string" },
      json: { type: "boolean", default: false },
      synthetic: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const rows = Math.floor(positiveInt(values.rows, 100_000, "--rows"));
  const workers = workerCount(values.workers);
  const limits = {
    maxRows: Math.floor(
      positiveInt(values["max-shard-rows"], DEFAULT_SHARD_LIMITS.maxRows, "--max-shard-rows"),
    ),
    maxBytes: Math.floor(
      positiveInt(values["max-shard-mb"], DEFAULT_SHARD_LIMITS.maxBytes / 1024 / 1024, "--max-shard-mb") *
        1024 *
        1024,
    ),
  };

  const dataDir = path.resolve(process.env.THAI_DATA_DIR ?? path.resolve(repoRoot, "../shared/data"));
  const haveData = existsSync(path.join(dataDir, "corpora/wisesight-sentiment"));
  if (!haveData && !values.synthetic) {
    console.log(
      `bench:shards skipped: no Thai reference data at ${dataDir}. Set THAI_DATA_DIR to it, or pass --synthetic ` +
        "to run on generated text.",
    );
    return;
  }
  const pools = haveData ? await loadThaiPools(dataDir) : syntheticPools();
  const composer = new SampleComposer(pools);
  const log = (line: string) => {
    if (!values.json) console.log(line);
  };
  log(
    `bench:shards: ${rows} chat samples from ${haveData ? `the Thai reference data (${dataDir})` : "synthetic text"}; ` +
      `shards of at most ${limits.maxRows} rows / ${limits.maxBytes / 1024 / 1024} MiB; ` +
      `workers ${workers ?? `default (${defaultWorkerCount()})`}`,
  );

  const root = await mkdtemp(path.join(os.tmpdir(), "bench-shards-"));
  const rss = new RssSampler();
  try {
    const input = path.join(root, "input.jsonl");
    const generation = await timed(() => writeInput(composer, rows, input));
    const inputBytes = generation.result;

    // What reading and parsing the input costs on its own: the part of the write phase that is not the builder.
    const parseOnly = await timed(async () => {
      let n = 0;
      for await (const record of readJsonl(input)) if (record.ok) n++;
      return n;
    });
    if (parseOnly.result !== rows) throw new Error(`parsed ${parseOnly.result} records, wrote ${rows}`);

    // Write: the real ingest path, timed end to end: JSONL read and parsed, every sample added, finish().
    const store = new LocalBlobStore(path.join(root, "blobs"));
    rss.endPhase();
    const write = await timed(async () => {
      const builder = new DatasetBuilder({
        dataset: "bench-thai-chat",
        kind: "chat",
        store,
        scratchDir: path.join(root, "scratch"),
        pipeline: { name: "bench:shards", config: { rows, limits } },
        limits,
        ...(workers === undefined ? {} : { workers }),
        // Flushes are the memory high points; sample right after each one, since the interval may not fire.
        onProgress: () => rss.sample(),
      });
      try {
        let added = 0;
        for await (const record of readJsonl(input)) {
          if (!record.ok) throw new Error(`${record.location}: ${record.message}`);
          // Validated when generated: the samples go straight to the builder.
          const duplicate = await builder.add("train", record.value as ChatSample, record.location);
          if (duplicate) throw new Error(duplicate.message);
          if (++added % GEN_BATCH === 0) rss.sample();
        }
        return await builder.finish();
      } catch (error) {
        await builder.abort();
        throw error;
      }
    });
    const built = write.result;
    const writePeak = rss.endPhase();
    await built.dispose();

    // Read back: every shard re-hashed and decoded, in manifest order, in this thread. The checks of the
    // decoded rows (every row's id, every 997th row in full) are timed apart and left out of the wall times
    // (the CPU times still include them).
    let checkMs = 0;
    const read = await timed(async () => {
      let rowsRead = 0;
      for await (const { shard, samples } of readVersionSamples(store, built.hash, built.manifest)) {
        const k0 = performance.now();
        rss.sample();
        if (samples.length !== shard.rows)
          throw new Error(`${shard.path}: ${samples.length} rows, manifest says ${shard.rows}`);
        for (const sample of samples) {
          if (rowsRead % SPOT_CHECK_EVERY === 0) {
            const expected = canonicalJson(composer.sample(rowsRead));
            if (canonicalJson(sample) !== expected)
              throw new Error(`row ${rowsRead} reads back different from what was written`);
          } else if (sample.id !== `th-chat-${rowsRead.toString().padStart(9, "0")}`) {
            throw new Error(`row ${rowsRead} has id ${sample.id}: rows are out of order`);
          }
          rowsRead++;
        }
        checkMs += performance.now() - k0;
      }
      return rowsRead;
    });
    if (read.result !== rows) throw new Error(`read ${read.result} rows back, wrote ${rows}`);

    const verify = await timed(() => verifyVersion(store, built.hash, built.manifest));
    if (!verify.result.ok)
      throw new Error(`verifyVersion failed: ${JSON.stringify(verify.result).slice(0, 500)}`);
    const readPeak = rss.endPhase();
    rss.stop();

    const inputMb = inputBytes / MB;
    const compressed = built.manifest.shards.reduce((n, s) => n + s.bytes, 0);
    const results = {
      rows,
      source: haveData ? "thai-reference-data" : "synthetic",
      limits: { maxRows: limits.maxRows, maxMiB: limits.maxBytes / 1024 / 1024 },
      workers: workers ?? `default (${defaultWorkerCount()})`,
      machine: {
        cores: os.availableParallelism(),
        cpu: os.cpus()[0]?.model ?? "unknown",
        memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
        node: process.version,
      },
      inputMb: round(inputMb, 2),
      avgSampleBytes: Math.round(inputBytes / rows),
      generateSeconds: round(generation.ms / 1000, 3),
      parseOnlySeconds: round(parseOnly.ms / 1000, 3),
      writeHash: phase(inputMb, write.ms, write.cpu, writePeak),
      /** The write phase less the parse-only pass: exact without workers, an upper bound with them. */
      writeLessParseMbPerSec: round(inputMb / ((write.ms - parseOnly.ms) / 1000), 1),
      readVerify: phase(inputMb, read.ms - checkMs + verify.ms, read.cpu + verify.cpu, readPeak),
      readDecode: phase(inputMb, read.ms - checkMs, read.cpu, readPeak),
      readChecksSeconds: round(checkMs / 1000, 3),
      verifyVersion: phase(inputMb, verify.ms, verify.cpu, readPeak),
      peakRssMb: round(rss.peak / MB, 1),
      maxRssMb: round((process.resourceUsage().maxRSS * 1024) / MB, 1),
      atPeakMb: {
        heapUsed: round((rss.atPeak?.heapUsed ?? 0) / MB, 1),
        heapTotal: round((rss.atPeak?.heapTotal ?? 0) / MB, 1),
        external: round((rss.atPeak?.external ?? 0) / MB, 1),
        arrayBuffers: round((rss.atPeak?.arrayBuffers ?? 0) / MB, 1),
      },
      shards: built.manifest.shards.length,
      compressedBytes: compressed,
      compressionRatio: round(inputBytes / compressed, 2),
      version: built.hash,
    };
    if (values.json) {
      console.log(JSON.stringify(results));
      return;
    }
    const line = (name: string, p: Phase) =>
      `  ${name.padEnd(15)} ${p.seconds.toFixed(2).padStart(7)} s  ${p.mbPerSec.toFixed(1).padStart(6)} MB/s  ` +
      `cpu ${p.cpuSeconds.toFixed(2)} s (${p.mbPerCpuSecond.toFixed(1)} MB per cpu-second)`;
    console.log(
      [
        `  input           ${results.inputMb} MB (${results.avgSampleBytes} B/sample JSON), generated as JSONL in ${results.generateSeconds} s (excluded)`,
        `  parse only      ${results.parseOnlySeconds.toFixed(2).padStart(7)} s  (reading and parsing the JSONL, no builder)`,
        line("write+hash", results.writeHash),
        `                  ${results.writeLessParseMbPerSec.toFixed(1)} MB/s with the parse-only time taken off`,
        line("read+verify", results.readVerify),
        line("  read+decode", results.readDecode),
        `                  checking the rows ${results.readChecksSeconds.toFixed(2)} s (left out)`,
        line("  verifyVersion", results.verifyVersion),
        `  threads         ${results.machine.cores} cores; workers ${results.workers}; cpu counts every thread of the process`,
        `  peak RSS        ${results.peakRssMb} MB sampled (write ${results.writeHash.peakRssMb}, read ${results.readVerify.peakRssMb}); maxRSS ${results.maxRssMb} MB`,
        `                  at the peak: JS heap ${results.atPeakMb.heapUsed} MB used of ${results.atPeakMb.heapTotal}, external ${results.atPeakMb.external} MB (array buffers ${results.atPeakMb.arrayBuffers})`,
        `  shards          ${results.shards}, ${results.compressedBytes} bytes, compression ${results.compressionRatio}x`,
        `  version         ${results.version}`,
      ].join("\n"),
    );
  } finally {
    rss.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error(`bench:shards failed: ${(error as Error).message}`);
  process.exitCode = 1;
});
