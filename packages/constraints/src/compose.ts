/**
 * @module Composes constrained prompts for AutoIF: from a seed query and a seed, picks compatible constraint
 * types by weight, gives them parameters, phrases them in Thai or English and places them in the user turn
 * or a system prompt. Pure and deterministic: the same query and seed always give the same prompt.
 */
import { compatible, getConstraint, parseConstraint, registry } from "./registry";
import type { Constraint } from "./types";

export type PromptLanguage = "th" | "en";
/** Uniform in [0, 1), from the composer's seeded generator. */
export type Rng = () => number;
export type ParamContext = {
  query: SeedQuery;
  responseLanguage: PromptLanguage;
  /** Every id chosen for this prompt, so a generator can keep its parameters satisfiable beside the others. */
  chosen: readonly string[];
};
export type ParamGenerator = (rng: Rng, context: ParamContext) => unknown;

export type ComposeOptions = {
  /** With the query's id, decides everything: same inputs, same prompt. */
  seed: number | string;
  /** How many constraints to ask for, inclusive; default 1–3. Fewer when conflicts exhaust the eligible types. */
  constraints?: { min: number; max: number };
  /** Constraint id → sampling weight; every registered type defaults to 1, and 0 excludes a type. */
  weights?: Record<string, number>;
  /** Parameter generators by id, in place of the built-in ones; what they return must pass `parseConstraint`. */
  params?: Record<string, ParamGenerator>;
  /** Shares of prompts whose instructions are phrased in Thai and in English; default even. */
  instructionLanguage?: { th: number; en: number };
  /** Shares of prompts with the instructions merged into the user turn and given as a system prompt; default even. */
  placement?: { user: number; system: number };
  /** For English queries: also ask for the answer in Thai, and pick only constraints a Thai response can meet. */
  forceThaiAnswer?: boolean;
};

export type SeedQuery = { id: string; text: string; language: PromptLanguage; source: string };

export type ComposedPrompt = {
  messages: { role: "system" | "user"; content: string }[];
  /** In the order their instructions appear; each as `parseConstraint` returned it (defaults filled in). */
  constraints: Constraint[];
  meta: {
    seedId: string;
    source: string;
    templateId: string;
    placement: "user" | "system";
    instructionLanguage: PromptLanguage;
    responseLanguage: PromptLanguage;
    /** Per constraint, the index of its phrasing in `describe[instructionLanguage]`. */
    phrasing: number[];
  };
};

export type UserTemplate = {
  id: string;
  th: (query: string, instructions: readonly string[]) => string;
  en: (query: string, instructions: readonly string[]) => string;
};
export type SystemTemplate = {
  id: string;
  th: (instructions: readonly string[]) => string;
  en: (instructions: readonly string[]) => string;
};

// Thai sentences are separated by a space, not a full stop; English phrasings carry their own full stops.
const prose = (instructions: readonly string[]) => instructions.join(" ");
const bullets = (instructions: readonly string[]) => instructions.map((i) => `- ${i}`).join("\n");
const numbered = (instructions: readonly string[]) => instructions.map((i, n) => `${n + 1}. ${i}`).join("\n");

/** Ways of merging the instructions into the user turn; the wording around them follows the instruction language. */
export const USER_TEMPLATES: readonly UserTemplate[] = [
  { id: "after", th: (q, i) => `${q}\n\n${prose(i)}`, en: (q, i) => `${q}\n\n${prose(i)}` },
  { id: "before", th: (q, i) => `${prose(i)}\n\n${q}`, en: (q, i) => `${prose(i)}\n\n${q}` },
  {
    id: "requirements-block",
    th: (q, i) => `${q}\n\nข้อกำหนด:\n${bullets(i)}`,
    en: (q, i) => `${q}\n\nRequirements:\n${bullets(i)}`,
  },
  {
    id: "numbered-before",
    th: (q, i) => `โปรดปฏิบัติตามคำสั่งต่อไปนี้:\n${numbered(i)}\n\nคำถาม: ${q}`,
    en: (q, i) => `Please follow these instructions:\n${numbered(i)}\n\nTask: ${q}`,
  },
  {
    id: "note-after",
    th: (q, i) => `${q}\n\nหมายเหตุ: ${prose(i)}`,
    en: (q, i) => `${q}\n\nNote: ${prose(i)}`,
  },
  { id: "inline", th: (q, i) => `${q} (${prose(i)})`, en: (q, i) => `${q} (${prose(i)})` },
];

