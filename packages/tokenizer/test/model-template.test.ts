/**
 * ModelChatTemplate against Hugging Face transformers' own apply_chat_template (spawned from the engine's
 * Python environment when it is there) on the chat templates of Qwen3, Llama 3, Llama 3 Instruct, DeepSeek-V3
 * and Gemma 3 as their tokenizer packages ship them, and against the hand-written Qwen3 renderer.
 */
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { beforeAll, describe, expect, it } from "vitest";
import { renderQwen3Chat } from "../src/chat-template";
import { ModelChatTemplate, reasoningToField } from "../src/model-template";
import { randomChatCase, seededRandom } from "./conversations";
import {
  differences,
  generationConfigPath,
  generationTemplate,
  haveTransformers,
  MODELS,
  type Model,
  optionsOf,
  type Reference,
  type ReferenceCase,
  readConfig,
  templates,
  transformersRender,
} from "./hf-reference";

// --- fixture conversations ----------------------------------------------------------------------------

const weather: ToolDefinition = {
  type: "function",
  function: {
    name: "get_weather",
    description: "ดูสภาพอากาศ",
    parameters: {
      type: "object",
      properties: {
        province: { type: "string" },
        days: { type: "integer", default: 1 },
        p: { type: "number", minimum: 0.00001 },
      },
      required: ["province"],
    },
  },
};
const call = (id: string, province: string) => ({
  id,
  type: "function" as const,
  function: { name: "get_weather", arguments: JSON.stringify({ province }) },
});

const plain: ChatMessage[] = [
  { role: "system", content: "ตอบเป็นภาษาไทย" },
  { role: "user", content: "สวัสดี" },
  { role: "assistant", content: "สวัสดีครับ มีอะไรให้ช่วยไหม" },
  { role: "user", content: "เมืองหลวงของไทยคืออะไร" },
  { role: "assistant", content: "กรุงเทพมหานคร" },
];
const thinking: ChatMessage[] = [
  { role: "user", content: "2+2?" },
  { role: "assistant", content: "<think>\nบวกเลข\n</think>\n\n4" },
  { role: "user", content: "แล้ว 3+3?" },
  { role: "assistant", content: "<think>\nบวกอีกที\n</think>\n\n6" },
];
const agentic: ChatMessage[] = [
  { role: "system", content: "คุณเป็นผู้ช่วย" },
  { role: "user", content: "พรุ่งนี้เชียงใหม่กับน่านฝนตกไหม" },
  {
    role: "assistant",
    content: "<think>\nต้องเช็กอากาศสองจังหวัด\n</think>\n\n",
    tool_calls: [call("1", "เชียงใหม่"), call("2", "น่าน")],
  },
  { role: "tool", content: '{"rain": true}', tool_call_id: "1" },
  { role: "tool", content: '{"rain": false}', tool_call_id: "2" },
  { role: "assistant", content: "<think>\nเชียงใหม่ตก น่านไม่ตก\n</think>\n\nเชียงใหม่ฝนตก น่านไม่ตกครับ" },
  { role: "user", content: "ขอบคุณ" },
  { role: "assistant", content: "ยินดีครับ" },
];
const nullContent: ChatMessage[] = [
  { role: "user", content: "อากาศน่านเป็นไง" },
  { role: "assistant", content: null, tool_calls: [call("1", "น่าน")] },
  { role: "tool", content: "แดดออก" },
  { role: "assistant", content: "แดดออกครับ" },
];

export const FIXTURES: ReferenceCase[] = [
  { messages: plain },
  { messages: plain, add_generation_prompt: true },
  { messages: plain.slice(0, 4), add_generation_prompt: true, enable_thinking: false },
  { messages: thinking },
  { messages: thinking.slice(0, 3), add_generation_prompt: true, enable_thinking: true },
  { messages: agentic, tools: [weather] },
  { messages: agentic.slice(0, 6), tools: [weather] },
  { messages: agentic.slice(0, 5), tools: [weather], add_generation_prompt: true },
  { messages: agentic, tools: [] },
  { messages: nullContent, tools: [weather] },
  {
    messages: [
      { role: "user", content: "  spaced  \n" },
      { role: "assistant", content: "\n\nanswer  " },
    ],
  },
];

// --- tests ------------------------------------------------------------------------------------------------

