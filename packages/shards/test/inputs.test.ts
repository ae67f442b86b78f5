import { join } from "node:path";
import type { ChatSample, RlPromptSample, Sample, TextSample } from "@sovereign/schemas";
import { afterEach, describe, expect, it } from "vitest";
import { LocalBlobStore } from "../src/blob-store";
import { DatasetBuilder, type RejectedRecord, sampleContentHash } from "../src/builder";
import { canonicalJson } from "../src/hashing";
import {
  completeSample,
  InputFormatError,
  InputRejectedError,
  ingestFiles,
  type RawRecord,
  readJsonl,
} from "../src/inputs";
import { writeShard } from "../src/parquet";
import { buildVersion, jsonl, readAllSamples, tempDirs, textRecords, writeText } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

async function collect(gen: AsyncGenerator<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of gen) out.push(r);
  return out;
}

async function rejectedOf(
  store: LocalBlobStore,
  version: Awaited<ReturnType<typeof buildVersion>>["version"],
) {
  const entry = version.manifest.rejected[0];
  if (!entry) return [];
  const text = new TextDecoder().decode(await store.get(entry.sha256));
  return text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as RejectedRecord);
}

/** A JSONL file with three good lines and three bad ones (malformed JSON, schema-invalid, invalid UTF-8). */
async function mixedFile(dir: string): Promise<string> {
  const parts: (string | Buffer)[] = [
    `${JSON.stringify({ id: "good-1", text: "ภาษาไทยดีมาก" })}\n`, // 1
    '{"id": "bad-json", "text": \n', // 2: malformed
    `${JSON.stringify({ id: "good-2", text: "hello" })}\n`, // 3
    `${JSON.stringify({ id: "bad-schema", text: "" })}\n`, // 4: invalid (empty text)
    "\n", // 5: blank, skipped
    Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), // 6: invalid UTF-8
    `${JSON.stringify({ id: "good-3", text: "สุดท้าย 🎉" })}\n`, // 7
  ];
  return writeText(
    dir,
    "mixed.jsonl",
    Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p) : p))),
  );
}

describe("readJsonl", () => {
  it("numbers lines from 1, skips blank lines, and handles a missing final newline", async () => {
    const dir = await temp.make();
    const path = await writeText(dir, "a.jsonl", '{"a":1}\n\n   \n{"b":2}\n{"c":3}');
    const records = await collect(readJsonl(path, "label.jsonl"));
    expect(records).toEqual([
      { ok: true, location: "label.jsonl:1", value: { a: 1 } },
      { ok: true, location: "label.jsonl:4", value: { b: 2 } },
      { ok: true, location: "label.jsonl:5", value: { c: 3 } },
    ]);
  });

  it("drops a BOM at the start and handles CRLF line endings", async () => {
    const dir = await temp.make();
    const body = `${JSON.stringify({ id: "x", text: "บรรทัดแรก" })}\r\n${JSON.stringify({ id: "y", text: "two\r" })}\r\n`;
    const path = await writeText(
      dir,
      "bom.jsonl",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]),
    );
    const records = await collect(readJsonl(path));
    expect(records.map((r) => r.ok)).toEqual([true, true]);
    expect(records.map((r) => (r.ok ? r.value : null))).toEqual([
      { id: "x", text: "บรรทัดแรก" },
      // A \r escaped inside the JSON string is content, not a line ending.
      { id: "y", text: "two\r" },
    ]);
    expect(records.map((r) => r.location)).toEqual([`${path}:1`, `${path}:2`]);
  });

  it("strips the CR of a CRLF line from what it reports for a bad line", async () => {
    const dir = await temp.make();
    const path = await writeText(dir, "crlf.jsonl", '{"ok":1}\r\n{"broken":\r\n\r\n{"ok":2}\r\n');
    const records = await collect(readJsonl(path, "f"));
    expect(records.map((r) => r.location)).toEqual(["f:1", "f:2", "f:4"]);
    const bad = records[1];
    expect(bad?.ok).toBe(false);
    if (bad && !bad.ok) expect(bad.raw).toBe('{"broken":');
  });

  it("reports malformed and invalid UTF-8 lines with their line numbers and raw text", async () => {
    const dir = await temp.make();
    const records = await collect(readJsonl(await mixedFile(dir), "m"));
    expect(records.map((r) => [r.location, r.ok ? "ok" : r.reason])).toEqual([
      ["m:1", "ok"],
      ["m:2", "malformed"],
      ["m:3", "ok"],
      ["m:4", "ok"],
      ["m:6", "invalid-utf8"],
      ["m:7", "ok"],
    ]);
    const bad = records[1];
    expect(bad?.ok).toBe(false);
    if (bad && !bad.ok) {
      expect(bad.raw).toBe('{"id": "bad-json", "text": ');
      expect(bad.message).toMatch(/not JSON/);
    }
  });

  it("keeps multi-byte characters that straddle read chunks intact", async () => {
    const dir = await temp.make();
    // Lines of Thai text (3 bytes a character) well past the 64 KiB read chunk, so chunk edges fall mid-character.
    const lines = Array.from({ length: 400 }, (_, i) => ({
      id: `l${i}`,
      text: `${"ก".repeat(97 + (i % 5))}${i}`,
    }));
    const path = await writeText(dir, "big.jsonl", jsonl(lines));
    const records = await collect(readJsonl(path));
    expect(records.every((r) => r.ok)).toBe(true);
    expect(records.map((r) => (r.ok ? r.value : null))).toEqual(lines);
  });
});

