/**
 * @module Script statistics: what share of a text's letters are Thai, Latin, CJK or other. Filters use it
 * for language bounds and to catch code-switching (a teacher model slipping Chinese into a Thai answer).
 */

export type ScriptStats = {
  /** Letters counted (Thai vowels and marks count as Thai letters; digits, punctuation, emoji do not). */
  letters: number;
  thai: number;
  latin: number;
  cjk: number;
  other: number;
  /** Shares of `letters` (0 when there are no letters). */
  share: { thai: number; latin: number; cjk: number; other: number };
};

const LETTER = /[\p{L}\p{M}]/u;
const THAI = /\p{Script=Thai}/u;
const LATIN = /\p{Script=Latin}/u;
/** Han, kana and Hangul: the scripts of Chinese, Japanese and Korean. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3005\u30fc]/u;
export const CJK_CHARACTER = new RegExp(CJK.source, "u");

export function scriptStats(text: string): ScriptStats {
  let letters = 0;
  let thai = 0;
  let latin = 0;
  let cjk = 0;
  for (const ch of text) {
    if (!LETTER.test(ch) && !CJK.test(ch)) continue;
    letters++;
    if (THAI.test(ch)) thai++;
    else if (LATIN.test(ch)) latin++;
    else if (CJK.test(ch)) cjk++;
  }
  const other = letters - thai - latin - cjk;
  const share = (n: number) => (letters === 0 ? 0 : n / letters);
  return {
    letters,
    thai,
    latin,
    cjk,
    other,
    share: { thai: share(thai), latin: share(latin), cjk: share(cjk), other: share(other) },
  };
}

/** True when any Han, kana or Hangul character occurs. */
export function containsCjk(text: string): boolean {
  return CJK_CHARACTER.test(text);
}