/** System prompts that carry the instructions while the user turn is the query alone. */
export const SYSTEM_TEMPLATES: readonly SystemTemplate[] = [
  {
    id: "system-list",
    th: (i) => `ในการตอบ ให้ปฏิบัติตามข้อกำหนดต่อไปนี้ทุกข้อ:\n${bullets(i)}`,
    en: (i) => `Follow every one of these requirements in your response:\n${bullets(i)}`,
  },
  {
    id: "system-prose",
    th: (i) => `คุณเป็นผู้ช่วยที่ตอบคำถามตามคำสั่งอย่างเคร่งครัด ${prose(i)}`,
    en: (i) => `You are an assistant that follows formatting instructions exactly. ${prose(i)}`,
  },
];

/** The instruction that asks an English query for a Thai answer, in the instruction language. */
export const THAI_ANSWER_INSTRUCTION: Record<PromptLanguage, readonly string[]> = {
  th: ["ตอบเป็นภาษาไทย", "กรุณาตอบคำถามนี้เป็นภาษาไทย"],
  en: ["Answer in Thai.", "Please write your answer in Thai."],
};

/**
 * `given` replaces the sampled constraints (e.g. those a model proposed, already parsed and compatible); the
 * phrasing, template and placement are chosen as for sampled ones.
 */
export function composePrompt(
  query: SeedQuery,
  options: ComposeOptions,
  given?: readonly Constraint[],
): ComposedPrompt {
  const rng = mulberry32(hash32(`${options.seed}\u0000${query.id}`));
  const { min, max } = options.constraints ?? { min: 1, max: 3 };
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || max < min)
    throw new Error(
      `compose options: constraints must be whole numbers with 0 <= min <= max, got ${min}–${max}`,
    );
  const forcedThai = options.forceThaiAnswer === true && query.language === "en";
  const responseLanguage: PromptLanguage = forcedThai ? "th" : query.language;

  const wanted = min + Math.floor(rng() * (max - min + 1));
  let constraints: Constraint[];
  if (given?.length) constraints = [...given];
  else {
    const ids = sampleTypes(rng, wanted, {
      weights: resolveWeights(options.weights),
      responseLanguage,
      forcedThai,
      query,
    });
    const context: ParamContext = { query, responseLanguage, chosen: ids };
    constraints = ids.map((id) => generateParams(id, rng, context, options.params?.[id]));
  }

  const instructionLanguage: PromptLanguage = share(
    rng,
    options.instructionLanguage ?? { th: 1, en: 1 },
    "th",
    "en",
  );
  const placement = share(rng, options.placement ?? { user: 1, system: 1 }, "user", "system");
  const phrasing = constraints.map((c) =>
    Math.floor(rng() * getConstraint(c.id).describe[instructionLanguage].length),
  );
  const instructions = constraints.map((c, i) =>
    (getConstraint(c.id).describe[instructionLanguage][phrasing[i] ?? 0] ?? missing(c.id))(c.params),
  );
  if (forcedThai) instructions.unshift(pick(rng, THAI_ANSWER_INSTRUCTION[instructionLanguage]));

  let templateId: string;
  let messages: ComposedPrompt["messages"];
  if (placement === "user") {
    const template = pick(rng, USER_TEMPLATES);
    templateId = template.id;
    messages = [{ role: "user", content: template[instructionLanguage](query.text, instructions) }];
  } else {
    const template = pick(rng, SYSTEM_TEMPLATES);
    templateId = template.id;
    messages = [
      { role: "system", content: template[instructionLanguage](instructions) },
      { role: "user", content: query.text },
    ];
  }
  return {
    messages,
    constraints,
    meta: {
      seedId: query.id,
      source: query.source,
      templateId,
      placement,
      instructionLanguage,
      responseLanguage,
      phrasing,
    },
  };
}

function missing(id: string): never {
  throw new Error(`constraint type ${id} has no phrasing at the chosen index`);
}

