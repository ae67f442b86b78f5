/**
 * Versions built from the Thai reference data: real statutes (Thai digits, long sections) and real
 * social-media lines (slang, emoji, code-mixing), through the same ingest path as the curator.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalBlobStore } from "../src/blob-store";
import { DatasetBuilder } from "../src/builder";
import { canonicalJson } from "../src/hashing";
import { ingestFiles } from "../src/inputs";
import { readVersionSamples, verifyVersion } from "../src/verify";

const dataDir = resolve(process.env.THAI_DATA_DIR ?? join(import.meta.dirname, "../../../../shared/data"));
const present = existsSync(join(dataDir, "legal", "nitibench-statutes"));
if (!present) console.warn(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR): skipping`);

describe.skipIf(!present)("versions of the Thai reference data", () => {
  let dir: string;
  const rows: { id: string; source: string; text: string; meta: Record<string, unknown> }[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "shards-ref-"));
    const statuteDir = join(dataDir, "legal", "nitibench-statutes");
    for (const file of (await readdir(statuteDir)).sort().slice(0, 6)) {
      const sections = JSON.parse(await readFile(join(statuteDir, file), "utf8")) as {
        law_name: string;
        section_num: string;
        section_content: string;
      }[];
      for (const s of sections) {
        rows.push({
          id: `${file}#${s.section_num}`,
          source: "nitibench-statutes",
          text: s.section_content,
          meta: { law: s.law_name, section: s.section_num },
        });
      }
    }
    const social = (await readFile(join(dataDir, "corpora", "wisesight-sentiment", "neg.txt"), "utf8")).split(
      "\n",
    );
    social.forEach((line, i) => {
      if (line.trim()) rows.push({ id: `wisesight-neg-${i + 1}`, source: "wisesight", text: line, meta: {} });
    });
    await writeFile(join(dir, "corpus.jsonl"), rows.map((r) => JSON.stringify(r)).join("\n"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function build(name: string) {
    const store = new LocalBlobStore(join(dir, name, "blobs"));
    const builder = new DatasetBuilder({
      dataset: "thai-reference",
      kind: "text",
      store,
      scratchDir: join(dir, name, "scratch"),
      pipeline: { name: "import", config: {} },
      limits: { maxRows: 1_000, maxBytes: 1024 * 1024 },
    });
    await ingestFiles(builder, "text", [{ path: join(dir, "corpus.jsonl"), split: "train" }]);
    return { store, version: await builder.finish() };
  }

  it("round-trips every row exactly, in order, across several shards, with the same hash twice", async () => {
    const a = await build("a");
    const b = await build("b");
    expect(b.version.hash).toBe(a.version.hash);
    expect(a.version.manifest.shards.length).toBeGreaterThan(2);
    const back: unknown[] = [];
    for await (const { samples } of readVersionSamples(a.store, a.version.hash, a.version.manifest))
      back.push(...samples);
    expect(back.length).toBe(rows.length);
    expect(canonicalJson(back)).toBe(canonicalJson(rows));
    expect((await verifyVersion(a.store, a.version.hash, a.version.manifest)).ok).toBe(true);
    await a.version.dispose();
    await b.version.dispose();
  });
});
