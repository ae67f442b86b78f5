/**
 * @module The legal reward, for prompts whose ground truth is `{label, articles}` (thai-legal-rl-prompts: the
 * Criminal Code sections the court applied, and whether the defendant was found guilty).
 *
 * The prompt asks the model to end with one JSON line `{"articles": [...], "label": true|false}`; the
 * prediction is the last `{…}` in the answer that parses as JSON with an `articles` list or a `label`. No such
 * object scores 0: the format is part of the task. Otherwise
 *
 *   reward = w · [label = gold label] + (1 − w) · F1(predicted sections, gold sections)
 *
 * with w = `labelWeight` (default 0.5); when the ground truth has only one of the two, that part is the whole
 * reward. F1 is over sets of section labels, both normalized: NFC, Thai digits to Arabic, a leading `มาตรา`
 * dropped, a space between the number and a Pali ordinal (`335ทวิ` → `335 ทวิ`), spaces collapsed; numbers
 * given as JSON numbers count as their decimal text. Two empty sets match fully.
 */
import { thaiDigitsToArabic } from "@sovereign/thai";
import { bagF1 } from "./answer";

export type LegalTruth = { label?: boolean; articles?: string[] };

export type LegalDetail = {
  /** The prediction found, or null when the answer holds none. */
  predicted: { label?: boolean; articles?: string[] } | null;
  labelMatch?: boolean;
  articlesF1?: number;
};

export const DEFAULT_LABEL_WEIGHT = 0.5;

export function normalizeSection(section: string | number): string {
  return thaiDigitsToArabic(String(section).normalize("NFC"))
    .replace(/^\s*มาตรา/u, "")
    .replace(/(\d)\s*(?=[\u0e01-\u0e4e])/gu, "$1 ")
    .replace(/\s+/g, " ")
    .trim();
}

/** The last JSON object in `answer` with an `articles` list or a boolean `label`. */
export function findLegalPrediction(answer: string): LegalDetail["predicted"] {
  const candidates = answer.match(/\{[^{}]*\}/g) ?? [];
  for (let i = candidates.length - 1; i >= 0; i--) {
    let value: unknown;
    try {
      value = JSON.parse(thaiDigitsToArabic(candidates[i] as string));
    } catch {
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    const { label, articles } = value as Record<string, unknown>;
    const list = Array.isArray(articles)
      ? articles.filter((a): a is string | number => typeof a === "string" || typeof a === "number")
      : undefined;
    if (typeof label !== "boolean" && list === undefined) continue;
    return {
      ...(typeof label === "boolean" ? { label } : {}),
      ...(list === undefined ? {} : { articles: list.map(normalizeSection) }),
    };
  }
  return null;
}

function setF1(predicted: readonly string[], gold: readonly string[]): number {
  return bagF1([...new Set(predicted)], [...new Set(gold)]);
}

export function scoreLegal(
  answer: string,
  truth: LegalTruth,
  labelWeight = DEFAULT_LABEL_WEIGHT,
): { reward: number; detail: LegalDetail } {
  const predicted = findLegalPrediction(answer);
  if (!predicted) return { reward: 0, detail: { predicted: null } };
  const detail: LegalDetail = { predicted };
  if (truth.label !== undefined) detail.labelMatch = predicted.label === truth.label;
  if (truth.articles !== undefined)
    detail.articlesF1 = setF1(predicted.articles ?? [], truth.articles.map(normalizeSection));
  const label = detail.labelMatch === undefined ? undefined : detail.labelMatch ? 1 : 0;
  const articles = detail.articlesF1;
  const reward =
    label === undefined
      ? (articles as number)
      : articles === undefined
        ? label
        : labelWeight * label + (1 - labelWeight) * articles;
  return { reward, detail };
}
