/**
 * @module Answer matching for Thai and English: normalized exact match and token F1 over Thai word segments,
 * SQuAD's metrics with Thai segmentation.
 *
 * The normalization, in order: `normalizeThai` (NFC, zero-width characters removed, whitespace unified, Thai
 * vowel and tone-mark order repaired), Thai digits ๐–๙ to 0–9, lower case, every punctuation and symbol
 * character (Unicode P and S) replaced by a space, the English articles a/an/the dropped as words (as SQuAD
 * does), and runs of whitespace collapsed to one space, trimmed. Tokens are the word-like segments of
 * `words()` (ICU's Thai dictionary break iterator) of the normalized text.
 */
import { normalizeThai, thaiDigitsToArabic, words } from "@sovereign/thai";

const PUNCTUATION_OR_SYMBOL = /[\p{P}\p{S}]/gu;
const ARTICLES = /\b(?:a|an|the)\b/g;

export function normalizeAnswer(text: string): string {
  return thaiDigitsToArabic(normalizeThai(text))
    .toLowerCase()
    .replace(PUNCTUATION_OR_SYMBOL, " ")
    .replace(ARTICLES, " ")
    .replace(/\s+/g, " ")
    .trim();
}

export function answerTokens(text: string): string[] {
  return words(normalizeAnswer(text));
}

export function exactMatch(prediction: string, reference: string): boolean {
  return normalizeAnswer(prediction) === normalizeAnswer(reference);
}

/** F1 of two token bags (counts matter, order does not); two empty bags match fully. */
export function bagF1(predicted: readonly string[], reference: readonly string[]): number {
  if (predicted.length === 0 || reference.length === 0) return predicted.length === reference.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of reference) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of predicted) {
    const left = counts.get(t) ?? 0;
    if (left > 0) {
      common++;
      counts.set(t, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predicted.length;
  const recall = common / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

export function tokenF1(prediction: string, reference: string): number {
  return bagF1(answerTokens(prediction), answerTokens(reference));
}
