import { describe, expect, it } from "vitest";
import { getPath, mapRecord } from "../src/mapping";

const oasst = {
  "Unnamed: 0": "42",
  message_id: "8a512668",
  lang: "th",
  prompt: "ลืมรหัสผ่าน Discord ของตัวเอง ทำยังไงดี",
  answer: "ในหน้า Login คุณกรอก email แล้วกด Forget your Password?",
  system: "",
};

describe("getPath", () => {
  it("walks object keys and array indices, and $ is the whole value", () => {
    const value = { a: { b: [{ c: "x" }, { c: "y" }] } };
    expect(getPath(value, "a.b.1.c")).toBe("y");
    expect(getPath(value, "a.b.2.c")).toBeUndefined();
    expect(getPath(value, "a.b.c")).toBeUndefined();
    expect(getPath(value, "$")).toBe(value);
    expect(getPath(value, "$.a.b.0.c")).toBe("x");
    expect(getPath({ toString: 1 }, "toString")).toBe(1);
    expect(getPath({}, "toString")).toBeUndefined();
  });
});

describe("mapRecord: chat", () => {
  it("builds turns from fields, leaving out a blank optional turn", () => {
    const result = mapRecord("chat", oasst, {
      id: "message_id",
      meta: { lang: "lang", row: "Unnamed: 0", absent: "nope" },
      turns: [
        { role: "system", field: "system", optional: true },
        { role: "user", field: "prompt" },
        { role: "assistant", field: "answer" },
      ],
    });
    expect(result).toEqual({
      ok: true,
      input: {
        id: "8a512668",
        meta: { lang: "th", row: "42" },
        messages: [
          { role: "user", content: oasst.prompt },
          { role: "assistant", content: oasst.answer },
        ],
      },
    });
  });

  it("fails a missing or blank required turn, naming the turn and the field", () => {
    const turns = [
      { role: "user", field: "prompt" },
      { role: "assistant", field: "reply" },
    ] as const;
    expect(mapRecord("chat", oasst, { turns: [...turns] })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'turn 2 (assistant): field "reply" is missing',
    });
    expect(mapRecord("chat", { ...oasst, reply: "  " }, { turns: [...turns] })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'turn 2 (assistant): field "reply" is blank',
    });
    expect(mapRecord("chat", { ...oasst, reply: 7 }, { turns: [...turns] })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'turn 2 (assistant): field "reply" is a number, not text',
    });
  });

  it("takes an OpenAI messages array from a field, or from JSON text in one, with tools", () => {
    const messages = [
      { role: "user", content: "อากาศที่กรุงเทพเป็นอย่างไร" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"Bangkok"}' } },
        ],
      },
      { role: "tool", content: "32°C", tool_call_id: "c1" },
    ];
    const tools = [{ type: "function", function: { name: "weather", parameters: { type: "object" } } }];
    const nested = mapRecord(
      "chat",
      { data: { conversation: messages, tools } },
      { messages: "data.conversation", tools: "data.tools" },
    );
    const fromText = mapRecord(
      "chat",
      { c: JSON.stringify(messages), t: JSON.stringify(tools) },
      { messages: "c", tools: "t" },
    );
    expect(nested).toEqual({ ok: true, input: { messages, tools } });
    expect(fromText).toEqual(nested);
  });

  it("names the source field of an invalid message", () => {
    const result = mapRecord(
      "chat",
      {
        conv: [
          { role: "user", content: "hi" },
          { role: "bot", content: "yo" },
        ],
      },
      { messages: "conv" },
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toMatch(/^messages\.1\.role \(from field "conv"\): /);
    expect(mapRecord("chat", { conv: "[{" }, { messages: "conv" })).toMatchObject({
      ok: false,
      reason: "malformed",
      message: expect.stringMatching(/^messages: field "conv" is text but not JSON/),
    });
  });

  it("needs no mapping for records shaped like samples, and says when one is needed", () => {
    const sample = { id: 7, messages: [{ role: "user", content: "สวัสดี" }], tools: null, meta: { from: "x" } };
    expect(mapRecord("chat", sample)).toEqual({
      ok: true,
      input: { id: "7", messages: sample.messages, tools: null, meta: { from: "x" } },
    });
    expect(mapRecord("chat", oasst)).toEqual({
      ok: false,
      reason: "malformed",
      message: 'messages: the record has no "messages" field, and the mapping names none',
    });
  });
});

