/** Long lines: byte lines and the JSONL reader over a line of many read chunks, and the JSONL line limit. */
import { afterEach, describe, expect, it } from "vitest";
import { byteLines } from "../src/lines";
import { builtinReaders } from "../src/readers";
import { collect, fileOf, tempDirs } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

describe("long lines", () => {
  it("byteLines gives a line of several megabytes whole, between its neighbours", async () => {
    const long = "ก".repeat(2 * 1024 * 1024); // 6 MiB of UTF-8
    const file = await fileOf(await temp.make(), "one.txt", `\ufeffหัวเรื่อง\r\n${long}\r\nท้าย`);
    const lines = await collect(byteLines(file.path));
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(lines.map((l) => l.bytes.toString("utf8"))).toEqual(["หัวเรื่อง", long, "ท้าย"]);
  });

  it("the JSONL reader refuses a line over limits.maxLineBytes at its number and reads on", async () => {
    const long = JSON.stringify({ text: "ข".repeat(200_000) });
    const file = await fileOf(await temp.make(), "rows.jsonl", `{"text":"a"}\n${long}\n{"text":"b"}\n`);
    const records = await collect(builtinReaders.jsonl(file, { limits: { maxLineBytes: 100_000 } }));
    expect(records.map((r) => [r.location, r.ok ? r.value : r.reason])).toEqual([
      ["rows.jsonl:1", { text: "a" }],
      ["rows.jsonl:2", "too-long"],
      ["rows.jsonl:3", { text: "b" }],
    ]);
    const all = await collect(builtinReaders.jsonl(file, {}));
    expect(all.every((r) => r.ok)).toBe(true);
  });
});
