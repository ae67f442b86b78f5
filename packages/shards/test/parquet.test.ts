import type { ChatSample, RlPromptSample, Sample, TextSample } from "@sovereign/schemas";
import { sampleSchemas } from "@sovereign/schemas";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../src/hashing";
import {
  PARQUET_CREATED_BY,
  ROW_GROUP_ROWS,
  readShardRows,
  samplesToArrow,
  shardRowCount,
  writeShard,
} from "../src/parquet";

const chatSamples: ChatSample[] = [
  {
    id: "chat-1",
    source: "hand-written",
    meta: { lang: "th", license: "cc-by-4.0", nested: { score: 0.5, tags: ["a", "ข"] } },
    messages: [
      { role: "system", content: "คุณเป็นผู้ช่วยที่เป็นประโยชน์" },
      { role: "user", content: "สวัสดีครับ วันนี้อากาศเป็นอย่างไร" },
      { role: "assistant", content: "สวัสดีค่ะ 😊 วันนี้อากาศดีมาก" },
    ],
    tools: null,
  },
  {
    id: "chat-tools",
    source: "hand-written",
    meta: {},
    messages: [
      { role: "user", content: "What's the weather in Bangkok? 🌧️" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"กรุงเทพฯ","unit":"c"}' },
          },
          { id: "call_2", type: "function", function: { name: "get_time", arguments: "{}" } },
        ],
      },
      { role: "tool", content: '{"temp":33}', tool_call_id: "call_1", name: "get_weather" },
      { role: "tool", content: "14:00", tool_call_id: "call_2" },
      { role: "tool", content: "orphan result", name: "get_time" },
      {
        role: "assistant",
        content: "It is 33°C in กรุงเทพฯ.",
        tool_calls: [{ id: "call_3", type: "function", function: { name: "log", arguments: '{"ok":true}' } }],
      },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "ดูสภาพอากาศ",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
      { type: "function", function: { name: "get_time" } },
    ],
  },
  {
    id: "chat-empty-tools",
    source: "other-source",
    meta: { emoji: "👩🏽‍💻🇹🇭" },
    messages: [{ role: "user", content: "" }],
    tools: [],
  },
];

const textSamples: TextSample[] = [
  {
    id: "t1",
    source: "wiki-th",
    meta: { url: "https://th.wikipedia.org/wiki/ประเทศไทย" },
    text: "ประเทศไทย 🇹🇭",
  },
  { id: "t2", source: "wiki-en", meta: {}, text: 'Line one\nLine two\r\n\ttabbed "quoted" \\ backslash' },
];

const rlSamples: RlPromptSample[] = [
  {
    id: "rl-1",
    source: "math-th",
    meta: { difficulty: 2 },
    prompt: [
      { role: "system", content: "ตอบเป็นตัวเลขเท่านั้น" },
      { role: "user", content: "๑ + ๒ เท่ากับเท่าไร" },
    ],
    reward_model: { style: "rule", ground_truth: "3" },
  },
  {
    id: "rl-2",
    source: "judge",
    meta: {},
    prompt: [{ role: "user", content: "Write a haiku about rain 🌧️" }],
    reward_model: { style: "model", ground_truth: '{"rubric":["5-7-5"]}' },
  },
];

const canon = (rows: readonly Sample[]) => rows.map((r) => canonicalJson(r));

function textRows(n: number): TextSample[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `row-${String(i).padStart(5, "0")}`,
    source: i % 2 ? "odd" : "even",
    meta: { i },
    text: `แถวที่ ${i} row ${i}`,
  }));
}

