/**
 * @module The `krisdika-text` format: a consolidated law as the Office of the Council of State (Krisdika)
 * publishes it in plain text, cut into one text sample per section.
 *
 * A file holds more than the law. A code opens with the act or decree that promulgated it (with its own
 * `มาตรา ๑`…), sometimes a table of contents, and the Civil and Commercial Code interleaves the
 * promulgating acts of later books between them; after the last section come the transitional provisions
 * of every amending act (each again numbered from `มาตรา ๒`), annexed fee tables, editors' initials, and the
 * footnote block (`[๑] ราชกิจจานุเบกษา…`, `[๕๒] มาตรา ๓๙๘ แก้ไขเพิ่มเติมโดย…`). The text is hard-wrapped, so a
 * cross reference can put `มาตรา ๕๔` at the start of a line inside a section.
 *
 * What decides: sections and headings start a block (a run of non-blank lines after a blank one), which a
 * wrapped cross reference never does; a block titled as an instrument (`พระราชบัญญัติ…`, `พระราชกฤษฎีกา…`,
 * revolutionary orders…) that is not the law itself stops the law's sections until the law's own title or a
 * book/title/chapter heading comes back; annexes (`ตาราง ๑`, `บัญชีแนบท้าย…`), notes and signature blocks
 * end the section before them. A heading the source forgot to set off with a blank line still counts when a
 * section follows it. A section numbered below one already read is reported, not emitted: it means an
 * instrument went unnoticed.
 *
 * `meta.path` holds the enclosing `บรรพ`/`ภาค`/`ลักษณะ`/`หมวด`/`ส่วน` headings with their titles
 * (`หมวด ๑ ความผิดต่อชีวิต`), then the numbered and lettered parts some chapters have (`๑. บุริมสิทธิสามัญ`,
 * `(ก) บุริมสิทธิเหนือสังหาริมทรัพย์`).
 *
 * The sample text starts with the section's heading line as the source has it (`มาตรา ๒๖ …`, Thai digits
 * kept) so the corpus reads like the code, minus the heading's footnote markers. Whitespace is normalized
 * (no-break spaces as spaces, runs collapsed, lines trimmed, blank lines inside a section dropped), and the
 * Windows-1252 quotes that the source carries as C1 controls (U+0093/U+0094) become “ ”; line breaks stay
 * where the source wrapped them, since rejoining Thai lines cannot know whether a space was meant. Footnote
 * markers inside the text stay.
 */
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import type { RawRecord } from "@sovereign/shards";
import { besideFile, type ReaderOptions, type SourceFile } from "@sovereign/sources";
import { thaiDigitsToArabic } from "@sovereign/thai";
import {
  type Footnote,
  THAI_OR_ARABIC_NUMBER as N,
  ORDINAL,
  parseSectionNumber,
  type StatuteMeta,
  sectionStatus,
  THAI_WORD_GOES_ON,
} from "./sections";
import { malformed, readUtf8, stringOption } from "./source-file";

export const KRISDIKA_FORMAT = "krisdika-text";

export type ParsedSection = { line: number; text: string; meta: StatuteMeta };
export type ParseIssue = { line: number; message: string; raw: string };

const MARKER = new RegExp(`\\[(${N})\\]`, "g");
const MARKERS = `(?:\\s*\\[${N}\\])*`;
const ORDINAL_WORD = `(?:${ORDINAL})(?!${THAI_WORD_GOES_ON})`;

/** `มาตรา ๒๔/๑[๓]`, `มาตรา ๓๓๕ ทวิ[๒]`, `มาตรา ๑๒๗๔ - ๑๒๙๗`; `มาตร` is a typo the Civil and Commercial Code has twice. */
const SECTION_HEADING = new RegExp(
  `^มาตรา?\\s*(${N}(?:\\s*${ORDINAL_WORD})?(?:\\s*/\\s*${N})?)(${MARKERS})(?:\\s*-\\s*(${N})(${MARKERS}))?(?=\\s|\\(|$)`,
);
const SPLIT_SECTION_WORD = /^มาตรา?$/;
const STARTS_WITH_NUMBER = new RegExp(`^${N}`);