describe("mapRecord: text", () => {
  it("joins several fields with a blank line, leaving out missing and blank ones", () => {
    const news = {
      title: "ข่าวรัฐบาล",
      lead: "",
      body: "เนื้อข่าว\nบรรทัดสอง",
      url: "https://www.thaigov.go.th/news/1",
    };
    expect(
      mapRecord("text", news, { text: ["title", "lead", "subtitle", "body"], meta: { url: "url" } }),
    ).toEqual({
      ok: true,
      input: { text: "ข่าวรัฐบาล\n\nเนื้อข่าว\nบรรทัดสอง", meta: { url: news.url } },
    });
  });

  it("fails when every text field is missing or blank, naming them", () => {
    expect(mapRecord("text", { title: " " }, { text: ["title", "body"] })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'text: field "title", field "body" are all missing or blank',
    });
    expect(mapRecord("text", { body: ["x"] }, { text: "body" })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'field "body" is an array, not text',
    });
  });

  it("reads the whole record with $, and records with a text field need no mapping", () => {
    expect(mapRecord("text", "บรรทัดเดียว", { text: "$" })).toEqual({ ok: true, input: { text: "บรรทัดเดียว" } });
    expect(mapRecord("text", { text: "เอกสาร", file: "a.txt", index: 0 })).toEqual({
      ok: true,
      input: { text: "เอกสาร" },
    });
    expect(mapRecord("text", { text: "" })).toEqual({
      ok: false,
      reason: "invalid",
      message: expect.stringMatching(/^text \(the record's "text" field\): /),
    });
  });

  it("fails an id mapping whose field is missing", () => {
    expect(mapRecord("text", { text: "x" }, { id: "uuid" })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'id: field "uuid" is missing',
    });
  });
});

describe("mapRecord: rl-prompt", () => {
  it("builds the prompt with a system turn and encodes non-text ground truth as JSON", () => {
    const record = {
      q: "ถ้า ๒ + ๓ เท่ากับเท่าไร ตอบเป็นตัวเลขอารบิก",
      sys: "ตอบสั้น ๆ",
      answer: { value: 5, unit: null },
    };
    expect(mapRecord("rl-prompt", record, { prompt: "q", system: "sys", groundTruth: "answer" })).toEqual({
      ok: true,
      input: {
        prompt: [
          { role: "system", content: record.sys },
          { role: "user", content: record.q },
        ],
        reward_model: { style: "rule", ground_truth: '{"value":5,"unit":null}' },
      },
    });
    expect(
      mapRecord("rl-prompt", { q: "x", a: "5" }, { prompt: "q", groundTruth: "a", rewardStyle: "model" }),
    ).toMatchObject({
      ok: true,
      input: { reward_model: { style: "model", ground_truth: "5" } },
    });
  });

  it("takes prompt messages from a field and fails a missing ground truth by its field", () => {
    const prompt = [{ role: "user", content: "เขียนกลอน" }];
    expect(
      mapRecord("rl-prompt", { p: prompt, rubric: "มีสัมผัส" }, { promptMessages: "p", groundTruth: "rubric" }),
    ).toEqual({
      ok: true,
      input: { prompt, reward_model: { style: "rule", ground_truth: "มีสัมผัส" } },
    });
    expect(mapRecord("rl-prompt", { p: prompt }, { promptMessages: "p", groundTruth: "rubric" })).toEqual({
      ok: false,
      reason: "malformed",
      message: 'ground truth: field "rubric" is missing',
    });
  });

  it("reads records in the prompt + reward_model convention as they are, a string prompt as the user's turn", () => {
    const record = {
      prompt: "2+2?",
      reward_model: { style: "rule", ground_truth: "4" },
      data_source: "gsm8k",
    };
    expect(mapRecord("rl-prompt", record)).toEqual({
      ok: true,
      input: { prompt: [{ role: "user", content: "2+2?" }], reward_model: record.reward_model },
    });
  });
});
