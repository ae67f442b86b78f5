import { afterEach, describe, expect, it } from "vitest";
import { readText } from "../src/text";
import { bytes, collect, fileOf, locations, okValues, tempDirs } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

const statute = [
  "พระราชบัญญัติตัวอย่าง", // 1: preamble
  "พ.ศ. ๒๕๖๗", // 2
  "", // 3
  "มาตรา ๑ พระราชบัญญัตินี้เรียกว่า", // 4
  "“พระราชบัญญัติตัวอย่าง”", // 5
  "", // 6
  "มาตรา ๒[๒] ให้ใช้บังคับตั้งแต่วันถัดจากวันประกาศ", // 7
  "", // 8
  "  ความในวรรคสอง", // 9
  "มาตรา ๓ (ยกเลิก)", // 10
].join("\r\n");

async function readWith(content: string | Buffer, split?: Parameters<typeof readText>[1]) {
  const file = await fileOf(await temp.make(), "law.txt", content);
  return collect(readText(file, split));
}

describe("readText", () => {
  it("reads a whole file as one document, trimmed, with LF line breaks and no BOM", async () => {
    const records = await readWith(`\ufeff\n\n${statute}\r\n\r\n`);
    expect(records).toEqual([
      {
        ok: true,
        location: "law.txt:3",
        value: { text: statute.replaceAll("\r\n", "\n"), file: "law.txt" },
      },
    ]);
  });

  it("starts a document at each line matching the pattern, keeping the preamble as its own", async () => {
    const records = await readWith(statute, { text: { split: { pattern: "^มาตรา" } } });
    expect(locations(records)).toEqual(["law.txt:1", "law.txt:4", "law.txt:7", "law.txt:10"]);
    expect(okValues(records)).toEqual([
      { text: "พระราชบัญญัติตัวอย่าง\nพ.ศ. ๒๕๖๗", file: "law.txt", index: 0 },
      { text: "มาตรา ๑ พระราชบัญญัตินี้เรียกว่า\n“พระราชบัญญัติตัวอย่าง”", file: "law.txt", index: 1 },
      { text: "มาตรา ๒[๒] ให้ใช้บังคับตั้งแต่วันถัดจากวันประกาศ\n\n  ความในวรรคสอง", file: "law.txt", index: 2 },
      { text: "มาตรา ๓ (ยกเลิก)", file: "law.txt", index: 3 },
    ]);
  });

  it("splits paragraphs on blank lines, however many", async () => {
    const records = await readWith("หนึ่ง\nต่อ\n\n \n\nสอง\n\n\nสาม", { text: { split: "blank-lines" } });
    expect(records.map((r) => [r.location, r.ok && (r.value as { text: string }).text])).toEqual([
      ["law.txt:1", "หนึ่ง\nต่อ"],
      ["law.txt:6", "สอง"],
      ["law.txt:9", "สาม"],
    ]);
  });

  it("reads each non-blank line as a document", async () => {
    const records = await readWith("แรก\r\n\r\n  กลาง  \r\nท้าย", { text: { split: "lines" } });
    expect(okValues(records)).toEqual([
      { text: "แรก", file: "law.txt", index: 0 },
      { text: "กลาง", file: "law.txt", index: 1 },
      { text: "ท้าย", file: "law.txt", index: 2 },
    ]);
    expect(locations(records)).toEqual(["law.txt:1", "law.txt:3", "law.txt:4"]);
  });

  it("makes a document with a line that is not UTF-8 an invalid-utf8 record naming the line", async () => {
    const content = bytes("ย่อหน้าแรก\n\nย่อหน้าสอง\nเสีย ", [0xe0, 0x41], "\n\nย่อหน้าสาม\n");
    const records = await readWith(content, { text: { split: "blank-lines" } });
    expect(records[1]).toEqual({
      ok: false,
      location: "law.txt:3",
      reason: "invalid-utf8",
      message: "line 4 is not valid UTF-8",
      raw: Buffer.from([...Buffer.from("เสีย "), 0xe0, 0x41]).toString("latin1"),
    });
    // Indices count the bad document too, so fixing it does not renumber the ones after it.
    expect(okValues(records)).toEqual([
      { text: "ย่อหน้าแรก", file: "law.txt", index: 0 },
      { text: "ย่อหน้าสาม", file: "law.txt", index: 2 },
    ]);
    const whole = await readWith(content);
    expect(whole).toMatchObject([{ ok: false, reason: "invalid-utf8", location: "law.txt:1" }]);
  });

  it("splits with a spec's pattern in time linear in the line, where a backtracking engine stalls", async () => {
    // `^(a+)+$` backtracks 2^n times over n `a`s and a `!`: seconds at 27, without end at 100,000, and the
    // reader runs in the server's own thread.
    const lines = ["มาตรา ๑ ข้อความ", `${"a".repeat(27)}!`, "aaaa", `${"a".repeat(100_000)}!`];
    const records = await readWith(lines.join("\n"), { text: { split: { pattern: "^(a+)+$" } } });
    expect(locations(records)).toEqual(["law.txt:1", "law.txt:3"]);
  });

  it("cuts where JavaScript's RegExp cut for ordinary patterns, each line tested on its own", async () => {
    const lines = [
      "พระราชบัญญัติตัวอย่าง",
      "มาตรา ๑ พระราชบัญญัตินี้เรียกว่า",
      "  มาตรา ๒ ย่อหน้าเยื้อง",
      "หมวด ๒ การบังคับใช้",
      "ข้อ 12. ตามข้อบังคับ",
      "Section 3 applies",
      "ส่วนที่ ๓ บทเฉพาะกาล",
      "ภาคผนวก",
      "มาตรา ๔/๑ เพิ่มเติม",
      "😀 บรรทัดที่ขึ้นต้นด้วยอีโมจิ",
      "ท้ายบรรทัด.",
    ];
    const patterns = [
      "^มาตรา",
      "^\\s*มาตรา\\s+[๐-๙]+",
      "^(?:หมวด|ส่วนที่)\\s",
      "^ข้อ\\s+\\d+\\.",
      "^[A-Z][a-z]+ \\d",
      "มาตรา [๐-๙]+/[๐-๙]+",
      "\\.$",
      "^.\\s",
      "[ก-ฮ]{3}ผนวก$",
    ];
    for (const pattern of patterns) {
      const re = new RegExp(pattern, "u");
      const expected = lines.flatMap((line, i) => (i === 0 || re.test(line) ? [`law.txt:${i + 1}`] : []));
      const records = await readWith(lines.join("\n"), { text: { split: { pattern } } });
      expect(locations(records), pattern).toEqual(expected);
    }
  });

  it("refuses a pattern RE2 cannot run, naming it", async () => {
    await expect(readWith("มาตรา ๑", { text: { split: { pattern: "(มาตรา)\\1" } } })).rejects.toThrow(
      'text.split.pattern "(มาตรา)\\\\1": not a regular expression RE2 can run',
    );
  });

  it("reads nothing from an empty or blank file", async () => {
    expect(await readWith("")).toEqual([]);
    expect(await readWith("\ufeff \r\n\t\n", { text: { split: "lines" } })).toEqual([]);
  });
});