/** Structural headings and their depth: a heading closes every open heading at its depth or deeper. */
const STRUCTURE_RANK: Record<string, number> = { บรรพ: 0, ภาค: 1, ลักษณะ: 2, หมวด: 3, ส่วนที่: 4, ส่วน: 4 };
const STRUCTURE_HEADING = new RegExp(
  `^(บรรพ|ภาค|ลักษณะ|หมวด|ส่วนที่|ส่วน)\\s*${N}(?:\\s*/\\s*${N})?(?:\\s*${ORDINAL_WORD})?(?=\\s|\\[|$)`,
);
const SPLIT_STRUCTURE_WORD = /^(บรรพ|ภาค|ลักษณะ|หมวด|ส่วนที่|ส่วน)$/;
const SUB_PART = new RegExp(`^${N}\\.(?: |$)`);
const LETTERED_SUB_PART = /^\([ก-ฮ]\)$/;
/** A heading the source left inside a block has at most this many lines of title under it. */
const MAX_EMBEDDED_HEADING_LINES = 4;
/** Headings without a number: the Civil and Commercial Code's preliminary part and transitional chapters. */
const UNNUMBERED_HEADING_RANK: Record<string, number> = { ข้อความเบื้องต้น: 0, บทเฉพาะกาล: 3 };

const INSTRUMENT_TITLE =
  /^\*?(พระราชบัญญัติ|พระราชกฤษฎีกา|พระราชกำหนด|ประกาศของคณะ|ประกาศคณะ|คำสั่งของคณะ|คำสั่งคณะ|คำสั่งหัวหน้าคณะ)/;
const TABLE_OF_CONTENTS = /^(สารบาญ|สารบัญ)$/;
const ANNEX = new RegExp(`^(ตาราง\\s*${N}|บัญชีแนบท้าย)`);
const ASIDE = /^(หมายเหตุ|ผู้รับสนองพระบรมราชโองการ)/;
const FIRST_FOOTNOTE = /^\[(๑|1)\]/;
const FOOTNOTE_START = new RegExp(`^\\[(${N})\\]\\s*(.*)$`);

/** Windows-1252 punctuation that reached the text as C1 control characters. */
const C1_AS_CP1252: Record<string, string> = {
  "\u0085": "…",
  "\u0091": "‘",
  "\u0092": "’",
  "\u0093": "“",
  "\u0094": "”",
  "\u0096": "–",
  "\u0097": "—",
};

function cleanLine(line: string): string {
  return line
    .replace(/[\u0085\u0091-\u0094\u0096\u0097]/g, (c) => C1_AS_CP1252[c] ?? c)
    .replace(/[\s\u00a0]+/g, " ")
    .trim();
}

const titleForm = (text: string) => thaiDigitsToArabic(text).replace(MARKER, "").replace(/[\s*]/g, "");

const toNumber = (digits: string) => Number(thaiDigitsToArabic(digits));

function markersIn(text: string): number[] {
  return Array.from(text.matchAll(MARKER), (m) => toNumber(m[1] as string));
}

type SectionHeading = { lines: number; heading: string; rest: string; markers: number[] } & Pick<
  StatuteMeta,
  "section_num" | "section_label"
>;