describe("Parquet shards", () => {
  it("round-trips chat samples: system/user/assistant, tool calls with null content, tool turns, tools", () => {
    for (const s of chatSamples) sampleSchemas.chat.parse(s);
    const bytes = writeShard("chat", chatSamples);
    const back = readShardRows("chat", bytes);
    expect(canon(back)).toEqual(canon(chatSamples));
    // The rows read back are valid samples again.
    for (const s of back) expect(sampleSchemas.chat.safeParse(s).success).toBe(true);
    const toolTurn = (back[1] as ChatSample).messages[1];
    expect(toolTurn).toMatchObject({ role: "assistant", content: null });
    expect((back[1] as ChatSample).messages[4]).toEqual({
      role: "tool",
      content: "orphan result",
      name: "get_time",
    });
    expect((back[2] as ChatSample).tools).toEqual([]);
    expect((back[0] as ChatSample).tools).toBeNull();
  });

  it("round-trips text samples", () => {
    const back = readShardRows("text", writeShard("text", textSamples));
    expect(canon(back)).toEqual(canon(textSamples));
    expect((back[0] as TextSample).text).toBe("ประเทศไทย 🇹🇭");
  });

  it("round-trips rl-prompt samples", () => {
    const back = readShardRows("rl-prompt", writeShard("rl-prompt", rlSamples));
    expect(canon(back)).toEqual(canon(rlSamples));
    for (const s of back) expect(sampleSchemas["rl-prompt"].safeParse(s).success).toBe(true);
  });

  it("keeps a leading U+FEFF in any string value", () => {
    const rows: TextSample[] = [
      { id: "\uFEFFbom-id", source: "s", meta: { note: "\uFEFFx" }, text: "\uFEFFข้อความที่ขึ้นต้นด้วย BOM" },
    ];
    expect(canonicalJson(readShardRows("text", writeShard("text", rows)))).toBe(canonicalJson(rows));
  });

  it("round-trips an empty shard", () => {
    const bytes = writeShard("text", []);
    expect(shardRowCount(bytes)).toBe(0);
    expect(readShardRows("text", bytes)).toEqual([]);
  });

  it("writes a Parquet file (PAR1 magic) with the project's created_by", () => {
    const bytes = writeShard("text", textSamples);
    const magic = (b: Uint8Array) => Buffer.from(b).toString("latin1");
    expect(magic(bytes.subarray(0, 4))).toBe("PAR1");
    expect(magic(bytes.subarray(bytes.length - 4))).toBe("PAR1");
    expect(Buffer.from(bytes).includes(Buffer.from(PARQUET_CREATED_BY))).toBe(true);
  });

  it("builds an Arrow table with the declared columns", () => {
    const table = samplesToArrow("chat", chatSamples);
    expect(table.numRows).toBe(chatSamples.length);
    expect(table.schema.fields.map((f) => f.name)).toEqual(["id", "source", "messages", "tools", "meta"]);
  });

  it("is deterministic: the same rows give byte-identical files", () => {
    for (const [kind, rows] of [
      ["chat", chatSamples],
      ["text", textSamples],
      ["rl-prompt", rlSamples],
    ] as const) {
      const a = writeShard(kind, rows);
      const b = writeShard(kind, structuredClone(rows));
      expect(sha256Hex(a)).toBe(sha256Hex(b));
      expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    }
    const big = textRows(2500);
    expect(sha256Hex(writeShard("text", big))).toBe(sha256Hex(writeShard("text", textRows(2500))));
  });

  it("different rows give different bytes", () => {
    const changed = structuredClone(textSamples);
    (changed[1] as TextSample).text += "!";
    expect(sha256Hex(writeShard("text", changed))).not.toBe(sha256Hex(writeShard("text", textSamples)));
  });

  describe("windowed reads across row groups", () => {
    const rows = textRows(2500);
    const bytes = writeShard("text", rows);
    const ids = (samples: Sample[]) => samples.map((s) => s.id);

    it("records the row count in the footer", () => {
      expect(ROW_GROUP_ROWS).toBe(1024);
      expect(shardRowCount(bytes)).toBe(2500);
    });

    it("reads all rows without a window", () => {
      expect(canon(readShardRows("text", bytes))).toEqual(canon(rows));
    });

    it.each([
      [0, 1],
      [0, 10],
      [5, 3],
      [1023, 1],
      [1023, 2],
      [1000, 100],
      [1024, 1024],
      [1020, 1030],
      [2047, 3],
      [2048, 452],
      [2400, 100],
      [2499, 1],
      [0, 2500],
      [100, 2300],
    ])("offset %i limit %i", (offset, limit) => {
      const got = readShardRows("text", bytes, { offset, limit });
      expect(ids(got)).toEqual(ids(rows.slice(offset, offset + limit)));
      expect(canon(got)).toEqual(canon(rows.slice(offset, offset + limit)));
    });

    it("clamps a window that runs past the end", () => {
      expect(ids(readShardRows("text", bytes, { offset: 2490, limit: 50 }))).toEqual(ids(rows.slice(2490)));
    });

    it("windows work for chat rows in several row groups", () => {
      const many: ChatSample[] = Array.from({ length: 2100 }, (_, i) => ({
        ...structuredClone(chatSamples[i % chatSamples.length] as ChatSample),
        id: `c-${i}`,
      }));
      const chatBytes = writeShard("chat", many);
      const got = readShardRows("chat", chatBytes, { offset: 1022, limit: 5 });
      expect(canon(got)).toEqual(canon(many.slice(1022, 1027)));
    });
  });
});
