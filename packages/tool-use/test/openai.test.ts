/** OpenAI-format samples: validation messages, canonical form, dedup keys, and rendering through Qwen3's template. */
import { join } from "node:path";
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { loadQwen3Tokenizer } from "@sovereign/tokenizer";
import { describe, expect, it } from "vitest";
import {
  canonicalizeToolSample,
  openAiToolSamples,
  prepareToolSample,
  type ToolSampleRecord,
  toolSampleKey,
  validateToolSample,
} from "../src/index";

async function readFixture(): Promise<Map<string, ToolSampleRecord>> {
  const byLine = new Map<string, ToolSampleRecord>();
  for await (const record of openAiToolSamples(join(import.meta.dirname, "fixtures", "openai.jsonl"), "oa")) {
    byLine.set(record.location, record);
  }
  return byLine;
}

const weather: ToolDefinition = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Weather for a city.",
    parameters: {
      type: "object",
      properties: { city: { type: "string" }, unit: { type: "string", enum: ["celsius", "fahrenheit"] } },
      required: ["city"],
    },
  },
};
const clock: ToolDefinition = {
  type: "function",
  function: { name: "now", parameters: { type: "object", properties: {} } },
};

function callSample(args: string, id = "call_abc"): { messages: ChatMessage[]; tools: ToolDefinition[] } {
  return {
    messages: [
      { role: "user", content: "ร้อนไหม" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id, type: "function", function: { name: "get_weather", arguments: args } }],
      },
      { role: "tool", tool_call_id: id, content: "35" },
    ],
    tools: [weather, clock],
  };
}

describe("openAiToolSamples", () => {
  it("accepts a valid sample in canonical form: sorted tool keys, canonical arguments, renumbered call ids", async () => {
    const record = (await readFixture()).get("oa:1");
    if (!record?.ok) throw new Error(JSON.stringify(record));
    const sample = record.value;
    expect(Object.keys(sample.tools?.[0]?.function ?? {})).toEqual(["description", "name", "parameters"]);
    expect(Object.keys(sample.tools?.[0]?.function.parameters ?? {})).toEqual([
      "properties",
      "required",
      "type",
    ]);
    const assistant = sample.messages[2] as Extract<ChatMessage, { role: "assistant" }>;
    expect(assistant.tool_calls?.[0]).toEqual({
      id: "call_0",
      type: "function",
      function: { name: "get_weather", arguments: '{"city":"Bangkok","days":1,"unit":"celsius"}' },
    });
    expect(sample.messages[3]).toEqual({ role: "tool", tool_call_id: "call_0", content: '{"temp": 35}' });
  });

  it("rejects each bad line with its location, reason and a message naming sample, path and tool", async () => {
    const records = await readFixture();
    const outcome = (line: number) => {
      const record = records.get(`oa:${line}`);
      return record && !record.ok ? `${record.reason}: ${record.message}` : "accepted";
    };
    expect(outcome(2)).toBe(
      'invalid: sample bad-schema: tools[2].function.parameters.properties.unit.type: "celsius" must be equal to one of the allowed values (tool "get_weather")',
    );
    expect(outcome(3)).toBe(
      'invalid: sample bad-arg: messages[1].tool_calls[0].function.arguments/age: must be integer (tool "register")',
    );
    expect(outcome(4)).toBe(
      'invalid: sample unknown-tool: messages[1].tool_calls[0].function.name: calls "wave", which is not a declared tool (declared: greet)',
    );
    expect(outcome(5)).toMatch(/^malformed: not JSON: /);
    // The chat schema refuses arguments that are not the JSON of an object before the tool schemas are looked at.
    expect(outcome(6)).toMatch(
      /^invalid: sample args-not-json: messages\.1\.tool_calls\.0\.function\.arguments: not JSON: /,
    );
    expect(outcome(7)).toMatch(/^invalid: sample bad-role: messages\.0\.role: /);
    const bad = records.get("oa:3");
    expect(bad?.ok === false && JSON.parse(bad.raw).id).toBe("bad-arg");
  });
});