/** The section heading starting at `lines[i]`, also when `มาตรา` stands alone and the number opens the next line. */
function sectionHeadingAt(lines: readonly string[], i: number, end: number): SectionHeading | undefined {
  let line = lines[i] as string;
  let used = 1;
  if (SPLIT_SECTION_WORD.test(line) && i + 1 < end && STARTS_WITH_NUMBER.test(lines[i + 1] as string)) {
    line = `มาตรา ${lines[i + 1]}`;
    used = 2;
  }
  const match = SECTION_HEADING.exec(line);
  if (!match) return undefined;
  const [prefix, number, markers, rangeEnd, rangeMarkers] = match as unknown as [
    string,
    string,
    string,
    string | undefined,
    string | undefined,
  ];
  const parsed = parseSectionNumber(rangeEnd ? `${number}-${rangeEnd}` : number);
  if (!parsed) return undefined;
  const rest = line.slice(prefix.length).trim();
  const heading = `${prefix.replace(MARKER, "").replace(/\s+/g, " ").trim()} ${rest}`.trim();
  return { ...parsed, lines: used, heading, rest, markers: markersIn(`${markers}${rangeMarkers ?? ""}`) };
}

/** The rank of the book/title/chapter/part heading starting at `lines[i]`, also when its number opens the next line. */
function structureRankAt(lines: readonly string[], i: number, end: number): number | undefined {
  const line = lines[i] as string;
  const word =
    STRUCTURE_HEADING.exec(line)?.[1] ??
    (i + 1 < end && STARTS_WITH_NUMBER.test(lines[i + 1] as string)
      ? SPLIT_STRUCTURE_WORD.exec(line)?.[1]
      : undefined);
  if (word !== undefined) return STRUCTURE_RANK[word];
  return end === i + 1 ? UNNUMBERED_HEADING_RANK[line] : undefined;
}

/** Footnote number → text, numbered 1, 2, … in order, so a bracket that is not the next number is text. */
function parseFootnotes(lines: readonly string[]): Map<number, string> {
  const notes = new Map<number, string[]>();
  let current: string[] | undefined;
  for (const line of lines) {
    const start = FOOTNOTE_START.exec(line);
    if (start && toNumber(start[1] as string) === notes.size + 1) {
      current = start[2] ? [start[2]] : [];
      notes.set(notes.size + 1, current);
    } else if (line && current) current.push(line);
  }
  return new Map(Array.from(notes, ([n, parts]) => [n, parts.join(" ")]));
}

/**
 * Cut a Krisdika text into the sections of `lawName` (the law whose title, when it appears as a block of its
 * own, marks where the law's sections are). Issues are sections that could not be placed.
 */