describe("readJsonl: long lines", () => {
  it("reads a line of several megabytes, gathered from many read chunks, whole", async () => {
    const dir = await temp.make();
    const text = "ก".repeat(2 * 1024 * 1024); // 6 MiB of UTF-8, about a hundred 64 KiB chunks
    const path = await writeText(
      dir,
      "one.jsonl",
      `${JSON.stringify({ id: "a", text })}\n{"id":"b","text":"x"}\n`,
    );
    const records = await collect(readJsonl(path, "one.jsonl"));
    expect(records.map((r) => r.location)).toEqual(["one.jsonl:1", "one.jsonl:2"]);
    expect(records[0]?.ok && (records[0].value as { text: string }).text === text).toBe(true);
  });

  it("refuses a line over the limit at its number, keeps its first bytes, and reads on", async () => {
    const dir = await temp.make();
    const long = JSON.stringify({ id: "long", text: "ข".repeat(400_000) }); // 1.2 MB
    const exact = JSON.stringify({ id: "fits", text: "x".repeat(1000) });
    const path = await writeText(
      dir,
      "long.jsonl",
      `${JSON.stringify({ id: "a", text: "ก" })}\r\n${long}\r\n${exact}\n${JSON.stringify({ id: "b", text: "ค" })}`,
    );
    const limit = Buffer.byteLength(exact);
    const records = await collect(readJsonl(path, "long.jsonl", { maxLineBytes: limit }));
    expect(records.map((r) => [r.location, r.ok ? (r.value as { id: string }).id : r.reason])).toEqual([
      ["long.jsonl:1", "a"],
      ["long.jsonl:2", "too-long"],
      ["long.jsonl:3", "fits"],
      ["long.jsonl:4", "b"],
    ]);
    const refused = records[1];
    if (refused?.ok !== false) throw new Error("line 2 should be refused");
    // The CR of CRLF is counted: the limit is on the bytes of the line.
    expect(refused.message).toContain(
      `line is ${Buffer.byteLength(long) + 1} bytes, over the ${limit}-byte limit`,
    );
    expect(refused.raw.startsWith('{"id":"long","text":"ข')).toBe(true);
    expect(Buffer.byteLength(refused.raw)).toBeLessThanOrEqual(1024 + 3);
  });
});

describe("ingestFiles: format by name and bytes", () => {
  it("refuses Parquet bytes under a JSONL name and JSONL under a .parquet name, naming the file", async () => {
    const dir = await temp.make();
    const parquet = await writeText(
      dir,
      "rows.jsonl",
      writeShard(
        "text",
        textRecords(2).map((r) => ({ ...r, source: "s" })),
      ),
    );
    const misnamed = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path: parquet, split: "train" }],
    }).catch((e: unknown) => e);
    expect(misnamed).toBeInstanceOf(InputFormatError);
    expect((misnamed as Error).message).toContain(`${parquet} is Parquet`);

    const text = await writeText(dir, "rows.parquet", jsonl(textRecords(2)));
    const notParquet = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path: text, split: "train" }],
    }).catch((e: unknown) => e);
    expect(notParquet).toBeInstanceOf(InputFormatError);
    expect((notParquet as Error).message).toContain(
      `${text} is declared Parquet by its name, but its bytes are not`,
    );
  });
});