function resolveWeights(overrides: Record<string, number> | undefined): Map<string, number> {
  const weights = new Map([...registry.keys()].map((id) => [id, 1]));
  for (const [id, w] of Object.entries(overrides ?? {})) {
    if (!registry.has(id)) throw new Error(`compose options: weights names unknown constraint id "${id}"`);
    if (!Number.isFinite(w) || w < 0)
      throw new Error(`compose options: weight for "${id}" must be >= 0, got ${w}`);
    weights.set(id, w);
  }
  return weights;
}

/**
 * Weighted sampling without replacement: each pick removes the types it is incompatible with, so the result
 * is pairwise compatible; it stops early when no eligible type is left.
 */
function sampleTypes(
  rng: Rng,
  wanted: number,
  opts: {
    weights: Map<string, number>;
    responseLanguage: PromptLanguage;
    forcedThai: boolean;
    query: SeedQuery;
  },
): string[] {
  let pool = [...opts.weights].filter(
    ([id, w]) => w > 0 && getConstraint(id).languages[opts.responseLanguage] && fitsQuery(id, opts),
  );
  const chosen: string[] = [];
  while (chosen.length < wanted && pool.length > 0) {
    const total = pool.reduce((sum, [, w]) => sum + w, 0);
    const target = rng() * total;
    // Rounding can leave the running sum a hair under the target after the last weight; the last entry then takes it.
    let index = 0;
    for (let sum = pool[0]?.[1] ?? 0; sum <= target && index < pool.length - 1; sum += pool[index]?.[1] ?? 0)
      index++;
    const id = pool[index]?.[0];
    if (id === undefined) break;
    chosen.push(id);
    pool = pool.filter(
      ([other]) => other !== id && compatible(id, other) && !clashesWithRepeat(id, other, opts.query),
    );
  }
  return chosen;
}

/**
 * Repeating the request word for word cannot be asked of an English query that must be answered in Thai:
 * the copied English would break the Thai answer.
 */
function fitsQuery(id: string, opts: { forcedThai: boolean }): boolean {
  return !(opts.forcedThai && id === "combination:repeat_prompt");
}

/** The repeated request is part of the response, so it must not itself break a constraint on the whole text. */
function clashesWithRepeat(a: string, b: string, query: SeedQuery): boolean {
  if (a !== "combination:repeat_prompt" && b !== "combination:repeat_prompt") return false;
  const other = a === "combination:repeat_prompt" ? b : a;
  return other === "punctuation:no_comma" && /[,]/.test(query.text);
}

function generateParams(
  id: string,
  rng: Rng,
  context: ParamContext,
  custom: ParamGenerator | undefined,
): Constraint {
  const generator = custom ?? BUILT_IN_PARAMS[id];
  if (!generator) throw new Error(`no parameter generator for constraint type ${id}`);
  const params = generator(rng, context);
  const parsed = parseConstraint({ id, params: params as Record<string, unknown> });
  if (!parsed.ok)
    throw new Error(`${custom ? "custom" : "built-in"} parameter generator for ${parsed.error}`);
  return parsed.constraint;
}

function share<K extends string>(rng: Rng, shares: Record<K, number>, first: K, second: K): K {
  const a = shares[first];
  const b = shares[second];
  if (!(a >= 0 && b >= 0 && a + b > 0))
    throw new Error(`compose options: shares ${first}=${a}, ${second}=${b} must be >= 0 and not both 0`);
  return rng() * (a + b) < a ? first : second;
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error("pick from an empty list");
  return item;
}

const int = (rng: Rng, lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));

/** Pick `n` distinct items, in list order shuffled by `rng`. */
function some<T>(rng: Rng, items: readonly T[], n: number): T[] {
  const rest = [...items];
  const out: T[] = [];
  while (out.length < n && rest.length > 0) out.push(...rest.splice(Math.floor(rng() * rest.length), 1));
  return out;
}

/** FNV-1a over UTF-16 code units: a stable 32-bit seed from any string. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Generic words for keyword types, one disjoint list per role so that no prompt both requires and forbids a
 * word. None holds a digit or a polite particle, which digit and particle constraints could forbid; the Thai
 * first words are each a single word to the segmenter, as the paragraph verifier reads them.
 */