export function parseKrisdikaText(
  text: string,
  lawName: string,
): { sections: ParsedSection[]; issues: ParseIssue[] } {
  const lines = text.split(/\r\n|\r|\n/).map(cleanLine);
  const footnoteStart = lines.findIndex((l, i) => FIRST_FOOTNOTE.test(l) && (i === 0 || lines[i - 1] === ""));
  const bodyEnd = footnoteStart === -1 ? lines.length : footnoteStart;
  const footnoteText = parseFootnotes(footnoteStart === -1 ? [] : lines.slice(footnoteStart));
  const lawTitle = titleForm(lawName);

  const sections: ParsedSection[] = [];
  const issues: ParseIssue[] = [];
  let inLaw = true;
  let path: { rank: number; text: string }[] = [];
  let open: { line: number; heading: SectionHeading; body: string[]; path: string[] } | undefined;
  let highest = 0;

  const close = () => {
    if (!open) return;
    const { heading, body } = open;
    const bodyText = body.join("\n");
    const numbers = [...heading.markers, ...markersIn(bodyText)].filter((n, i, all) => all.indexOf(n) === i);
    const footnotes: Footnote[] = numbers.map((number) => {
      const note = footnoteText.get(number);
      return note === undefined ? { number } : { number, text: note };
    });
    const status = sectionStatus(
      `${heading.rest}\n${bodyText}`,
      footnotes.map((f) => f.text ?? ""),
    );
    sections.push({
      line: open.line,
      text: [heading.heading, ...body].join("\n"),
      meta: {
        law_name: lawName,
        section_num: heading.section_num,
        section_label: heading.section_label,
        status,
        path: open.path,
        ...(footnotes.length ? { footnotes } : {}),
      },
    });
    open = undefined;
  };

  const blockEnd = (i: number) => {
    let end = i;
    while (end < bodyEnd && lines[end] !== "") end++;
    return end;
  };
  const opensSectionOrHeading = (end: number): boolean => {
    let next = end;
    while (next < bodyEnd && lines[next] === "") next++;
    if (next >= bodyEnd) return false;
    const nextEnd = blockEnd(next);
    return (
      Boolean(sectionHeadingAt(lines, next, nextEnd)) || structureRankAt(lines, next, nextEnd) !== undefined
    );
  };
  /**
   * Where a heading the source wrote without a blank line before it cuts the block (`…ท่านให้ถือว่า…` then
   * `ส่วนที่ ๑๑` on the next line): a heading line with a short title under it, followed by a section or
   * another heading. A wrapped cross reference (`บรรพ ๑ และ ๒ แต่วันที่…`) is followed by neither.
   */
  const embeddedHeading = (from: number, end: number): number => {
    if (!opensSectionOrHeading(end)) return end;
    for (let j = Math.max(from, end - MAX_EMBEDDED_HEADING_LINES); j < end; j++)
      if (structureRankAt(lines, j, end) !== undefined) return j;
    return end;
  };
  /**
   * The rank of a numbered part inside a chapter (`๑.` / `บุริมสิทธิสามัญ`, `๒. กรรมการ`) or a lettered one
   * under it (`(ก)` / title) starting a block. Both shapes also number list items inside sections, so it is
   * a heading only when its title is all the block holds, or another such part follows, and a section or a
   * heading comes next.
   */
  const subPartRankAt = (i: number, end: number): number | undefined => {
    const line = lines[i] as string;
    const rank = SUB_PART.test(line) ? 5 : LETTERED_SUB_PART.test(line) ? 6 : undefined;
    if (rank === undefined) return undefined;
    const unitEnd = line.includes(" ") ? i + 1 : i + 2;
    if (unitEnd > end) return undefined;
    if (unitEnd < end) return subPartRankAt(unitEnd, end) === undefined ? undefined : rank;
    return opensSectionOrHeading(end) ? rank : undefined;
  };

  for (let i = 0; i < bodyEnd; ) {
    if (lines[i] === "") {
      i++;
      continue;
    }
    const end = blockEnd(i);
    const first = lines[i] as string;

    const heading = sectionHeadingAt(lines, i, end);
    if (heading) {
      close();
      const cut = inLaw ? embeddedHeading(i + heading.lines, end) : end;
      if (inLaw && heading.section_num < highest) {
        issues.push({
          line: i + 1,
          message: `section ${heading.section_label} comes after section ${highest} of ${lawName}: an instrument inside the file went unrecognized, so it is left out`,
          raw: lines.slice(i, cut).join("\n"),
        });
      } else if (inLaw) {
        highest = heading.section_num;
        open = {
          line: i + 1,
          heading,
          body: lines.slice(i + heading.lines, cut),
          path: path.map((h) => h.text),
        };
      }
      i = cut;
      continue;
    }

    const rank = structureRankAt(lines, i, end) ?? (inLaw ? subPartRankAt(i, end) : undefined);
    if (rank !== undefined) {
      close();
      inLaw = true;
      // A heading's title runs to the blank line, or to a section or part heading right under it.
      let stop = i + 1;
      while (stop < end && !sectionHeadingAt(lines, stop, end) && subPartRankAt(stop, end) === undefined)
        stop++;
      const title = lines.slice(i, stop).join(" ").replace(MARKER, "").replace(/\s+/g, " ").trim();
      path = [...path.filter((h) => h.rank < rank), { rank, text: title }];
      i = stop;
      continue;
    }

    // The law's title, alone or with the first heading right under it (the Criminal Procedure Code).
    const titleLines = [end - i, 1].find((n) => titleForm(lines.slice(i, i + n).join(" ")) === lawTitle);
    if (titleLines !== undefined) {
      close();
      inLaw = true;
      path = [];
      i += titleLines;
      continue;
    }
    if (INSTRUMENT_TITLE.test(first) || TABLE_OF_CONTENTS.test(first) || ANNEX.test(first)) {
      close();
      inLaw = false;
    } else if (ASIDE.test(first)) {
      close();
    } else if (open) {
      const cut = embeddedHeading(i, end);
      open.body.push(...lines.slice(i, cut));
      i = cut;
      continue;
    }
    i = end;
  }
  close();
  return { sections, issues };
}

