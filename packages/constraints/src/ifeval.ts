/**
 * @module The 25 instruction types of Google's IFEval, under IFEval's ids and parameter names, with its
 * verifier semantics ("less than" strict, "at least" inclusive, bullet counts exact, ...). Departures, all
 * so that a Thai response is judged fairly and nothing a prompt carries is ever executed:
 * words and sentences of a text with Thai letters come from the Thai segmenter (see `text.ts`); keywords
 * are matched as literal text, never as regular expressions; `forbidden_words` matches a Thai word as a
 * substring (JavaScript's `\b` knows only ASCII word characters, and Thai has no spaces to bound a word);
 * language detection is a deterministic rule-based detector instead of `langdetect`.
 */
import { words as thaiWords } from "@sovereign/thai";
import { z } from "zod";
import {
  countOccurrences,
  countSentences,
  countWords,
  detectLanguage,
  escapeRegExp,
  hasThai,
  isLower,
  isUpper,
} from "./text";
import {
  type ConstraintType,
  count,
  countVerdict,
  defineConstraint,
  ifevalRelation,
  nonBlank,
  positiveCount,
  RELATION_TH,
  type Verdict,
} from "./types";

const BOTH = { th: true, en: true };
const ENGLISH_ONLY = { th: false, en: true };
const NO_PARAMS = z.strictObject({});
const verdict = (pass: boolean, detail: string): Verdict => ({ pass, detail });

/** The names IFEval gives its language codes, in English and Thai. */
export const LANGUAGE_NAMES: Record<string, { en: string; th: string }> = {
  en: { en: "English", th: "ภาษาอังกฤษ" },
  es: { en: "Spanish", th: "ภาษาสเปน" },
  pt: { en: "Portuguese", th: "ภาษาโปรตุเกส" },
  ar: { en: "Arabic", th: "ภาษาอาหรับ" },
  hi: { en: "Hindi", th: "ภาษาฮินดี" },
  fr: { en: "French", th: "ภาษาฝรั่งเศส" },
  ru: { en: "Russian", th: "ภาษารัสเซีย" },
  de: { en: "German", th: "ภาษาเยอรมัน" },
  ja: { en: "Japanese", th: "ภาษาญี่ปุ่น" },
  it: { en: "Italian", th: "ภาษาอิตาลี" },
  bn: { en: "Bengali", th: "ภาษาเบงกาลี" },
  uk: { en: "Ukrainian", th: "ภาษายูเครน" },
  th: { en: "Thai", th: "ภาษาไทย" },
  ur: { en: "Urdu", th: "ภาษาอูรดู" },
  ta: { en: "Tamil", th: "ภาษาทมิฬ" },
  te: { en: "Telugu", th: "ภาษาเตลูกู" },
  bg: { en: "Bulgarian", th: "ภาษาบัลแกเรีย" },
  ko: { en: "Korean", th: "ภาษาเกาหลี" },
  pl: { en: "Polish", th: "ภาษาโปแลนด์" },
  he: { en: "Hebrew", th: "ภาษาฮีบรู" },
  fa: { en: "Persian", th: "ภาษาเปอร์เซีย" },
  vi: { en: "Vietnamese", th: "ภาษาเวียดนาม" },
  ne: { en: "Nepali", th: "ภาษาเนปาล" },
  sw: { en: "Swahili", th: "ภาษาสวาฮีลี" },
  kn: { en: "Kannada", th: "ภาษากันนาดา" },
  mr: { en: "Marathi", th: "ภาษามราฐี" },
  gu: { en: "Gujarati", th: "ภาษาคุชราต" },
  pa: { en: "Punjabi", th: "ภาษาปัญจาบ" },
  ml: { en: "Malayalam", th: "ภาษามาลายาลัม" },
  fi: { en: "Finnish", th: "ภาษาฟินแลนด์" },
};

const languageName = (code: string, lang: "en" | "th") => LANGUAGE_NAMES[code]?.[lang] ?? code;

const CASE_IDS = [
  "change_case:english_lowercase",
  "change_case:english_capital",
  "change_case:capital_word_frequency",
];
/** Types that fix the whole shape of the response, so most other format constraints cannot also hold. */
const WHOLE_SHAPE = [
  "detectable_format:json_format",
  "detectable_format:constrained_response",
  "combination:two_responses",
  "combination:repeat_prompt",
];