describe("ingestFiles: bad-record budget", () => {
  it("with maxRejected 0 throws InputRejectedError listing file:line for every bad line", async () => {
    const dir = await temp.make();
    const path = await mixedFile(dir);
    const builder = new DatasetBuilder({
      dataset: "x",
      kind: "text",
      store: new LocalBlobStore(join(dir, "store")),
      scratchDir: join(dir, "scratch"),
      pipeline: { name: "p", config: null },
    });
    const error = await ingestFiles(builder, "text", [{ path, split: "train" }], { maxRejected: 0 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputRejectedError);
    const e = error as InputRejectedError;
    expect(e.code).toBe("INPUT_REJECTED");
    expect(e.total).toBe(3);
    expect(e.budget).toBe(0);
    expect(e.rejected.map((r) => [r.location, r.reason])).toEqual([
      [`${path}:2`, "malformed"],
      [`${path}:4`, "invalid"],
      [`${path}:6`, "invalid-utf8"],
    ]);
    expect(e.message).toContain(`  ${path}:2: malformed: `);
    expect(e.message).toContain(`  ${path}:4: invalid: `);
    expect(e.message).toContain(`  ${path}:6: invalid-utf8: `);
    expect(e.message).toMatch(/^3 input record\(s\) rejected, over the allowed 0/);
    expect(e.message).not.toContain(`${path}:1:`);
    expect(e.message).not.toContain(`${path}:7:`);
  });

  it("is the default when no budget is given, and lists bad lines across several files", async () => {
    const dir = await temp.make();
    const a = await writeText(dir, "a.jsonl", `{"text":"ok"}\n{broken\n`);
    const b = await writeText(dir, "b.jsonl", `{"text":"ok too"}\n{"text":42}\n{"text":"fine"}\n[1,2]\n`);
    const builder = new DatasetBuilder({
      dataset: "x",
      kind: "text",
      store: new LocalBlobStore(join(dir, "store")),
      scratchDir: join(dir, "scratch"),
      pipeline: { name: "p", config: null },
    });
    const inputs = [
      { path: a, split: "train" },
      { path: b, split: "test" },
    ];
    const error = (await ingestFiles(builder, "text", inputs).catch((e: unknown) => e)) as InputRejectedError;
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error.rejected.map((r) => r.location)).toEqual([`${a}:2`, `${b}:2`, `${b}:4`]);
    expect(error.message).toContain(`${b}:2: invalid: text:`);
  });

  it("lists duplicate ids found after the budget ran out as well", async () => {
    const dir = await temp.make();
    const path = await writeText(
      dir,
      "d.jsonl",
      jsonl([
        { id: "a", text: "x" },
        { id: "b", text: "" },
        { id: "c", text: "y" },
        { id: "a", text: "z" },
      ]),
    );
    const builder = new DatasetBuilder({
      dataset: "x",
      kind: "text",
      store: new LocalBlobStore(join(dir, "store")),
      scratchDir: join(dir, "scratch"),
      pipeline: { name: "p", config: null },
    });
    const error = (await ingestFiles(builder, "text", [{ path, split: "train" }]).catch(
      (e: unknown) => e,
    )) as InputRejectedError;
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error.rejected.map((r) => [r.location, r.reason])).toEqual([
      [`${path}:2`, "invalid"],
      [`${path}:4`, "duplicate-id"],
    ]);
    expect(error.total).toBe(2);
  });

  it("throws once rejections exceed the budget, counting every bad record", async () => {
    const dir = await temp.make();
    const path = await mixedFile(dir);
    await expect(
      buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }], ingest: { maxRejected: 2 } }),
    ).rejects.toMatchObject({ total: 3, budget: 2 });
  });

  it("shows at most 50 rejections in the message and counts the rest", async () => {
    const dir = await temp.make();
    const path = await writeText(dir, "many.jsonl", "nope\n".repeat(60));
    const error = (await buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }] }).catch(
      (e: unknown) => e,
    )) as InputRejectedError;
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error.total).toBe(60);
    expect(error.rejected).toHaveLength(50);
    expect(error.message).toContain(`${path}:50: malformed`);
    expect(error.message).not.toContain(`${path}:51: malformed`);
    expect(error.message).toContain("… and 10 more");
  });

  it("within the budget keeps the good records and stores the rejected ones in manifest.rejected", async () => {
    const dir = await temp.make();
    const path = await mixedFile(dir);
    const { store, version } = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path, split: "train" }],
      ingest: { maxRejected: 3 },
    });
    const rows = (await readAllSamples(store, version)).flat() as TextSample[];
    expect(rows.map((r) => [r.id, r.text])).toEqual([
      ["good-1", "ภาษาไทยดีมาก"],
      ["good-2", "hello"],
      ["good-3", "สุดท้าย 🎉"],
    ]);
    expect(version.manifest.splits).toEqual({ train: { rows: 3 } });
    expect(version.manifest.rejected).toHaveLength(1);
    expect(version.manifest.rejected[0]).toMatchObject({ path: "rejected/input.jsonl", rows: 3 });
    const rejected = await rejectedOf(store, version);
    expect(rejected.map((r) => [r.location, r.reason])).toEqual([
      [`${path}:2`, "malformed"],
      [`${path}:4`, "invalid"],
      [`${path}:6`, "invalid-utf8"],
    ]);
    expect(rejected[0]?.record).toBe('{"id": "bad-json", "text": ');
    expect(rejected[1]?.record).toEqual({ id: "bad-schema", text: "" });
    expect(rejected[1]?.message).toMatch(/^text: /);
    expect(rejected[2]?.message).toMatch(/UTF-8/);
    expect(version.card).toContain("3 input record(s) rejected");
  });

  it("duplicate ids within the budget are kept aside with reason duplicate-id, the first one wins", async () => {
    const dir = await temp.make();
    const a = await writeText(
      dir,
      "a.jsonl",
      jsonl([
        { id: "same", text: "แรก" },
        { id: "other", text: "x" },
      ]),
    );
    const b = await writeText(dir, "b.jsonl", jsonl([{ id: "same", text: "ซ้ำ" }]));
    const { store, version } = await buildVersion({
      dir,
      kind: "text",
      inputs: [
        { path: a, split: "train" },
        { path: b, split: "test" },
      ],
      ingest: { maxRejected: 1 },
    });
    expect((await readAllSamples(store, version)).flat().map((s) => [s.id, (s as TextSample).text])).toEqual([
      ["same", "แรก"],
      ["other", "x"],
    ]);
    expect(version.manifest.splits).toEqual({ train: { rows: 2 } });
    const rejected = await rejectedOf(store, version);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({ reason: "duplicate-id", location: `${b}:1` });
    expect(rejected[0]?.record).toMatchObject({ id: "same", text: "ซ้ำ", source: "b.jsonl" });
  });

  it("labelOf names the files in locations", async () => {
    const dir = await temp.make();
    const path = await mixedFile(dir);
    const { store, version } = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path, split: "train" }],
      ingest: { maxRejected: 10, labelOf: () => "uploads/mixed.jsonl" },
    });
    expect((await rejectedOf(store, version)).map((r) => r.location)).toEqual([
      "uploads/mixed.jsonl:2",
      "uploads/mixed.jsonl:4",
      "uploads/mixed.jsonl:6",
    ]);
  });
});

