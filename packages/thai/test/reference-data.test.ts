/** Normalization and segmentation on the Thai reference data: a whole statute (CRLF, Thai digits) and social media. */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { dedupView, normalizeThai } from "../src/normalize";
import { scriptStats } from "../src/script";
import { words } from "../src/segment";

const dataDir = resolve(process.env.THAI_DATA_DIR ?? join(import.meta.dirname, "../../../../shared/data"));
const civilCode = join(dataDir, "legal", "thai-law-krisdika", "567410.txt");
const present = existsSync(civilCode);
if (!present) console.warn(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR): skipping`);

const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;

describe.skipIf(!present)("Thai text on the reference data", () => {
  it("normalizes the Civil and Commercial Code without losing tone marks, vowels or section numbers", async () => {
    const raw = await readFile(civilCode, "utf8");
    expect(raw).toContain("\r\n");
    const text = normalizeThai(raw);
    expect(text).not.toContain("\r");
    expect(normalizeThai(text)).toBe(text);
    // Repairs touch typing mistakes only: marks that carry meaning stay (within 0.1%).
    for (const marks of [/[\u0e48-\u0e4b]/g, /\u0e33/g, /[\u0e31\u0e34-\u0e3a\u0e47]/g]) {
      expect(Math.abs(count(text, marks) - count(raw, marks))).toBeLessThanOrEqual(count(raw, marks) / 1000);
    }
    expect(count(text, /มาตรา [๐-๙]+/g)).toBe(count(raw, /มาตรา [๐-๙]+/g));
    expect(dedupView("มาตรา ๔๒๐")).toBe("มาตรา 420");
    expect(scriptStats(text).share.thai).toBeGreaterThan(0.95);
    const sample = text.slice(0, 5_000);
    const segmented = words(sample);
    expect(segmented.length).toBeGreaterThan(500);
    expect(segmented).toContain("กฎหมาย");
  });

  it("handles social-media text: emoji, slang and repeated characters", async () => {
    const lines = (await readFile(join(dataDir, "corpora", "wisesight-sentiment", "pos.txt"), "utf8"))
      .split("\n")
      .filter(Boolean);
    const normalized = lines.map(normalizeThai);
    for (const line of normalized) expect(normalizeThai(line)).toBe(line);
    const repeated = lines.filter((l) => /([ะาิีึืุู่้๊๋])\1{2,}/.test(l));
    expect(repeated.length).toBeGreaterThan(0);
    for (const line of repeated.map(normalizeThai)) expect(line).not.toMatch(/([ะาิีึืุู่้๊๋])\1{2,}/);
  });
});
