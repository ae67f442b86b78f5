/**
 * @module A statute corpus held for the tools: its sections by (law, section), and a BM25 index over their Thai
 * word segments (`@sovereign/thai`'s `words`, lowercased) for search.
 *
 * A corpus sample is one section: a text sample whose `meta` has `law_name` and `section_label` (the statute
 * corpus pipeline writes them). A sample without them still counts: its section is read from the text's leading
 * `มาตรา <number>` and its law is `meta.law_name` or the empty name. Section labels are compared normalized
 * (Thai digits as Arabic, a leading `มาตรา` dropped, `335ทวิ` as `335 ทวิ`), law names with spaces collapsed.
 */
import { normalizeSection } from "@sovereign/rewards";
import type { Manifest, Sample } from "@sovereign/schemas";
import { type BlobStore, readVersionSamples } from "@sovereign/shards";
import { thaiDigitsToArabic, words } from "@sovereign/thai";

export type Section = { law: string; section: string; text: string };
export type SearchHit = Section & { score: number };

/** BM25's term-frequency saturation and length normalization, the usual defaults. */
const K1 = 1.2;
const B = 0.75;

const HEADING = /^\s*มาตรา\s*([0-9๐-๙]+(?:\s*\/\s*[0-9๐-๙]+)?(?:\s*[\u0e01-\u0e2e][\u0e01-\u0e4e]*)?)/u;

export function normalizeLaw(law: string): string {
  return law.normalize("NFC").replace(/\s+/g, " ").trim();
}

/** The terms of a text: its Thai (and Latin, digit) word segments, lowercased, Thai digits as Arabic. */
export function terms(text: string): string[] {
  return words(thaiDigitsToArabic(text.normalize("NFC"))).map((w) => w.toLowerCase());
}

/** The section a corpus sample holds, or undefined when it names none. */
export function sectionOf(sample: Sample): Section | undefined {
  if (!("text" in sample)) return undefined;
  const meta = sample.meta ?? {};
  const law = typeof meta.law_name === "string" ? normalizeLaw(meta.law_name) : "";
  const label =
    typeof meta.section_label === "string" || typeof meta.section_label === "number"
      ? String(meta.section_label)
      : sample.text.match(HEADING)?.[1];
  if (label === undefined) return undefined;
  return { law, section: normalizeSection(label), text: sample.text };
}

export class StatuteIndex {
  private readonly postings = new Map<string, { doc: number; tf: number }[]>();
  private readonly lengths: number[] = [];
  private readonly averageLength: number;
  private readonly bySection = new Map<string, number>();
  readonly laws: string[];

  constructor(readonly sections: readonly Section[]) {
    sections.forEach((s, doc) => {
      const counts = new Map<string, number>();
      const docTerms = terms(s.text);
      for (const t of docTerms) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [term, tf] of counts) {
        const list = this.postings.get(term);
        if (list) list.push({ doc, tf });
        else this.postings.set(term, [{ doc, tf }]);
      }
      this.lengths.push(docTerms.length);
      const key = `${s.law}\u0000${s.section}`;
      if (!this.bySection.has(key)) this.bySection.set(key, doc);
    });
    this.averageLength = this.lengths.reduce((a, b) => a + b, 0) / Math.max(this.lengths.length, 1);
    this.laws = [...new Set(sections.map((s) => s.law))].sort();
  }

  /** Reads every section of a committed corpus version from the blob store. */
  static async open(store: BlobStore, hash: string, manifest: Manifest): Promise<StatuteIndex> {
    const sections: Section[] = [];
    for await (const { samples } of readVersionSamples(store, hash, manifest))
      for (const sample of samples) {
        const section = sectionOf(sample);
        if (section) sections.push(section);
      }
    return new StatuteIndex(sections);
  }

  /** The `k` best sections for `query` by BM25 (ties in corpus order), of law `law` only when given. */
  search(query: string, k: number, law?: string): SearchHit[] {
    const wanted = law === undefined ? undefined : this.matchLaw(law);
    const n = this.sections.length;
    const scores = new Map<number, number>();
    for (const term of new Set(terms(query))) {
      const list = this.postings.get(term);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5));
      for (const { doc, tf } of list) {
        const norm = tf + K1 * (1 - B + (B * (this.lengths[doc] as number)) / (this.averageLength || 1));
        scores.set(doc, (scores.get(doc) ?? 0) + (idf * tf * (K1 + 1)) / norm);
      }
    }
    return [...scores]
      .filter(([doc]) => wanted === undefined || this.sections[doc]?.law === wanted)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .slice(0, k)
      .map(([doc, score]) => ({ ...(this.sections[doc] as Section), score }));
  }

  /** The section `section` of law `law` (a law named exactly, or the one law whose name contains it). */
  lookup(law: string, section: string | number): Section | undefined {
    const name = this.matchLaw(law);
    if (name === undefined) return undefined;
    const doc = this.bySection.get(`${name}\u0000${normalizeSection(section)}`);
    return doc === undefined ? undefined : this.sections[doc];
  }

  /** The corpus's name for `law`: equal after normalization, else the only name containing it. */
  matchLaw(law: string): string | undefined {
    const wanted = normalizeLaw(law);
    if (this.laws.includes(wanted)) return wanted;
    const containing = this.laws.filter((name) => wanted !== "" && name.includes(wanted));
    return containing.length === 1 ? containing[0] : undefined;
  }
}