const responseLanguage = defineConstraint({
  id: "language:response_language",
  params: z.strictObject({ language: z.enum(Object.keys(LANGUAGE_NAMES) as [string, ...string[]]) }),
  verify(response, { language }) {
    const found = detectLanguage(response);
    // IFEval counts a response langdetect cannot classify (no letters) as following the instruction.
    if (found === undefined) return verdict(true, "no letters to detect a language from");
    return verdict(found === language, `detected ${found}, need ${language}`);
  },
  describe: {
    en: [
      (p) =>
        `Your ENTIRE response should be in ${languageName(p.language, "en")} language, no other language is allowed.`,
      (p) => `Respond only in ${languageName(p.language, "en")}.`,
      (p) => `Write your whole answer in ${languageName(p.language, "en")} and no other language.`,
    ],
    th: [
      (p) => `ตอบทั้งหมดเป็น${languageName(p.language, "th")}เท่านั้น ห้ามใช้ภาษาอื่น`,
      (p) => `คำตอบทั้งหมดต้องเขียนเป็น${languageName(p.language, "th")}`,
      (p) => `กรุณาใช้${languageName(p.language, "th")}ตลอดทั้งคำตอบ`,
    ],
  },
  languages: BOTH,
  conflicts: [...CASE_IDS, "thai:thai_script"],
});

const numberSentences = defineConstraint({
  id: "length_constraints:number_sentences",
  params: z.strictObject({ num_sentences: count, relation: ifevalRelation }),
  verify: (r, p) => countVerdict(countSentences(r), p.relation, p.num_sentences, "sentences"),
  describe: {
    en: [
      (p) => `Your response should contain ${p.relation} ${p.num_sentences} sentences.`,
      (p) => `Answer in ${p.relation} ${p.num_sentences} sentences.`,
    ],
    th: [
      (p) => `คำตอบต้องมี${RELATION_TH[p.relation]} ${p.num_sentences} ประโยค`,
      (p) => `ตอบโดยใช้${RELATION_TH[p.relation]} ${p.num_sentences} ประโยค`,
    ],
  },
  languages: BOTH,
  conflicts: ["thai:sentence_count", "detectable_format:constrained_response"],
});

const numberWords = defineConstraint({
  id: "length_constraints:number_words",
  params: z.strictObject({ num_words: count, relation: ifevalRelation }),
  verify: (r, p) => countVerdict(countWords(r), p.relation, p.num_words, "words"),
  describe: {
    en: [
      (p) => `Answer with ${p.relation} ${p.num_words} words.`,
      (p) => `Your response should be ${p.relation} ${p.num_words} words long.`,
    ],
    th: [
      (p) => `ตอบโดยใช้คำ${RELATION_TH[p.relation]} ${p.num_words} คำ`,
      (p) => `ความยาวของคำตอบต้อง${RELATION_TH[p.relation]} ${p.num_words} คำ`,
    ],
  },
  languages: BOTH,
  conflicts: ["thai:word_count", "detectable_format:constrained_response"],
});

const numberParagraphs = defineConstraint({
  id: "length_constraints:number_paragraphs",
  params: z.strictObject({ num_paragraphs: positiveCount }),
  verify(response, { num_paragraphs }) {
    const parts = response.split(/\s?\*\*\*\s?/);
    let n = parts.length;
    for (const [i, part] of parts.entries()) {
      if (part.trim()) continue;
      if (i === 0 || i === parts.length - 1) n--;
      else return verdict(false, `paragraph ${i + 1} between *** dividers is empty`);
    }
    return verdict(n === num_paragraphs, `${n} paragraphs separated by ***, need ${num_paragraphs}`);
  },
  describe: {
    en: [
      (p) =>
        `There should be ${p.num_paragraphs} paragraphs. Paragraphs are separated with the markdown divider: ***`,
      (p) => `Write exactly ${p.num_paragraphs} paragraphs, separating them with ***.`,
    ],
    th: [
      (p) => `ตอบเป็น ${p.num_paragraphs} ย่อหน้าพอดี โดยคั่นแต่ละย่อหน้าด้วยเครื่องหมาย ***`,
      (p) => `คำตอบต้องมี ${p.num_paragraphs} ย่อหน้า และใช้ *** คั่นระหว่างย่อหน้า`,
    ],
  },
  languages: BOTH,
  conflicts: ["length_constraints:nth_paragraph_first_word", ...WHOLE_SHAPE],
});

