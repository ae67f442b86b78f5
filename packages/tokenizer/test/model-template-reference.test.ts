/**
 * Every sample of the reference chat and tool-use sets (THAI_DATA_DIR) through each supported chat template:
 * the same text as transformers' apply_chat_template, the same text and spans as the hand-written Qwen3
 * renderer, and spans that hold each assistant's content through the end-of-turn token.
 */
import type { ChatMessage } from "@sovereign/schemas";
import { beforeAll, describe, expect, it } from "vitest";
import { renderQwen3Chat } from "../src/chat-template";
import {
  differences,
  haveTransformers,
  MODELS,
  type Model,
  type Reference,
  type ReferenceCase,
  templates,
  transformersRender,
} from "./hf-reference";
import {
  dataDir,
  type ReferenceSample,
  referenceChatSet,
  referenceSetsPresent,
  referenceToolSet,
} from "./reference-sets";

if (!referenceSetsPresent)
  console.warn(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR): skipping`);

const models = Object.keys(MODELS) as Model[];
/** The hand-written renderer renders a null assistant content as "", where the template itself fails. */
const nullAsEmpty = (messages: readonly ChatMessage[]): ChatMessage[] =>
  messages.map((m) => (m.role === "assistant" && m.content === null ? { ...m, content: "" } : m));

describe.skipIf(!referenceSetsPresent)("chat templates on the reference chat and tool-use sets", () => {
  let chat: ReferenceSample[] = [];
  let tools: ReferenceSample[] = [];
  beforeAll(async () => {
    chat = await referenceChatSet();
    tools = await referenceToolSet();
  });

  it("renders and marks every sample as the hand-written Qwen3 renderer does", () => {
    expect(chat.length).toBeGreaterThan(200);
    expect(tools.length).toBeGreaterThan(1_000);
    const differing: number[] = [];
    [...chat, ...tools].forEach((sample, i) => {
      const messages = nullAsEmpty(sample.messages);
      for (const addGenerationPrompt of [false, true]) {
        const hand = renderQwen3Chat(messages, { tools: sample.tools, addGenerationPrompt });
        const ours = templates.qwen3.renderWithSpans(messages, { tools: sample.tools, addGenerationPrompt });
        if (
          ours.text !== hand.text ||
          JSON.stringify(ours.assistantSpans) !== JSON.stringify(hand.assistantSpans)
        ) {
          differing.push(i);
        }
      }
    });
    expect(differing.slice(0, 5)).toEqual([]);
  });

  it("marks each chat answer through the end-of-turn token, on every template", () => {
    for (const model of models) {
      const template = templates[model];
      const eot = template.endOfTurn();
      const wrong = chat.filter((sample) => {
        const { text, assistantSpans } = template.renderWithSpans(sample.messages);
        const answers = sample.messages.filter((m) => m.role === "assistant").map((m) => m.content ?? "");
        // Llama 3 and Gemma 3 trim message content; Qwen3 writes an empty think block before the last answer.
        const marked = assistantSpans.map((s) => text.slice(s.start, s.end));
        return (
          marked.length !== answers.length ||
          marked.some((m, i) => !m.endsWith(eot) || !m.includes((answers[i] as string).trim()))
        );
      });
      expect(wrong.length, model).toBe(0);
    }
  });

  describe.skipIf(!haveTransformers)("against transformers' apply_chat_template", () => {
    let cases: ReferenceCase[] = [];
    let results: Reference[][] = [];
    beforeAll(() => {
      cases = [...chat, ...tools].flatMap((s) => {
        const out: ReferenceCase[] = [{ messages: s.messages, tools: s.tools }];
        // Qwen3's template fails on a null content (tool calls only): render those calls with "" as well.
        const empty = nullAsEmpty(s.messages);
        if (empty.some((m, i) => m !== s.messages[i])) out.push({ messages: empty, tools: s.tools });
        if (s.messages.at(-1)?.role === "assistant") {
          out.push({ messages: s.messages.slice(0, -1), tools: s.tools, add_generation_prompt: true });
        }
        return out;
      });
      results = transformersRender(models.map((m) => ({ dir: MODELS[m], cases })));
    }, 300_000);

    it("renders every sample as transformers does, on every template", () => {
      models.forEach((model, m) => {
        const expected = results[m] as Reference[];
        const rendered = expected.filter((r) => "text" in r).length;
        console.log(
          `${model}: ${cases.length} cases, ${rendered} rendered, ${cases.length - rendered} refused by the template`,
        );
        expect(differences(templates[model], cases, expected).slice(0, 2), model).toEqual([]);
      });
    });
  });
});
