/**
 * @module Thai segmentation: words and sentences with `Intl.Segmenter("th")` (ICU's dictionary-based Thai
 * break iterator), and Thai character clusters (TCC), the smallest units that never split a syllable's
 * marks from its consonant, for shingling.
 */

const wordSegmenter = new Intl.Segmenter("th", { granularity: "word" });
const sentenceSegmenter = new Intl.Segmenter("th", { granularity: "sentence" });

/** Words (segments with letters or digits), in order. Never whitespace splitting: Thai has no spaces between words. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const s of wordSegmenter.segment(text)) if (s.isWordLike) out.push(s.segment);
  return out;
}

/** All segments, punctuation and spaces included, so `segments(t).join("") === t`. */
export function segments(text: string): string[] {
  return Array.from(wordSegmenter.segment(text), (s) => s.segment);
}

export function sentences(text: string): string[] {
  return Array.from(sentenceSegmenter.segment(text), (s) => s.segment.trim()).filter((s) => s.length > 0);
}

/**
 * The TCC grammar of Theeramunkong et al. (2000), as written out by Jitkrittum and ported in PyThaiNLP:
 * c = consonant, t = optional tone mark, k = optional final consonant(s) with Thanthakhat.
 */
const TCC_RULES = [
  "เc็ck",
  "เcctาะk",
  "เccีtยะk",
  "เccีtย(?=[เ-ไก-ฮ]|$)k",
  "เcc็ck",
  "เcิc์ck",
  "เcิtck",
  "เcีtยะ?k",
  "เcืtอะ?k",
  "เc[ิีุู]tย(?=[เ-ไก-ฮ]|$)",
  "เctา?ะ?k",
  "cัtวะk",
  "c[ัื]tc[ุิะ]?k",
  "c[ิุู]์",
  "c[ะ-ู]tk",
  "cรรc์",
  "c็",
  "ct[ะาำ]?k",
  "ck",
  "แc็c",
  "แcc์",
  "แctะ",
  "แcc็c",
  "แccc์",
  "โctะ",
  "[เ-ไ]ct",
  "ก็",
  "อึ",
  "หึ",
].map((rule) => rule.replaceAll("k", "(?:cc?[ุิ]?[์])?").replaceAll("c", "[ก-ฮ]").replaceAll("t", "[่-๋]?"));
const TCC = new RegExp(TCC_RULES.join("|"), "y");

/** Thai character clusters; characters outside any rule (Latin, digits, spaces) come out one by one. */
export function thaiCharacterClusters(text: string): string[] {
  const out: string[] = [];
  let p = 0;
  while (p < text.length) {
    TCC.lastIndex = p;
    const m = TCC.exec(text);
    const n = m && m[0].length > 0 ? m[0].length : 1;
    out.push(text.slice(p, p + n));
    p += n;
  }
  return out;
}