const nthParagraphFirstWord = defineConstraint({
  id: "length_constraints:nth_paragraph_first_word",
  params: z
    .strictObject({ num_paragraphs: positiveCount, nth_paragraph: positiveCount, first_word: nonBlank })
    .refine((p) => p.nth_paragraph <= p.num_paragraphs, {
      path: ["nth_paragraph"],
      message: "must not exceed num_paragraphs",
    }),
  verify(response, p) {
    const parts = response.split("\n\n");
    const n = parts.filter((x) => x.trim()).length;
    const target = p.nth_paragraph <= n ? parts[p.nth_paragraph - 1]?.trim() : undefined;
    if (!target) return verdict(false, `${n} paragraphs, no non-empty paragraph ${p.nth_paragraph}`);
    const first = firstWord(target);
    const want = p.first_word.toLowerCase();
    return verdict(
      n === p.num_paragraphs && first === want,
      `${n} paragraphs (need ${p.num_paragraphs}); paragraph ${p.nth_paragraph} starts with "${first}", need "${want}"`,
    );
  },
  describe: {
    en: [
      (p) =>
        `There should be ${p.num_paragraphs} paragraphs. Paragraphs and only paragraphs are separated with each other by two new lines. Paragraph ${p.nth_paragraph} must start with word ${p.first_word}.`,
      (p) =>
        `Write ${p.num_paragraphs} paragraphs separated by blank lines; begin paragraph ${p.nth_paragraph} with the word "${p.first_word}".`,
    ],
    th: [
      (p) =>
        `ตอบเป็น ${p.num_paragraphs} ย่อหน้า คั่นย่อหน้าด้วยบรรทัดว่างหนึ่งบรรทัด และย่อหน้าที่ ${p.nth_paragraph} ต้องขึ้นต้นด้วยคำว่า "${p.first_word}"`,
      (p) =>
        `เขียน ${p.num_paragraphs} ย่อหน้า (เว้นบรรทัดระหว่างย่อหน้า) โดยเริ่มย่อหน้าที่ ${p.nth_paragraph} ด้วย "${p.first_word}"`,
    ],
  },
  languages: BOTH,
  conflicts: ["length_constraints:number_paragraphs", ...WHOLE_SHAPE],
});

/**
 * IFEval's first word: up to the first whitespace, leading quotes dropped, cut at the first punctuation
 * mark, lower-cased. Thai has no space after a word, so a Thai paragraph's first word is the segmenter's.
 */