describe("ModelChatTemplate on the Qwen3 template", () => {
  const qwen3 = templates.qwen3;

  it("renders and marks exactly what the hand-written renderer does on 1,000 varied conversations", () => {
    const random = seededRandom(20_261_207);
    const cases = Array.from({ length: 1_000 }, () => randomChatCase(random));
    const differing = cases.filter((c) => {
      const options = {
        tools: c.tools,
        addGenerationPrompt: c.add_generation_prompt,
        enableThinking: c.enable_thinking,
      };
      const hand = renderQwen3Chat(c.messages, options);
      const ours = qwen3.renderWithSpans(c.messages, options);
      return (
        ours.text !== hand.text || JSON.stringify(ours.assistantSpans) !== JSON.stringify(hand.assistantSpans)
      );
    });
    expect(differing.slice(0, 2)).toEqual([]);
    // The cases must reach multi-turn reasoning, where the template re-renders earlier turns.
    expect(
      cases.filter((c) => c.messages.filter((m) => m.role === "assistant").length > 2).length,
    ).toBeGreaterThan(100);
  });

  it("marks the same spans as the hand-written renderer on the fixtures, prefix renderings included", () => {
    for (const c of FIXTURES.filter(
      (f) => !f.messages.some((m) => m.role === "assistant" && m.content === null),
    )) {
      const options = {
        tools: c.tools,
        addGenerationPrompt: c.add_generation_prompt,
        enableThinking: c.enable_thinking,
      };
      const ours = qwen3.renderWithSpans(c.messages, options);
      expect(ours.spansFrom).toBe("prefixes");
      const hand = renderQwen3Chat(c.messages, options);
      expect(ours.assistantSpans.map((s) => ours.text.slice(s.start, s.end))).toEqual(
        hand.assistantSpans.map((s) => hand.text.slice(s.start, s.end)),
      );
    }
  });

  it("reads the end of turn, the stop tokens and the generation prompt from the files", () => {
    expect(qwen3.endOfTurn()).toBe("<|im_end|>");
    expect(qwen3.stopTokens()).toEqual(["<|im_end|>"]);
    expect(qwen3.generationPrompt()).toBe("<|im_start|>assistant\n");
    expect(qwen3.generationPrompt({ enableThinking: false })).toBe(
      "<|im_start|>assistant\n<think>\n\n</think>\n\n",
    );
    const config = readConfig(join(MODELS.qwen3, "tokenizer_config.json"));
    const withGeneration = new ModelChatTemplate(config, {
      generationConfig: { eos_token_id: [151645, 151643] },
    });
    expect(withGeneration.stopTokens()).toEqual(["<|im_end|>", "<|endoftext|>"]);
    expect(() => new ModelChatTemplate(config, { generationConfig: { eos_token_id: 7 } })).toThrow(
      /eos_token_id 7/,
    );
  });

  it("reads a model folder as transformers does: chat_template.jinja first, generation_config.json's eos ids", async () => {
    const dir = await mkdtemp(join(tmpdir(), "model-template-"));
    try {
      await copyFile(join(MODELS.qwen3, "tokenizer_config.json"), join(dir, "tokenizer_config.json"));
      const fromConfig = await ModelChatTemplate.fromDir(dir);
      expect(fromConfig.render(plain)).toBe(templates.qwen3.render(plain));
      expect(fromConfig.id).toBe(templates.qwen3.id);
      await writeFile(
        join(dir, "chat_template.jinja"),
        "{% for m in messages %}[{{ m.role }}]{{ m.content }}<|im_end|>{% endfor %}",
      );
      await writeFile(
        join(dir, "generation_config.json"),
        JSON.stringify({ eos_token_id: [151645, 151643] }),
      );
      const fromJinja = await ModelChatTemplate.fromDir(dir);
      expect(fromJinja.render(plain.slice(1, 3))).toBe(
        "[user]สวัสดี<|im_end|>[assistant]สวัสดีครับ มีอะไรให้ช่วยไหม<|im_end|>",
      );
      expect(fromJinja.id).not.toBe(templates.qwen3.id);
      expect(fromJinja.stopTokens()).toEqual(["<|im_end|>", "<|endoftext|>"]);
      await expect(ModelChatTemplate.fromDir(join(dir, "missing"))).rejects.toThrow(
        /has no tokenizer_config.json/,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applies `transform` to message and tool text only", () => {
    const decomposed = "e\u0301";
    const text = qwen3.render([{ role: "user", content: decomposed }], {
      tools: [{ type: "function", function: { name: "n", description: decomposed } }],
      transform: (s) => s.normalize("NFC"),
    });
    expect(text).not.toContain(decomposed);
    expect(text.split("\u00e9").length).toBe(3);
  });
});

describe("reasoning and tool arguments as fields", () => {
  it("moves a leading think block to reasoning_content, which Qwen3's template reads the same way", () => {
    expect(reasoningToField({ role: "assistant", content: "<think>\n\nr\n</think>\n\na" })).toEqual({
      role: "assistant",
      content: "a",
      reasoning_content: "r",
    });
    const untouched: ChatMessage = { role: "assistant", content: "a</think>b" };
    expect(reasoningToField(untouched)).toBe(untouched);
    for (const c of FIXTURES) {
      const options = { ...optionsOf(c), reasoning: "reasoning_content" as const };
      let inline: string;
      try {
        inline = templates.qwen3.render(c.messages, optionsOf(c));
      } catch {
        continue;
      }
      expect(templates.qwen3.render(c.messages, options)).toBe(inline);
    }
    // Llama 3's template ignores the field: the answer alone remains.
    expect(templates.llama3Instruct.render(thinking, { reasoning: "reasoning_content" })).not.toContain(
      "think",
    );
  });

  it("passes tool-call arguments parsed with toolArguments: object", () => {
    const template = new ModelChatTemplate({
      chat_template:
        "{% for m in messages %}{% if m.tool_calls %}{% for c in m.tool_calls %}{{ c.function.arguments | tojson }}" +
        "{% endfor %}{% endif %}{% endfor %}",
    });
    const messages = agentic.slice(0, 3);
    const texts = [{ province: "เชียงใหม่" }, { province: "น่าน" }].map((a) => JSON.stringify(a));
    expect(template.render(messages)).toBe(texts.map((t) => JSON.stringify(t)).join(""));
    expect(template.render(messages, { toolArguments: "object" })).toBe(
      '{"province": "เชียงใหม่"}{"province": "น่าน"}',
    );
  });
});

describe("ModelChatTemplate on other families", () => {
  it("finds each family's end of turn and generation prompt", () => {
    const facts = Object.fromEntries(
      (Object.keys(templates) as Model[]).map((m) => [
        m,
        [templates[m].endOfTurn(), templates[m].generationPrompt(), templates[m].stopTokens()],
      ]),
    );
    expect(facts).toEqual({
      qwen3: ["<|im_end|>", "<|im_start|>assistant\n", ["<|im_end|>"]],
      // This template writes the assistant header whether asked or not: the prompt adds nothing.
      llama3: ["<|eot_id|>", "", ["<|eot_id|>", "<|end_of_text|>"]],
      llama3Instruct: ["<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>\n\n", ["<|eot_id|>"]],
      deepseekV3: ["<｜end▁of▁sentence｜>", "<｜Assistant｜>", ["<｜end▁of▁sentence｜>"]],
      gemma3: ["<end_of_turn>", "<start_of_turn>model\n", ["<end_of_turn>"]],
    });
  });

  it("marks each assistant turn's content through its end-of-turn token", () => {
    for (const model of ["llama3", "llama3Instruct", "deepseekV3", "gemma3"] as const) {
      const template = templates[model];
      const { text, assistantSpans, spansFrom } = template.renderWithSpans(plain);
      expect(spansFrom).toBe("prefixes");
      expect(
        assistantSpans.map((s) => text.slice(s.start, s.end)),
        model,
      ).toEqual(
        plain.filter((m) => m.role === "assistant").map((m) => `${m.content}${template.endOfTurn()}`),
      );
    }
  });

  it("names the template when it refuses a conversation", () => {
    expect(() => templates.gemma3.render(agentic, { tools: [weather] })).toThrow(
      /gemma3: chat template "default" failed: .*alternate/,
    );
  });
});

describe("ModelChatTemplate with {% generation %} blocks and named templates", () => {
  it("takes the spans from the blocks, and the tool_use template when tools are given", () => {
    const plainRun = generationTemplate.renderWithSpans(plain);
    expect(plainRun.spansFrom).toBe("generation");
    expect(plainRun.assistantSpans.map((s) => plainRun.text.slice(s.start, s.end))).toEqual([
      "สวัสดีครับ มีอะไรให้ช่วยไหม<|im_end|>",
      "กรุงเทพมหานคร<|im_end|>",
    ]);
    const tools = generationTemplate.renderWithSpans(plain, { tools: [weather] });
    expect(
      tools.text.startsWith('# Tools\n[\n  {\n    "function": {\n      "description": "ดูสภาพอากาศ"'),
    ).toBe(true);
    expect(tools.text).toContain('"minimum": 1e-05');
    expect(tools.assistantSpans.map((s) => tools.text.slice(s.start, s.end))).toEqual([
      "สวัสดีครับ มีอะไรให้ช่วยไหม<|im_end|>\n",
      "กรุงเทพมหานคร<|im_end|>\n",
    ]);
    expect(generationTemplate.render(plain, { tools: [weather] })).toBe(tools.text);
  });

  it("refuses a list of templates without a default", () => {
    const only = new ModelChatTemplate(
      { chat_template: [{ name: "tool_use", template: "x" }] },
      { source: "t" },
    );
    expect(() => only.render(plain)).toThrow(/none named "default" \(tool_use\)/);
    expect(() => new ModelChatTemplate({}, { source: "empty" })).toThrow(/empty has no chat_template/);
  });

  it("renders Python's strip, trim and tojson", () => {
    const template = new ModelChatTemplate({
      chat_template:
        "{{ messages[0].content.strip('x') }}|{{ messages[0].content[1:].lstrip() }}|{{ messages[0].content | trim('x ') }}|" +
        "{{ tools | tojson(separators=(',', ':')) }}|{{ tools | tojson(ensure_ascii=true) }}",
    });
    const text = template.render([{ role: "user", content: "x\u3000ไทย x" }], {
      tools: [{ type: "function", function: { name: "ไ", parameters: { a: 0.5, b: 1e21 } } }],
    });
    expect(text).toBe(
      '\u3000ไทย |ไทย x|\u3000ไทย|[{"type":"function","function":{"name":"ไ","parameters":{"a":0.5,"b":1e+21}}}]|' +
        '[{"type": "function", "function": {"name": "\\u0e44", "parameters": {"a": 0.5, "b": 1e+21}}}]',
    );
  });
});

describe.skipIf(!haveTransformers)("ModelChatTemplate against transformers' apply_chat_template", () => {
  const models = Object.keys(MODELS) as Model[];
  const fixtures = [
    ...FIXTURES,
    ...FIXTURES.map((c) => ({ ...c, add_generation_prompt: !c.add_generation_prompt })),
  ];
  const random = seededRandom(7);
  const varied = Array.from({ length: 300 }, () => randomChatCase(random));
  const spanCases: ReferenceCase[] = FIXTURES.flatMap((c) => [
    { ...c, spans: true },
    { ...c, tools: [weather], spans: true },
  ]);
  const variableCases: ReferenceCase[] = [{ messages: plain, variables: { date_string: "07 Dec 2026" } }];
  // The fixtures with reasoning moved to reasoning_content, as transformers gets them.
  const fieldCases: ReferenceCase[] = FIXTURES.map((c) => ({
    ...c,
    messages: c.messages.map(reasoningToField) as ChatMessage[],
  }));
  let results: Reference[][] = [];

  beforeAll(() => {
    results = transformersRender([
      ...models.map((m) => ({ dir: MODELS[m], cases: fixtures })),
      ...models.map((m) => ({ dir: MODELS[m], cases: varied })),
      { dir: MODELS.qwen3, template: generationConfigPath, cases: spanCases },
      { dir: MODELS.qwen3, cases: variableCases },
      ...models.map((m) => ({ dir: MODELS[m], cases: fieldCases })),
    ]);
  }, 120_000);

  it("renders the fixtures as transformers does, on every template", () => {
    models.forEach((model, m) => {
      const expected = results[m] as Reference[];
      expect(differences(templates[model], fixtures, expected), model).toEqual([]);
      // Most fixtures render: the comparison is about text, not about agreeing on failures.
      expect(expected.filter((r) => "text" in r).length, model).toBeGreaterThan(fixtures.length / 3);
    });
  });

  it("renders 300 varied conversations as transformers does, on every template", () => {
    models.forEach((model, m) => {
      const expected = results[models.length + m] as Reference[];
      expect(differences(templates[model], varied, expected).slice(0, 2), model).toEqual([]);
    });
  });

  it("finds the spans transformers finds from {% generation %} blocks", () => {
    const expected = results[2 * models.length] as Reference[];
    expect(differences(generationTemplate, spanCases, expected)).toEqual([]);
    spanCases.forEach((c, i) => {
      const reference = expected[i] as Reference;
      if ("error" in reference) return;
      const ours = generationTemplate.renderWithSpans(c.messages, optionsOf(c));
      expect(ours.assistantSpans.map((s) => [s.start, s.end])).toEqual(reference.spans);
    });
    expect(expected.filter((r) => "spans" in r && (r.spans?.length ?? 0) > 0).length).toBeGreaterThan(10);
  });

  it("renders reasoning_content as transformers does, on every template", () => {
    models.forEach((model, m) => {
      const expected = results[2 * models.length + 2 + m] as Reference[];
      const viaOption = FIXTURES.map((c) => ({ ...c, variables: undefined }));
      const ours = viaOption.map((c) => {
        try {
          return templates[model].render(c.messages, { ...optionsOf(c), reasoning: "reasoning_content" });
        } catch {
          return "error";
        }
      });
      expect(
        ours.map((text, i) => {
          const r = expected[i] as Reference;
          return "error" in r ? (text === "error" ? "ok" : text) : text === r.text ? "ok" : text;
        }),
        model,
      ).toEqual(FIXTURES.map(() => "ok"));
    });
  });

  it("passes template variables through, as apply_chat_template's keyword arguments", () => {
    const template = new ModelChatTemplate({
      chat_template: "{{ bos_token }}{{ date_string }}:{{ messages | length }}",
    });
    expect(template.render(plain, { variables: { date_string: "07 Dec 2026" } })).toBe("07 Dec 2026:5");
    const expected = results[2 * models.length + 1] as Reference[];
    expect(differences(templates.qwen3, variableCases, expected)).toEqual([]);
  });
});