describe("ingestFiles: JSONL details", () => {
  it("handles a BOM and CRLF line endings end to end", async () => {
    const dir = await temp.make();
    const body = [
      JSON.stringify({ id: "a", text: "หนึ่ง" }),
      JSON.stringify({ id: "b", text: "two" }),
      "",
      JSON.stringify({ id: "c", text: "สาม" }),
    ].join("\r\n");
    const path = await writeText(
      dir,
      "crlf.jsonl",
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]),
    );
    const { store, version } = await buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }] });
    const rows = (await readAllSamples(store, version)).flat() as TextSample[];
    expect(rows.map((r) => [r.id, r.text])).toEqual([
      ["a", "หนึ่ง"],
      ["b", "two"],
      ["c", "สาม"],
    ]);
    expect(version.manifest.rejected).toEqual([]);
  });

  it("a file whose only flaw is an invalid UTF-8 line rejects it as invalid-utf8", async () => {
    const dir = await temp.make();
    const path = await writeText(
      dir,
      "latin1.jsonl",
      Buffer.concat([Buffer.from('{"text":"ok"}\n'), Buffer.from('{"text":"caf\xe9"}\n', "latin1")]),
    );
    const error = (await buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }] }).catch(
      (e: unknown) => e,
    )) as InputRejectedError;
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error.rejected).toMatchObject([{ reason: "invalid-utf8", location: `${path}:2` }]);
    expect(error.rejected[0]?.record).toBe('{"text":"café"}');
  });

  it("fills source from the file name (or input.source), meta {}, and tools null", async () => {
    const dir = await temp.make();
    const a = await writeText(
      dir,
      "chat-a.jsonl",
      jsonl([
        { id: "1", messages: [{ role: "user", content: "สวัสดี" }] },
        { id: "2", source: "own", meta: { k: "v" }, messages: [{ role: "user", content: "hi" }], tools: [] },
      ]),
    );
    const b = await writeText(
      dir,
      "chat-b.jsonl",
      jsonl([{ id: "3", messages: [{ role: "user", content: "yo" }] }]),
    );
    const { store, version } = await buildVersion({
      dir,
      kind: "chat",
      inputs: [
        { path: a, split: "train" },
        { path: b, split: "train", source: "forum-th" },
      ],
    });
    const rows = (await readAllSamples(store, version)).flat() as ChatSample[];
    expect(rows.map((r) => [r.id, r.source, r.meta, r.tools])).toEqual([
      ["1", "chat-a.jsonl", {}, null],
      ["2", "own", { k: "v" }, []],
      ["3", "forum-th", {}, null],
    ]);
  });

  it("derives ids from the content when absent: same content, same id; different content, different id", async () => {
    const dir = await temp.make();
    const records = [{ text: "ไม่มีไอดี" }, { text: "no id either", meta: { a: 1 } }];
    const path = await writeText(dir, "noid.jsonl", jsonl(records));
    const { store, version } = await buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }] });
    const rows = (await readAllSamples(store, version)).flat() as TextSample[];
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.id).toMatch(/^[0-9a-f]{32}$/);
      expect(row.id).toBe(sampleContentHash("text", row).slice(0, 32));
    }
    expect(rows[0]?.id).not.toBe(rows[1]?.id);
    // The id depends on content only: another file with the same text (other source, meta) gets the same id.
    const other = await writeText(dir, "again.jsonl", jsonl([{ text: "ไม่มีไอดี", meta: { b: 2 } }]));
    const again = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: [{ path: other, split: "train" }],
    });
    expect((await readAllSamples(again.store, again.version)).flat()[0]?.id).toBe(rows[0]?.id);
    // ...so within one version a repeated text is a duplicate.
    const both = await buildVersion({
      dir: await temp.make(),
      kind: "text",
      inputs: [
        { path, split: "train" },
        { path: other, split: "train" },
      ],
      ingest: { maxRejected: 1 },
    });
    expect(both.version.manifest.splits).toEqual({ train: { rows: 2 } });
    expect((await rejectedOf(both.store, both.version))[0]).toMatchObject({
      reason: "duplicate-id",
      location: `${other}:1`,
    });
  });

  it("completeSample leaves given ids alone and derives missing ones for every kind", () => {
    const chat = completeSample(
      "chat",
      { messages: [{ role: "user", content: "ก" }] },
      "f.jsonl",
    ) as ChatSample;
    expect(chat).toEqual({
      id: sampleContentHash("chat", { ...chat }).slice(0, 32),
      source: "f.jsonl",
      meta: {},
      tools: null,
      messages: [{ role: "user", content: "ก" }],
    });
    const rl = completeSample(
      "rl-prompt",
      {
        id: "given",
        prompt: [{ role: "user", content: "1+1" }],
        reward_model: { style: "rule", ground_truth: "2" },
      },
      "f",
    ) as RlPromptSample;
    expect(rl.id).toBe("given");
    expect("tools" in rl).toBe(false);
  });

  it("an explicit format overrides the extension", async () => {
    const dir = await temp.make();
    const path = await writeText(dir, "data.txt", jsonl(textRecords(3)));
    const { version } = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path, split: "train", format: "jsonl" }],
    });
    expect(version.manifest.splits).toEqual({ train: { rows: 3 } });
  });
});

