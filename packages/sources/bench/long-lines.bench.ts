/**
 * @module Readers over one long line: the time and peak memory of reading a file whose one record is a line of
 * 10, 20 and 50 MB, with each reader that cuts lines or rows (JSONL, text lines, CSV, JSON arrays), and the
 * JSONL reader refusing a line over its limit. Each case runs in a child process of its own, so its maxRSS is
 * its own. `npx tsx packages/sources/bench/long-lines.bench.ts [--mb 10,20,50] [--readers jsonl,lines,csv,json]`
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readJsonl } from "@sovereign/shards";
import { readCsv } from "../src/csv";
import { readJsonArray } from "../src/json";
import { byteLines } from "../src/lines";

const readers = ["jsonl", "jsonl-limit", "lines", "csv", "json"] as const;
type Reader = (typeof readers)[number];

/** A Thai character is 3 bytes of UTF-8: `mb` MB of text in one JSON string. */
const text = (mb: number) => "ก".repeat(Math.round((mb * 1e6) / 3));

async function writeCase(dir: string, reader: Reader, mb: number): Promise<string> {
  const body = text(mb);
  const path = join(dir, `${reader}-${mb}`);
  const tail = '{"text":"next"}';
  if (reader === "csv") await writeFile(path, `text\n"${body}"\nnext\n`);
  else if (reader === "json") await writeFile(path, `[${JSON.stringify({ text: body })},\n${tail}]\n`);
  else if (reader === "lines") await writeFile(path, `${body}\nnext\n`);
  else await writeFile(path, `${JSON.stringify({ text: body })}\n${tail}\n`);
  return path;
}

/** One case in this process: read the file to the end, counting records. */
async function runCase(reader: Reader, path: string): Promise<void> {
  const file = { path, label: "bench" };
  const started = performance.now();
  let records = 0;
  let refused = 0;
  const count = (ok: boolean) => {
    records++;
    if (!ok) refused++;
  };
  if (reader === "jsonl")
    for await (const r of readJsonl(path, "bench", { maxLineBytes: 2 ** 30 })) count(r.ok);
  if (reader === "jsonl-limit")
    for await (const r of readJsonl(path, "bench", { maxLineBytes: 2 ** 20 })) count(r.ok);
  if (reader === "lines") for await (const _ of byteLines(path)) count(true);
  if (reader === "csv") for await (const r of readCsv(file)) count(r.ok);
  if (reader === "json") for await (const r of readJsonArray(file)) count(r.ok);
  const seconds = (performance.now() - started) / 1000;
  const maxRss = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(`${JSON.stringify({ seconds, maxRssMb: Math.round(maxRss), records, refused })}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const at = args.indexOf(name);
    return at === -1 ? undefined : args[at + 1];
  };
  const single = option("--case");
  if (single) return runCase(single as Reader, option("--path") as string);
  const sizes = (option("--mb") ?? "10,20,50").split(",").map(Number);
  const chosen = (option("--readers")?.split(",") ?? readers) as Reader[];
  const dir = await mkdtemp(join(tmpdir(), "long-lines-"));
  const self = fileURLToPath(import.meta.url);
  try {
    process.stdout.write("reader\tMB\tseconds\tmaxRSS MB\trecords\trefused\n");
    for (const reader of chosen)
      for (const mb of sizes) {
        const path = await writeCase(dir, reader, mb);
        const child = spawnSync(
          process.execPath,
          ["--import", "tsx", self, "--case", reader, "--path", path],
          {
            encoding: "utf8",
          },
        );
        if (child.status !== 0) throw new Error(`${reader} ${mb} MB failed:\n${child.stderr}`);
        const r = JSON.parse(child.stdout.trim().split("\n").at(-1) as string);
        process.stdout.write(
          `${reader}\t${mb}\t${r.seconds.toFixed(2)}\t${r.maxRssMb}\t${r.records}\t${r.refused}\n`,
        );
        await rm(path);
      }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