function firstWord(paragraph: string): string {
  const token = (paragraph.split(/\s+/)[0] ?? "").replace(/^['"]+/, "");
  const cut = token.search(/[.,?!'"]/);
  const word = (cut < 0 ? token : token.slice(0, cut)).toLowerCase();
  if (!hasThai(word)) return word;
  return thaiWords(word)[0] ?? "";
}

const placeholders = defineConstraint({
  id: "detectable_content:number_placeholders",
  params: z.strictObject({ num_placeholders: count }),
  verify(response, { num_placeholders }) {
    const n = response.match(/\[[^\]\n]*?\]/g)?.length ?? 0;
    return countVerdict(n, "at least", num_placeholders, "placeholders in [square brackets]");
  },
  describe: {
    en: [
      (p) =>
        `The response must contain at least ${p.num_placeholders} placeholders represented by square brackets, such as [address].`,
      (p) => `Include at least ${p.num_placeholders} placeholders in square brackets, like [name].`,
    ],
    th: [
      (p) => `คำตอบต้องมีช่องว่างสำหรับเติมข้อมูลอย่างน้อย ${p.num_placeholders} แห่ง โดยเขียนในวงเล็บเหลี่ยม เช่น [ที่อยู่]`,
      (p) => `ใส่ตัวยึดตำแหน่งในวงเล็บเหลี่ยมอย่างน้อย ${p.num_placeholders} จุด เช่น [ชื่อ]`,
    ],
  },
  languages: BOTH,
  conflicts: ["detectable_format:constrained_response"],
});

const postscript = defineConstraint({
  id: "detectable_content:postscript",
  params: z.strictObject({ postscript_marker: nonBlank }),
  verify(response, { postscript_marker }) {
    const marker = postscript_marker.trim();
    const pattern =
      marker === "P.P.S"
        ? /^\s*p\.\s?p\.\s?s/m
        : marker === "P.S."
          ? /^\s*p\.\s?s\./m
          : new RegExp(`^\\s*${escapeRegExp(marker.toLowerCase())}`, "mu");
    const pass = pattern.test(response.toLowerCase());
    return verdict(pass, pass ? `a line starts with ${marker}` : `no line starts with ${marker}`);
  },
  describe: {
    en: [
      (p) =>
        `At the end of your response, please explicitly add a postscript starting with ${p.postscript_marker}`,
      (p) => `Finish with a postscript that begins with "${p.postscript_marker}".`,
    ],
    th: [
      (p) => `ท้ายคำตอบให้เพิ่มปัจฉิมลิขิตที่ขึ้นต้นด้วย ${p.postscript_marker}`,
      (p) => `ปิดท้ายด้วยข้อความเพิ่มเติมที่เริ่มด้วย "${p.postscript_marker}"`,
    ],
  },
  languages: BOTH,
  conflicts: [
    "detectable_format:json_format",
    "detectable_format:constrained_response",
    "startend:quotation",
  ],
});

const constrainedResponse = defineConstraint({
  id: "detectable_format:constrained_response",
  params: NO_PARAMS,
  verify(response) {
    const options = ["My answer is yes.", "My answer is no.", "My answer is maybe."];
    const hit = options.find((o) => response.trim().includes(o));
    return verdict(hit !== undefined, hit ? `contains "${hit}"` : "none of the three options occurs");
  },
  describe: {
    en: [
      () =>
        `Answer with one of the following options: ("My answer is yes.", "My answer is no.", "My answer is maybe.")`,
      () => `Reply with exactly one of: My answer is yes. / My answer is no. / My answer is maybe.`,
    ],
    th: [
      () =>
        `ตอบด้วยตัวเลือกใดตัวเลือกหนึ่งต่อไปนี้เท่านั้น (ภาษาอังกฤษตามตัวอักษร): "My answer is yes.", "My answer is no.", "My answer is maybe."`,
      () => `ให้ตอบเพียงประโยคเดียวจาก "My answer is yes.", "My answer is no." หรือ "My answer is maybe."`,
    ],
  },
  languages: BOTH,
  conflicts: [
    "detectable_format:json_format",
    "combination:two_responses",
    "combination:repeat_prompt",
    "length_constraints:number_words",
    "length_constraints:number_sentences",
    "length_constraints:number_paragraphs",
    "length_constraints:nth_paragraph_first_word",
    "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
    "detectable_format:title",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "startend:end_checker",
    "language:response_language",
    // The three answers are matched case-sensitively, so an all-capitals or all-lowercase answer cannot hold one.
    "change_case:english_lowercase",
    "change_case:english_capital",
    "thai:thai_script",
    "thai:word_count",
    "thai:sentence_count",
    "thai:numbered_list",
    "thai:end_phrase",
  ],
});

const jsonFormat = defineConstraint({
  id: "detectable_format:json_format",
  params: NO_PARAMS,
  verify(response) {
    let body = response.trim();
    for (const fence of ["```json", "```Json", "```JSON", "```"]) {
      if (body.startsWith(fence)) {
        body = body.slice(fence.length);
        break;
      }
    }
    if (body.endsWith("```")) body = body.slice(0, -3);
    try {
      JSON.parse(body.trim());
      return verdict(true, "parses as JSON");
    } catch (e) {
      return verdict(false, `not JSON: ${(e as Error).message}`);
    }
  },
  describe: {
    en: [
      () => "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```.",
      () => "Your whole response must be valid JSON (a ``` code fence around it is allowed).",
    ],
    th: [
      () => "คำตอบทั้งหมดต้องอยู่ในรูปแบบ JSON (ครอบด้วย ``` ได้)",
      () => "ส่งผลลัพธ์ทั้งหมดเป็น JSON ที่ถูกต้อง ห้ามมีข้อความอื่นนอก JSON",
    ],
  },
  languages: BOTH,
  conflicts: [
    "detectable_format:title",
    "detectable_format:multiple_sections",
    "detectable_format:number_bullet_lists",
    "detectable_format:number_highlighted_sections",
    "detectable_content:postscript",
    "length_constraints:number_paragraphs",
    "length_constraints:nth_paragraph_first_word",
    "startend:quotation",
    "startend:end_checker",
    "combination:two_responses",
    "combination:repeat_prompt",
    "detectable_format:constrained_response",
    "thai:end_phrase",
    "thai:numbered_list",
    "thai:sentence_separator",
  ],
});

const multipleSections = defineConstraint({
  id: "detectable_format:multiple_sections",
  params: z.strictObject({ section_spliter: nonBlank, num_sections: count }),
  verify(response, p) {
    const splitter = p.section_spliter.trim();
    const n = response.split(new RegExp(`\\s?${escapeRegExp(splitter)}\\s?[0-9๐-๙]+\\s?`, "u")).length - 1;
    return countVerdict(n, "at least", p.num_sections, `sections marked "${splitter} N"`);
  },
  describe: {
    en: [
      (p) =>
        `Your response must have ${p.num_sections} sections. Mark the beginning of each section with ${p.section_spliter} X, such as: ${p.section_spliter} 1`,
      (p) =>
        `Split your answer into ${p.num_sections} sections, each headed "${p.section_spliter} 1", "${p.section_spliter} 2", and so on.`,
    ],
    th: [
      (p) =>
        `คำตอบต้องมี ${p.num_sections} ส่วน โดยขึ้นต้นแต่ละส่วนด้วย ${p.section_spliter} ตามด้วยหมายเลข เช่น ${p.section_spliter} 1`,
      (p) =>
        `แบ่งคำตอบเป็น ${p.num_sections} ส่วน ใช้หัวข้อ "${p.section_spliter} 1", "${p.section_spliter} 2" ไปเรื่อย ๆ`,
    ],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format", "detectable_format:constrained_response"],
});

const bulletLists = defineConstraint({
  id: "detectable_format:number_bullet_lists",
  params: z.strictObject({ num_bullets: count }),
  verify(response, { num_bullets }) {
    const stars = response.match(/^[^\S\n]*\*[^*\n].*$/gm)?.length ?? 0;
    const dashes = response.match(/^[^\S\n]*-.*$/gm)?.length ?? 0;
    return countVerdict(stars + dashes, "exactly", num_bullets, "markdown bullet points");
  },
  describe: {
    en: [
      (p) =>
        `Your answer must contain exactly ${p.num_bullets} bullet points. Use the markdown bullet points such as:\n* This is point 1.\n* This is point 2`,
      (p) => `Give exactly ${p.num_bullets} markdown bullet points (lines starting with * or -).`,
    ],
    th: [
      (p) => `คำตอบต้องมีหัวข้อย่อยแบบ markdown จำนวน ${p.num_bullets} ข้อพอดี เช่น\n* ข้อที่หนึ่ง\n* ข้อที่สอง`,
      (p) => `เขียนเป็นรายการหัวข้อย่อย ${p.num_bullets} ข้อพอดี โดยขึ้นต้นแต่ละบรรทัดด้วย * หรือ -`,
    ],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format", "detectable_format:constrained_response"],
});

const highlightedSections = defineConstraint({
  id: "detectable_format:number_highlighted_sections",
  params: z.strictObject({ num_highlights: count }),
  verify(response, { num_highlights }) {
    let n = 0;
    for (const h of response.match(/\*[^\n*]*\*/g) ?? []) if (h.replace(/^\*+|\*+$/g, "").trim()) n++;
    for (const h of response.match(/\*\*[^\n*]*\*\*/g) ?? []) if (h.slice(2, -2).trim()) n++;
    return countVerdict(n, "at least", num_highlights, "highlighted sections");
  },
  describe: {
    en: [
      (p) =>
        `Highlight at least ${p.num_highlights} sections in your answer with markdown, i.e. *highlighted section*.`,
      (p) => `Use markdown to highlight at least ${p.num_highlights} parts of your answer, like *this*.`,
    ],
    th: [
      (p) => `เน้นข้อความอย่างน้อย ${p.num_highlights} ส่วนด้วย markdown เช่น *ส่วนที่เน้น*`,
      (p) => `ใช้เครื่องหมายดอกจันเน้นข้อความสำคัญอย่างน้อย ${p.num_highlights} แห่ง เช่น *ข้อความ*`,
    ],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format", "detectable_format:constrained_response"],
});

const title = defineConstraint({
  id: "detectable_format:title",
  params: NO_PARAMS,
  verify(response) {
    const found = (response.match(/<<[^\n]+>>/g) ?? []).find((t) =>
      t.replace(/^<+/, "").replace(/>+$/, "").trim(),
    );
    return verdict(found !== undefined, found ? `title ${found}` : "no title in <<double angular brackets>>");
  },
  describe: {
    en: [
      () => "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
      () => "Give your answer a title inside double angular brackets, e.g. <<my title>>.",
    ],
    th: [
      () => "คำตอบต้องมีชื่อเรื่องอยู่ในวงเล็บมุมคู่ เช่น <<บทกวีแห่งความสุข>>",
      () => "ตั้งชื่อเรื่องให้คำตอบ โดยเขียนไว้ใน << >> เช่น <<ชื่อเรื่อง>>",
    ],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format", "detectable_format:constrained_response"],
});

const existence = defineConstraint({
  id: "keywords:existence",
  params: z.strictObject({ keywords: z.array(nonBlank).min(1) }),
  verify(response, { keywords }) {
    const missing = keywords.filter((k) => countOccurrences(response, k) === 0);
    return verdict(
      missing.length === 0,
      missing.length ? `missing: ${missing.join(", ")}` : "all keywords present",
    );
  },
  describe: {
    en: [
      (p) => `Include keywords ${p.keywords.join(", ")} in the response.`,
      (p) => `Make sure your answer mentions: ${p.keywords.join(", ")}.`,
    ],
    th: [
      (p) => `คำตอบต้องมีคำสำคัญต่อไปนี้: ${p.keywords.join(", ")}`,
      (p) => `ต้องกล่าวถึงคำว่า ${p.keywords.map((k) => `"${k}"`).join(" ")} ในคำตอบ`,
    ],
  },
  languages: BOTH,
  conflicts: [],
});

const forbiddenWords = defineConstraint({
  id: "keywords:forbidden_words",
  params: z.strictObject({ forbidden_words: z.array(nonBlank).min(1) }),
  verify(response, { forbidden_words }) {
    const used = forbidden_words.filter((w) => containsWord(response, w));
    return verdict(used.length === 0, used.length ? `uses: ${used.join(", ")}` : "no forbidden word");
  },
  describe: {
    en: [
      (p) => `Do not include keywords ${p.forbidden_words.join(", ")} in the response.`,
      (p) => `Avoid the words ${p.forbidden_words.join(", ")} entirely.`,
    ],
    th: [
      (p) => `ห้ามใช้คำต่อไปนี้ในคำตอบ: ${p.forbidden_words.join(", ")}`,
      (p) => `คำตอบต้องไม่มีคำว่า ${p.forbidden_words.map((w) => `"${w}"`).join(" ")}`,
    ],
  },
  languages: BOTH,
  conflicts: [],
});

/** IFEval's `\bword\b`, with Unicode word characters; a Thai word has no spaces around it, so any occurrence counts. */
function containsWord(text: string, word: string): boolean {
  const w = word.trim();
  if (hasThai(w)) return countOccurrences(text, w) > 0;
  return new RegExp(`(?<![\\p{L}\\p{N}_])${escapeRegExp(w)}(?![\\p{L}\\p{N}_])`, "iu").test(text);
}

const frequency = defineConstraint({
  id: "keywords:frequency",
  params: z.strictObject({ keyword: nonBlank, frequency: count, relation: ifevalRelation }),
  verify: (r, p) =>
    countVerdict(countOccurrences(r, p.keyword.trim()), p.relation, p.frequency, `× "${p.keyword}"`),
  describe: {
    en: [
      (p) => `In your response, the word ${p.keyword} should appear ${p.relation} ${p.frequency} times.`,
      (p) => `Use the word "${p.keyword}" ${p.relation} ${p.frequency} times.`,
    ],
    th: [
      (p) => `ในคำตอบ ต้องมีคำว่า "${p.keyword}" ${RELATION_TH[p.relation]} ${p.frequency} ครั้ง`,
      (p) => `ใช้คำว่า "${p.keyword}" ${RELATION_TH[p.relation]} ${p.frequency} ครั้ง`,
    ],
  },
  languages: BOTH,
  conflicts: [],
});

const letterFrequency = defineConstraint({
  id: "keywords:letter_frequency",
  params: z.strictObject({
    letter: z.string().length(1),
    let_frequency: count,
    let_relation: ifevalRelation,
  }),
  verify(response, p) {
    const letter = p.letter.toLowerCase();
    let n = 0;
    for (const ch of response.toLowerCase()) if (ch === letter) n++;
    return countVerdict(n, p.let_relation, p.let_frequency, `× "${letter}"`);
  },
  describe: {
    en: [
      (p) =>
        `In your response, the letter ${p.letter} should appear ${p.let_relation} ${p.let_frequency} times.`,
      (p) =>
        `Make the letter "${p.letter}" appear ${p.let_relation} ${p.let_frequency} times in your answer.`,
    ],
    th: [
      (p) => `ในคำตอบ ตัวอักษร "${p.letter}" ต้องปรากฏ${RELATION_TH[p.let_relation]} ${p.let_frequency} ครั้ง`,
      (p) => `ใช้ตัวอักษร "${p.letter}" ${RELATION_TH[p.let_relation]} ${p.let_frequency} ครั้ง`,
    ],
  },
  languages: ENGLISH_ONLY,
  conflicts: [],
});

const englishIsEnglish = (response: string) => {
  const found = detectLanguage(response);
  return found === undefined || found === "en";
};

const englishCapital = defineConstraint({
  id: "change_case:english_capital",
  params: NO_PARAMS,
  verify(response) {
    if (!isUpper(response)) return verdict(false, "has lower-case letters or no cased letters");
    return verdict(
      englishIsEnglish(response),
      `all capitals; language ${detectLanguage(response) ?? "unknown"}`,
    );
  },
  describe: {
    en: [
      () => "Your entire response should be in English, and in all capital letters.",
      () => "Write your whole answer in English using only CAPITAL LETTERS.",
    ],
    th: [() => "ตอบเป็นภาษาอังกฤษทั้งหมด และใช้ตัวพิมพ์ใหญ่ทุกตัว", () => "คำตอบทั้งหมดต้องเป็นภาษาอังกฤษตัวพิมพ์ใหญ่ล้วน"],
  },
  languages: ENGLISH_ONLY,
  conflicts: [
    "change_case:english_lowercase",
    "change_case:capital_word_frequency",
    "language:response_language",
  ],
});

const englishLowercase = defineConstraint({
  id: "change_case:english_lowercase",
  params: NO_PARAMS,
  verify(response) {
    if (!isLower(response)) return verdict(false, "has capital letters or no cased letters");
    return verdict(
      englishIsEnglish(response),
      `all lower case; language ${detectLanguage(response) ?? "unknown"}`,
    );
  },
  describe: {
    en: [
      () =>
        "Your entire response should be in English, and in all lowercase letters. No capital letters are allowed.",
      () => "Answer in English using only lowercase letters.",
    ],
    th: [
      () => "ตอบเป็นภาษาอังกฤษทั้งหมด และใช้ตัวพิมพ์เล็กเท่านั้น ห้ามมีตัวพิมพ์ใหญ่",
      () => "คำตอบทั้งหมดต้องเป็นภาษาอังกฤษตัวพิมพ์เล็กล้วน",
    ],
  },
  languages: ENGLISH_ONLY,
  conflicts: [
    "change_case:english_capital",
    "change_case:capital_word_frequency",
    "language:response_language",
  ],
});

/** NLTK's `word_tokenize` keeps hyphenated words whole and splits off punctuation; this does the same for counting. */
const CAPITAL_TOKEN = /[\p{L}\p{N}]+(?:[-'][\p{L}\p{N}]+)*/gu;

const capitalWordFrequency = defineConstraint({
  id: "change_case:capital_word_frequency",
  params: z.strictObject({ capital_frequency: count, capital_relation: ifevalRelation }),
  verify(response, p) {
    const n = (response.match(CAPITAL_TOKEN) ?? []).filter(isUpper).length;
    return countVerdict(n, p.capital_relation, p.capital_frequency, "all-capital words");
  },
  describe: {
    en: [
      (p) =>
        `In your response, words with all capital letters should appear ${p.capital_relation} ${p.capital_frequency} times.`,
      (p) => `Use ${p.capital_relation} ${p.capital_frequency} words written in ALL CAPITALS.`,
    ],
    th: [
      (p) =>
        `ในคำตอบ ต้องมีคำภาษาอังกฤษที่เป็นตัวพิมพ์ใหญ่ทั้งคำ${RELATION_TH[p.capital_relation]} ${p.capital_frequency} คำ`,
      (p) =>
        `ใช้คำที่เขียนด้วยตัวพิมพ์ใหญ่ทั้งคำ (เช่น IMPORTANT) ${RELATION_TH[p.capital_relation]} ${p.capital_frequency} คำ`,
    ],
  },
  languages: ENGLISH_ONLY,
  conflicts: ["change_case:english_capital", "change_case:english_lowercase"],
});

const noComma = defineConstraint({
  id: "punctuation:no_comma",
  params: NO_PARAMS,
  verify(response) {
    const n = countOccurrences(response, ",");
    return verdict(n === 0, `${n} commas`);
  },
  describe: {
    en: [
      () => "In your entire response, refrain from the use of any commas.",
      () => "Do not use any commas in your answer.",
    ],
    th: [() => "ห้ามใช้เครื่องหมายจุลภาค (,) ในคำตอบทั้งหมด", () => "คำตอบต้องไม่มีเครื่องหมายจุลภาค (,) เลย"],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format"],
});

const endChecker = defineConstraint({
  id: "startend:end_checker",
  params: z.strictObject({ end_phrase: nonBlank }),
  verify(response, { end_phrase }) {
    const body = response
      .trim()
      .replace(/^"+|"+$/g, "")
      .toLowerCase();
    const want = end_phrase.trim().toLowerCase();
    return verdict(body.endsWith(want), `ends with "${body.slice(-want.length)}", need "${want}"`);
  },
  describe: {
    en: [
      (p) =>
        `Finish your response with this exact phrase ${p.end_phrase}. No other words should follow this phrase.`,
      (p) => `End your answer with the exact words "${p.end_phrase}" and nothing after them.`,
    ],
    th: [
      (p) => `จบคำตอบด้วยวลี "${p.end_phrase}" ตามตัวอักษร และห้ามมีข้อความใดต่อท้าย`,
      (p) => `ประโยคสุดท้ายของคำตอบต้องเป็น "${p.end_phrase}" ห้ามเขียนอะไรต่อจากนั้น`,
    ],
  },
  languages: BOTH,
  conflicts: ["thai:end_phrase", "detectable_format:json_format", "detectable_format:constrained_response"],
});

const quotation = defineConstraint({
  id: "startend:quotation",
  params: NO_PARAMS,
  verify(response) {
    const body = response.trim();
    return verdict(
      body.length > 1 && body.startsWith('"') && body.endsWith('"'),
      "wrapped in double quotes?",
    );
  },
  describe: {
    en: [
      () => "Wrap your entire response with double quotation marks.",
      () => 'Put your whole answer inside "double quotes".',
    ],
    th: [() => 'ครอบคำตอบทั้งหมดด้วยเครื่องหมายอัญประกาศคู่ ("...")', () => 'เริ่มและจบคำตอบด้วยเครื่องหมาย " '],
  },
  languages: BOTH,
  conflicts: ["detectable_format:json_format", "detectable_content:postscript", "combination:repeat_prompt"],
});

const twoResponses = defineConstraint({
  id: "combination:two_responses",
  params: NO_PARAMS,
  verify(response) {
    const parts = response.split("******");
    const valid: string[] = [];
    for (const [i, part] of parts.entries()) {
      if (part.trim()) valid.push(part.trim());
      else if (i !== 0 && i !== parts.length - 1)
        return verdict(false, "an empty response between ****** separators");
    }
    if (valid.length !== 2) return verdict(false, `${valid.length} responses separated by ******, need 2`);
    return verdict(
      valid[0] !== valid[1],
      valid[0] === valid[1] ? "the two responses are identical" : "two different responses",
    );
  },
  describe: {
    en: [
      () =>
        "Give two different responses. Responses and only responses should be separated by 6 asterisk symbols: ******.",
      () => "Write two different answers, separated by ****** and nothing else.",
    ],
    th: [
      () => "ให้คำตอบสองแบบที่ต่างกัน โดยคั่นระหว่างสองคำตอบด้วยดอกจัน 6 ตัว: ******",
      () => "ตอบสองคำตอบที่ไม่เหมือนกัน และใช้ ****** คั่นระหว่างคำตอบเท่านั้น",
    ],
  },
  languages: BOTH,
  conflicts: [
    "detectable_format:json_format",
    "detectable_format:constrained_response",
    "combination:repeat_prompt",
    "length_constraints:number_paragraphs",
    "length_constraints:nth_paragraph_first_word",
    "startend:quotation",
  ],
});

const repeatPrompt = defineConstraint({
  id: "combination:repeat_prompt",
  params: z.strictObject({ prompt_to_repeat: nonBlank }),
  verify(response, { prompt_to_repeat }) {
    const pass = response.trim().toLowerCase().startsWith(prompt_to_repeat.trim().toLowerCase());
    return verdict(pass, pass ? "starts with the request" : "does not start with the request word for word");
  },
  describe: {
    en: [
      () =>
        "First repeat the request word for word without change, then give your answer (1. do not say any words or characters before repeating the request; 2. the request you need to repeat does not include this sentence)",
      () => "Begin by copying the request exactly as written (not this sentence), then answer it.",
    ],
    th: [
      () => "ให้ทวนคำขอทุกคำโดยไม่เปลี่ยนแปลงก่อน แล้วจึงตอบ (ห้ามมีข้อความใดก่อนการทวนคำขอ และไม่ต้องทวนประโยคนี้)",
      () => "เริ่มคำตอบด้วยการคัดลอกคำขอตามตัวอักษร (ยกเว้นประโยคนี้) จากนั้นจึงตอบ",
    ],
  },
  languages: BOTH,
  conflicts: [
    "detectable_format:json_format",
    "detectable_format:constrained_response",
    "combination:two_responses",
    "startend:quotation",
    ...CASE_IDS,
  ],
});

export const IFEVAL_TYPES: ConstraintType[] = [
  responseLanguage,
  numberSentences,
  numberWords,
  numberParagraphs,
  nthParagraphFirstWord,
  placeholders,
  postscript,
  constrainedResponse,
  jsonFormat,
  multipleSections,
  bulletLists,
  highlightedSections,
  title,
  existence,
  forbiddenWords,
  frequency,
  letterFrequency,
  englishCapital,
  englishLowercase,
  capitalWordFrequency,
  noComma,
  endChecker,
  quotation,
  twoResponses,
  repeatPrompt,
];