describe("validateToolSample", () => {
  it("accepts a well-formed sample", () => {
    expect(validateToolSample(callSample('{"city": "Bangkok"}'))).toEqual([]);
  });

  it("reports missing required arguments, unknown enum values and non-object arguments", () => {
    expect(validateToolSample(callSample('{"unit": "kelvin"}'))).toEqual([
      "messages[1].tool_calls[0].function.arguments: must have required property 'city' (tool \"get_weather\")",
      'messages[1].tool_calls[0].function.arguments/unit: "kelvin" must be equal to one of the allowed values (tool "get_weather")',
    ]);
    expect(validateToolSample(callSample('["Bangkok"]'))).toEqual([
      'messages[1].tool_calls[0].function.arguments: must be a JSON object, not ["Bangkok"] (tool "get_weather")',
    ]);
  });

  it("reports a tool declared twice and a tool turn answering no call", () => {
    const sample = callSample('{"city": "Bangkok"}');
    sample.tools.push(weather);
    sample.messages.push({ role: "tool", tool_call_id: "call_zzz", content: "?" });
    expect(validateToolSample(sample)).toEqual([
      'tools[2].function.name: tool "get_weather" is declared twice',
      'messages[3].tool_call_id: "call_zzz" answers no earlier tool call in the sample',
    ]);
  });

  it("lets prepareToolSample refuse what validation refuses, and name the sample", () => {
    const prepared = prepareToolSample({ id: "s1", ...callSample('{"city": 7}') });
    expect(prepared).toEqual({
      ok: false,
      message:
        'sample s1: messages[1].tool_calls[0].function.arguments/city: must be string (tool "get_weather")',
    });
  });
});

describe("canonical form and toolSampleKey", () => {
  it("gives the same key to the same sample written differently: whitespace, key order, 1.0, call ids, tool order", () => {
    const a = callSample('{"city": "Bangkok", "unit": "celsius"}', "call_1");
    const b = callSample('{ "unit":"celsius","city":"Bangkok" }', "xyz");
    b.tools.reverse();
    expect(toolSampleKey(a)).toBe(toolSampleKey(b));
    expect(toolSampleKey(a)).toMatch(/^[0-9a-f]{64}$/);
    const numbers = (n: string) => toolSampleKey(callSample(`{"city": "Bangkok", "n": ${n}}`));
    expect(numbers("1.0")).toBe(numbers("1"));
    expect(numbers("1.5")).not.toBe(numbers("1"));
  });

  it("gives a different key when an argument value differs", () => {
    expect(toolSampleKey(callSample('{"city": "Bangkok"}'))).not.toBe(
      toolSampleKey(callSample('{"city": "Hanoi"}')),
    );
  });

  it("refuses to canonicalize arguments that are not JSON, naming where they are", () => {
    expect(() => canonicalizeToolSample(callSample("{city:"))).toThrow(
      /^messages\[1\]\.tool_calls\[0\]\.function\.arguments: not JSON/,
    );
  });
});

describe("rendering through the Qwen3 chat template", () => {
  it("puts each canonical tool in the <tools> block and each call in a <tool_call> block", async () => {
    const tokenizer = await loadQwen3Tokenizer();
    const prepared = prepareToolSample({
      messages: [
        { role: "user", content: "Bangkok and Hanoi, in celsius" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "a",
              type: "function",
              function: { name: "get_weather", arguments: '{"unit":"celsius","city":"Bangkok"}' },
            },
            { id: "b", type: "function", function: { name: "get_weather", arguments: '{"city":"Hanoi"}' } },
          ],
        },
      ],
      tools: [weather],
    });
    if (!prepared.ok) throw new Error(prepared.message);
    const text = tokenizer.renderChat(prepared.sample.messages, { tools: prepared.sample.tools });
    expect(text).toContain(
      "<tools>\n" +
        '{"function": {"description": "Weather for a city.", "name": "get_weather", "parameters": ' +
        '{"properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"}}, ' +
        '"required": ["city"], "type": "object"}}, "type": "function"}\n</tools>',
    );
    expect(text).toContain(
      "<|im_start|>assistant\n<think>\n\n</think>\n\n" +
        '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Bangkok","unit":"celsius"}}\n</tool_call>\n' +
        '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Hanoi"}}\n</tool_call><|im_end|>',
    );
  });
});