const WORDS = {
  required: {
    th: ["ตัวอย่าง", "สำคัญ", "ประโยชน์", "เหตุผล", "อนาคต", "วิธีการ"],
    en: ["example", "important", "benefit", "reason", "future", "method"],
  },
  repeated: { th: ["ข้อมูล", "เวลา", "ผู้คน", "แนวคิด"], en: ["data", "time", "people", "idea"] },
  forbidden: {
    th: ["แน่นอน", "อย่างไรก็ตาม", "โดยทั่วไป", "จริง ๆ"],
    en: ["very", "really", "basically", "actually", "thing"],
  },
  first: { th: ["สรุป", "ทั้งนี้", "สุดท้าย"], en: ["first", "however", "finally", "overall"] },
  closing: {
    th: ["หวังว่าจะเป็นประโยชน์", "หากมีข้อสงสัยสามารถสอบถามเพิ่มเติมได้", "ขอให้โชคดี"],
    en: [
      "Is there anything else I can help with?",
      "Let me know if you have additional questions.",
      "Hope this helps.",
    ],
  },
  include: ["ความรู้", "การพัฒนา", "สังคม", "ชีวิตประจำวัน"],
  avoid: ["ยังไง", "เยอะมาก", "สุดยอด", "ประมาณว่า"],
} as const;

const STRUCTURED = [
  "thai:numbered_list",
  "detectable_format:number_bullet_lists",
  "detectable_format:multiple_sections",
  "length_constraints:number_paragraphs",
  "length_constraints:nth_paragraph_first_word",
];

/** A word list's entries that do not occur in the query, so a forbidden word is not one the question needs. */
const absentFrom = (words: readonly string[], query: SeedQuery) =>
  words.filter((w) => !query.text.toLowerCase().includes(w.toLowerCase()));

/**
 * Parameters for every registered type, kept jointly satisfiable: length floors sit well under the ceilings
 * of any other length type, and counts stay small enough for an ordinary answer.
 */