describe("ingestFiles: Parquet inputs", () => {
  const chat: ChatSample[] = [
    {
      id: "p1",
      source: "parquet-src",
      meta: { lang: "th" },
      messages: [
        { role: "system", content: "ระบบ" },
        { role: "user", content: "ขอเวลาปัจจุบัน" },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: "t1", type: "function", function: { name: "now", arguments: "{}" } }],
        },
        { role: "tool", content: "10:30", tool_call_id: "t1", name: "now" },
        { role: "assistant", content: "ตอนนี้ 10:30 น. ⏰" },
      ],
      tools: [
        { type: "function", function: { name: "now", parameters: { type: "object", properties: {} } } },
      ],
    },
    {
      id: "p2",
      source: "parquet-src",
      meta: {},
      messages: [{ role: "user", content: "hi 👋" }],
      tools: null,
    },
  ];

  async function roundTrip(kind: "chat" | "text" | "rl-prompt", samples: Sample[]) {
    const dir = await temp.make();
    const path = await writeText(dir, "input.parquet", writeShard(kind, samples));
    const { store, version } = await buildVersion({ dir, kind, inputs: [{ path, split: "train" }] });
    expect(version.manifest.rejected).toEqual([]);
    return (await readAllSamples(store, version)).flat();
  }

  it("reads chat samples written with writeShard back unchanged", async () => {
    const rows = await roundTrip("chat", chat);
    expect(rows.map((r) => canonicalJson(r))).toEqual(chat.map((r) => canonicalJson(r)));
  });

  it("reads text and rl-prompt Parquet files", async () => {
    const text: TextSample[] = [
      { id: "a", source: "s", meta: { n: 1 }, text: "เอกสารที่หนึ่ง" },
      { id: "b", source: "s", meta: {}, text: "doc two" },
    ];
    expect((await roundTrip("text", text)).map((r) => canonicalJson(r))).toEqual(
      text.map((r) => canonicalJson(r)),
    );
    const rl: RlPromptSample[] = [
      {
        id: "r",
        source: "s",
        meta: {},
        prompt: [{ role: "user", content: "๒ × ๓ = ?" }],
        reward_model: { style: "rule", ground_truth: "6" },
      },
    ];
    expect((await roundTrip("rl-prompt", rl)).map((r) => canonicalJson(r))).toEqual(
      rl.map((r) => canonicalJson(r)),
    );
  });

  it("gives a Parquet input the same version as the equivalent JSONL input", async () => {
    const dir = await temp.make();
    const pq = await writeText(dir, "same.parquet", writeShard("chat", chat));
    const js = await writeText(dir, "same.jsonl", jsonl(chat));
    const a = await buildVersion({
      dir: await temp.make(),
      kind: "chat",
      inputs: [{ path: pq, split: "train" }],
    });
    const b = await buildVersion({
      dir: await temp.make(),
      kind: "chat",
      inputs: [{ path: js, split: "train" }],
    });
    expect(a.version.manifest.shards.map((s) => s.sha256)).toEqual(
      b.version.manifest.shards.map((s) => s.sha256),
    );
  });

  it("reports Parquet rows as file#row and rejects rows the schema refuses", async () => {
    const dir = await temp.make();
    const bad: TextSample[] = [
      { id: "ok", source: "s", meta: {}, text: "fine" },
      { id: "empty", source: "s", meta: {}, text: "" },
    ];
    const path = await writeText(dir, "rows.parquet", writeShard("text", bad));
    const { store, version } = await buildVersion({
      dir,
      kind: "text",
      inputs: [{ path, split: "train" }],
      ingest: { maxRejected: 1 },
    });
    expect((await readAllSamples(store, version)).flat().map((s) => s.id)).toEqual(["ok"]);
    expect(await rejectedOf(store, version)).toMatchObject([{ reason: "invalid", location: `${path}#2` }]);
  });

  it("a file with Parquet's magic that Parquet cannot read is rejected as malformed", async () => {
    const dir = await temp.make();
    const path = await writeText(dir, "broken.parquet", "PAR1 this is not really parquet PAR1");
    const error = (await buildVersion({ dir, kind: "text", inputs: [{ path, split: "train" }] }).catch(
      (e: unknown) => e,
    )) as InputRejectedError;
    expect(error).toBeInstanceOf(InputRejectedError);
    expect(error.rejected).toMatchObject([{ reason: "malformed", location: path }]);
    expect(error.message).toMatch(/not a readable Parquet file/);
  });
});