const LAW_INDEX = "law_url_df.csv";

/** Fields of one CSV line (RFC 4180 quoting; the index has no line breaks inside fields). */
function csvFields(line: string): string[] {
  return Array.from(line.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g), (m) => {
    const field = m[1] as string;
    return field.startsWith('"') ? field.slice(1, -1).replace(/""/g, '"') : field;
  });
}

/**
 * The law's name from the Krisdika index (`law_url_df.csv`, keyed by `sysid`, the text file's base name)
 * kept beside the text, without the index's "(ฉบับ Update ล่าสุด)" ("latest update") suffix.
 */
export async function lawNameFromIndex(
  textPath: string,
  options: Pick<ReaderOptions, "roots"> = {},
): Promise<string | undefined> {
  const indexPath = await besideFile(join(dirname(textPath), LAW_INDEX), options);
  if (!indexPath) return undefined;
  let index: string;
  try {
    index = await readFile(indexPath, "utf8");
  } catch {
    return undefined;
  }
  const [header = "", ...rows] = index.split(/\r?\n/);
  const columns = csvFields(header.replace(/^\uFEFF/, ""));
  const title = columns.indexOf("title");
  const sysid = columns.indexOf("sysid");
  if (title === -1 || sysid === -1) return undefined;
  const id = basename(textPath, extname(textPath));
  for (const row of rows) {
    const fields = csvFields(row);
    if (fields[sysid] === id)
      return (fields[title] as string).replace(/\s*\(ฉบับ\s*update[^)]*\)\s*$/i, "").trim();
  }
  return undefined;
}

/** A code's own title line (`ประมวลกฎหมายอาญา`) standing alone between blank lines. */
export function codeTitleInText(text: string): string | undefined {
  const lines = text.split(/\r\n|\r|\n/).map(cleanLine);
  return lines.find((line, i) => /^ประมวลกฎหมาย\S+$/.test(line) && !lines[i - 1] && !lines[i + 1] && i > 0);
}

/**
 * Read a Krisdika text file. The law's name comes from `options.lawName`, else the index beside the file,
 * else the code's own title line.
 */
export async function* krisdikaText(
  file: SourceFile,
  options: ReaderOptions & { lawName?: unknown } = {},
): AsyncGenerator<RawRecord> {
  const lawNameOption = stringOption(options, "lawName", KRISDIKA_FORMAT);
  const read = await readUtf8(file);
  if ("error" in read) {
    yield read.error;
    return;
  }
  const lawName = lawNameOption ?? (await lawNameFromIndex(file.path, options)) ?? codeTitleInText(read.text);
  if (!lawName) {
    yield malformed(
      file,
      1,
      `cannot tell which law this is: no lawName option, no ${LAW_INDEX} row for it beside the file, no code title line`,
      "",
    );
    return;
  }
  const { sections, issues } = parseKrisdikaText(read.text, lawName);
  const records: { line: number; record: RawRecord }[] = [
    ...sections.map((s) => ({
      line: s.line,
      record: {
        ok: true,
        location: `${file.label}:${s.line}`,
        value: { text: s.text, meta: s.meta },
      } as const,
    })),
    ...issues.map((issue) => ({
      line: issue.line,
      record: malformed(file, issue.line, issue.message, issue.raw),
    })),
  ];
  for (const { record } of records.sort((a, b) => a.line - b.line)) yield record;
}