export const BUILT_IN_PARAMS: Readonly<Record<string, ParamGenerator>> = {
  "language:response_language": (_, c) => ({ language: c.responseLanguage }),
  "length_constraints:number_sentences": (rng) =>
    rng() < 0.5
      ? { relation: "at least", num_sentences: int(rng, 2, 5) }
      : { relation: "less than", num_sentences: int(rng, 8, 15) },
  "length_constraints:number_words": (rng) =>
    rng() < 0.5
      ? { relation: "at least", num_words: 10 * int(rng, 5, 15) }
      : { relation: "less than", num_words: 50 * int(rng, 4, 8) },
  "length_constraints:number_paragraphs": (rng) => ({ num_paragraphs: int(rng, 2, 5) }),
  "length_constraints:nth_paragraph_first_word": (rng, c) => {
    const num_paragraphs = int(rng, 2, 4);
    return {
      num_paragraphs,
      nth_paragraph: int(rng, 1, num_paragraphs),
      first_word: pick(rng, WORDS.first[c.responseLanguage]),
    };
  },
  "detectable_content:number_placeholders": (rng) => ({ num_placeholders: int(rng, 1, 4) }),
  "detectable_content:postscript": (rng, c) => ({
    postscript_marker: pick(rng, c.responseLanguage === "th" ? ["ป.ล.", "P.S."] : ["P.S.", "P.P.S"]),
  }),
  "detectable_format:constrained_response": () => ({}),
  "detectable_format:json_format": () => ({}),
  // The splitter is matched case-sensitively, so it follows any letter-case constraint beside it.
  "detectable_format:multiple_sections": (rng, c) => ({
    section_spliter: pick(
      rng,
      c.responseLanguage === "th"
        ? ["ส่วนที่", "Section"]
        : c.chosen.includes("change_case:english_capital")
          ? ["SECTION", "PART"]
          : c.chosen.includes("change_case:english_lowercase")
            ? ["section", "part"]
            : ["Section", "Part"],
    ),
    num_sections: int(rng, 2, 5),
  }),
  "detectable_format:number_bullet_lists": (rng) => ({ num_bullets: int(rng, 2, 6) }),
  "detectable_format:number_highlighted_sections": (rng) => ({ num_highlights: int(rng, 1, 4) }),
  "detectable_format:title": () => ({}),
  "keywords:existence": (rng, c) => ({
    keywords: some(rng, WORDS.required[c.responseLanguage], int(rng, 1, 3)),
  }),
  "keywords:forbidden_words": (rng, c) => {
    const candidates = absentFrom(WORDS.forbidden[c.responseLanguage], c.query);
    return {
      forbidden_words: some(
        rng,
        candidates.length ? candidates : WORDS.forbidden[c.responseLanguage],
        int(rng, 1, 3),
      ),
    };
  },
  "keywords:frequency": (rng, c) => ({
    keyword: pick(rng, WORDS.repeated[c.responseLanguage]),
    ...(rng() < 0.5
      ? { relation: "at least", frequency: int(rng, 2, 4) }
      : { relation: "less than", frequency: int(rng, 2, 4) }),
  }),
  // Common letters are asked for at least, rare ones capped, as an ordinary English answer allows.
  "keywords:letter_frequency": (rng) =>
    rng() < 0.5
      ? {
          letter: pick(rng, ["e", "a", "o", "t", "s"]),
          let_relation: "at least",
          let_frequency: int(rng, 5, 15),
        }
      : { letter: pick(rng, ["z", "q", "x", "j"]), let_relation: "less than", let_frequency: int(rng, 2, 5) },
  "change_case:english_capital": () => ({}),
  "change_case:english_lowercase": () => ({}),
  "change_case:capital_word_frequency": (rng) =>
    rng() < 0.5
      ? { capital_relation: "at least", capital_frequency: int(rng, 2, 5) }
      : { capital_relation: "less than", capital_frequency: int(rng, 5, 10) },
  "punctuation:no_comma": () => ({}),
  "startend:end_checker": (rng, c) => ({ end_phrase: pick(rng, WORDS.closing[c.responseLanguage]) }),
  "startend:quotation": () => ({}),
  "combination:two_responses": () => ({}),
  "combination:repeat_prompt": (_, c) => ({ prompt_to_repeat: c.query.text }),
  "thai:word_count": (rng) =>
    rng() < 0.5
      ? { relation: "at least", num_words: 10 * int(rng, 3, 15) }
      : { relation: pick(rng, ["less than", "at most"]), num_words: 50 * int(rng, 4, 8) },
  // A list's items or paragraphs each end a sentence, so beside one an exact sentence count is not offered.
  "thai:sentence_count": (rng, c) => {
    const relation = pick(
      rng,
      c.chosen.some((id) => STRUCTURED.includes(id))
        ? ["at least", "at most"]
        : ["at least", "at most", "exactly"],
    );
    return { relation, num_sentences: relation === "at most" ? int(rng, 8, 12) : int(rng, 2, 5) };
  },
  // No "exactly": an exact character count is not a fair thing to ask of a writer.
  "thai:char_count": (rng) =>
    rng() < 0.5
      ? { relation: "at least", num_chars: 50 * int(rng, 2, 8) }
      : { relation: pick(rng, ["less than", "at most"]), num_chars: 500 * int(rng, 3, 6) },
  "thai:include_phrases": (rng) => ({
    phrases: some(rng, WORDS.include, int(rng, 1, 2)),
    min_count: int(rng, 1, 2),
  }),
  "thai:forbidden_phrases": (rng, c) => {
    const candidates = absentFrom(WORDS.avoid, c.query);
    return { phrases: some(rng, candidates.length ? candidates : WORDS.avoid, int(rng, 1, 3)) };
  },
  "thai:thai_digits_only": () => ({}),
  "thai:arabic_digits_only": () => ({}),
  "thai:end_phrase": (rng) => ({ end_phrase: pick(rng, WORDS.closing.th) }),
  "thai:sentence_separator": (rng) => ({ separator: pick(rng, ["|", "//"]), min_sentences: int(rng, 2, 5) }),
  "thai:thai_script": (rng) => ({ min_ratio: pick(rng, [0.8, 0.9, 0.95]) }),
  "thai:no_cjk": () => ({}),
  // A list numbered in one digit system must not be paired with a ban on that system.
  "thai:numbered_list": (rng, c) => {
    const styles = ["kho"];
    if (!c.chosen.includes("thai:arabic_digits_only")) styles.push("thai_digit");
    if (!c.chosen.includes("thai:thai_digits_only")) styles.push("arabic_digit");
    return { style: pick(rng, styles), num_items: int(rng, 3, 6) };
  },
  "thai:polite_particles": (rng) => ({ mode: rng() < 0.7 ? "required" : "forbidden" }),
};
