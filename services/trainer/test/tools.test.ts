/**
 * The tool registry for multi-turn GRPO rollouts: BM25 search over Thai word segments, section lookup by (law,
 * section), tool calls checked against their JSON Schemas with problems named by field, bad calls answered as
 * tool errors, and the appended tool turn equal to what Qwen3's chat template renders.
 */
import { type ChatMessage, TrainingRunSpec } from "@sovereign/schemas";
import { loadQwen3Tokenizer, renderQwen3Chat } from "@sovereign/tokenizer";
import { describe, expect, it } from "vitest";
import {
  answerTurn,
  callProblems,
  createTools,
  lastTurnStart,
  parseToolCalls,
  runToolCalls,
  type Section,
  StatuteIndex,
  sectionOf,
  terms,
  toolTurnText,
} from "../src/tools";
import { CIVIL, CRIMINAL, STATUTES } from "./tools.fixture";

const index = new StatuteIndex(STATUTES);
const tools = createTools(["statute_search", "section_lookup"], index);
const definitions = [...tools.values()].map((t) => t.definition);
const call = (name: string, args: unknown) =>
  `<tool_call>\n${JSON.stringify({ name, arguments: args })}\n</tool_call>`;

describe("statute index", () => {
  it("segments Thai text into words, Thai digits read as Arabic", () => {
    expect(terms("มาตรา ๔๒๐ ผู้ใดจงใจ")).toEqual(["มาตรา", "420", "ผู้", "ใด", "จงใจ"]);
  });

  it("ranks the section sharing the query's rarer words first (BM25)", () => {
    const theft = index.search("ลักทรัพย์ของผู้อื่นโดยทุจริต", 3);
    expect(theft[0]).toMatchObject({ law: CRIMINAL, section: "334" });
    // 335 ทวิ also speaks of theft, but not of taking another's property dishonestly: it ranks below.
    expect(theft.map((h) => h.section)).toContain("335 ทวิ");
    expect(theft[0]?.score).toBeGreaterThan(theft[1]?.score ?? 0);
    expect(index.search("จงใจหรือประมาทเลินเล่อ ทำละเมิด", 1)[0]).toMatchObject({ law: CIVIL, section: "420" });
    expect(index.search("บรรลุนิติภาวะ", 5).map((h) => h.section)).toEqual(["19"]);
    expect(index.search("คอมพิวเตอร์", 3)).toEqual([]);
  });

  it("restricts a search to one law, named exactly or by a part of its name", () => {
    const hits = index.search("ระวางโทษจำคุก สิบปี", 5, "อาญา");
    expect(hits.length).toBeGreaterThan(0);
    for (const hit of hits) expect(hit.law).toBe(CRIMINAL);
    const civil = index.search("อายุความสิบปี", 5, CIVIL).map((h) => h.section);
    expect(civil.slice(0, 2)).toEqual(["193/30", "19"]);
    expect(civil).not.toContain("334");
  });

  it("looks a section up by law and number, in Thai or Arabic digits, with or without มาตรา", () => {
    expect(index.lookup(CIVIL, "420")?.text).toMatch(/^มาตรา ๔๒๐ /);
    expect(index.lookup(CIVIL, "มาตรา ๔๒๐")?.section).toBe("420");
    expect(index.lookup(CIVIL, 420)?.section).toBe("420");
    expect(index.lookup("อาญา", "๓๓๕ทวิ")?.section).toBe("335 ทวิ");
    expect(index.lookup(CIVIL, "193/30")?.section).toBe("193/30");
    expect(index.lookup(CRIMINAL, "420")).toBeUndefined();
    expect(index.lookup("ประมวลกฎหมาย", "420")).toBeUndefined(); // two laws contain the name: ambiguous
  });

  it("reads a sample's section from its meta, else from the heading of its text", () => {
    const fromMeta = sectionOf({
      id: "a",
      source: "s",
      meta: { law_name: `  ${CIVIL} `, section_label: "๑๕๐" },
      text: "มาตรา ๑๕๐ การใด…",
    });
    expect(fromMeta).toEqual<Section>({ law: CIVIL, section: "150", text: "มาตรา ๑๕๐ การใด…" });
    expect(sectionOf({ id: "b", source: "s", meta: {}, text: "มาตรา ๓๓๕ ทวิ ถ้าการลักทรัพย์" })?.section).toBe(
      "335 ทวิ",
    );
    expect(sectionOf({ id: "c", source: "s", meta: {}, text: "บทเฉพาะกาล" })).toBeUndefined();
  });
});

describe("tool calls", () => {
  it("runs statute_search and section_lookup on valid arguments", () => {
    const [search, lookup] = runToolCalls(
      parseToolCalls(
        `${call("statute_search", { query: "ฆ่าผู้อื่น", k: 1 })}\n${call("section_lookup", { law: "แพ่ง", section: "19" })}`,
      ),
      tools,
    );
    expect(search).toBe(`${CRIMINAL} มาตรา 288\n${STATUTES[6]?.text}`);
    expect(lookup).toBe(`${CIVIL} มาตรา 19\n${STATUTES[1]?.text}`);
  });

  it("names the field of each schema violation, as the tool-use validator does", () => {
    expect(callProblems({ name: "statute_search", arguments: { query: 5 } }, definitions)).toEqual([
      "arguments.query: must be string",
    ]);
    expect(callProblems({ name: "statute_search", arguments: { query: "x", k: 9 } }, definitions)).toEqual([
      "arguments.k: must be <= 5",
    ]);
    expect(callProblems({ name: "section_lookup", arguments: { law: CIVIL } }, definitions)).toEqual([
      "arguments: must have required property 'section'",
    ]);
    expect(callProblems({ name: "statute_search", arguments: { query: "x", page: 2 } }, definitions)).toEqual(
      ['arguments: must NOT have additional properties ("page")'],
    );
    expect(callProblems({ name: "web_search", arguments: {} }, definitions)).toEqual([
      'name: calls "web_search", which is not a declared tool (declared: statute_search, section_lookup)',
    ]);
  });

  it("answers bad calls with a tool error instead of failing", () => {
    const turn = [
      "<tool_call>\n{not json}\n</tool_call>",
      call("web_search", { q: "x" }),
      call("statute_search", {}),
      call("section_lookup", { law: "กฎหมายตราสามดวง", section: "1" }),
    ].join("\n");
    const results = runToolCalls(parseToolCalls(turn), tools);
    const more = runToolCalls(
      parseToolCalls(
        [
          ...Array(4).fill(call("statute_search", { query: "ฆ่าผู้อื่น", k: 1 })),
          call("section_lookup", { law: CIVIL, section: "9999" }),
        ].join(""),
      ),
      tools,
    );
    expect(results[0]).toMatch(/^error: the tool call is not JSON: /);
    expect(results[1]).toBe(
      'error: name: calls "web_search", which is not a declared tool (declared: statute_search, section_lookup)',
    );
    expect(results[2]).toBe("error: arguments: must have required property 'query'");
    expect(results[3]).toBe(`error: no law "กฎหมายตราสามดวง" in the corpus (laws: ${CRIMINAL}, ${CIVIL})`);
    expect(more.slice(0, 4).every((r) => r === `${CRIMINAL} มาตรา 288\n${STATUTES[6]?.text}`)).toBe(true);
    expect(more[4]).toBe("error: at most 4 tool calls are answered per turn");
    expect(
      runToolCalls(parseToolCalls(call("section_lookup", { law: CIVIL, section: "9999" })), tools),
    ).toEqual([`error: no section "9999" of ${CIVIL}`]);
    expect(runToolCalls(parseToolCalls('<tool_call>\n["x"]\n</tool_call>'), tools)).toEqual([
      'error: a tool call is a JSON object {"name": <tool>, "arguments": {…}}',
    ]);
    expect(
      runToolCalls(parseToolCalls(`${call("statute_search", { query: "x" }).slice(0, -12)}`), tools),
    ).toEqual(["error: the tool call is not closed by </tool_call>"]);
    expect(parseToolCalls("คำตอบคือมาตรา 420")).toEqual([]);
  });
});

describe("the appended tool turn", () => {
  it("is the chat template's rendering of tool messages after an assistant turn, and the generation prompt", () => {
    const results = ["ผลลัพธ์ที่หนึ่ง", "error: arguments.query: must be string"];
    for (const thinking of [true, false]) {
      const messages: ChatMessage[] = [
        { role: "user", content: "มาตรา ๔๒๐ ว่าอย่างไร" },
        {
          role: "assistant",
          content: "",
          tool_calls: [
            {
              id: "c1",
              type: "function",
              function: { name: "section_lookup", arguments: '{"law": "แพ่ง", "section": "420"}' },
            },
          ],
        },
        ...results.map((content): ChatMessage => ({ role: "tool", content })),
      ];
      const options = { tools: definitions, addGenerationPrompt: true, enableThinking: thinking };
      const whole = renderQwen3Chat(messages, options).text;
      // The assistant turn as the policy wrote it ends at <|im_end|>; the template's newline is appended.
      const turnEnd = whole.lastIndexOf("</tool_call><|im_end|>") + "</tool_call><|im_end|>".length;
      expect(whole.slice(0, turnEnd) + toolTurnText(results, { closed: true, thinking })).toBe(whole);
      expect(toolTurnText(results, { closed: false, thinking })).toBe(
        `<|im_end|>${toolTurnText(results, { closed: true, thinking })}`,
      );
    }
  });

  it("is appended as token ids while turns remain, and cut to maxToolTokens", async () => {
    const tokenizer = await loadQwen3Tokenizer();
    const settings = { tools, maxTurns: 3, thinking: false };
    const turn = `${call("section_lookup", { law: "อาญา", section: "288" })}<|im_end|>`;
    const first = answerTurn(tokenizer.encode(turn), tokenizer, settings);
    if (first.done) throw new Error("a tool call was not answered");
    expect(tokenizer.decode(first.append)).toBe(
      `\n<|im_start|>user\n<tool_response>\n${CRIMINAL} มาตรา 288\n${STATUTES[6]?.text}\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    expect(first.calls).toBe(1);
    // A turn cut by the length limit is closed first.
    const cut = answerTurn(tokenizer.encode(turn.replace("<|im_end|>", "")), tokenizer, settings);
    expect(!cut.done && tokenizer.decode(cut.append).startsWith("<|im_end|>\n<|im_start|>user\n")).toBe(true);
    // The second turn calls again; the third would be the last, so the service still answers the second...
    const twice = [...tokenizer.encode(turn), ...first.append, ...tokenizer.encode(turn)];
    expect(answerTurn(twice, tokenizer, settings).done).toBe(false);
    // ...and a rollout that wrote its maxTurns turns is done, whatever its last turn holds.
    expect(answerTurn(twice, tokenizer, { ...settings, maxTurns: 2 }).done).toBe(true);
    // A turn with no call is the final answer.
    const answered = [...tokenizer.encode(turn), ...first.append, ...tokenizer.encode("ผู้ใดฆ่าผู้อื่น<|im_end|>")];
    expect(answerTurn(answered, tokenizer, settings)).toEqual({ done: true });
    const short = answerTurn(tokenizer.encode(turn), tokenizer, { ...settings, maxToolTokens: 5 });
    if (short.done) throw new Error("a tool call was not answered");
    const response = tokenizer
      .decode(short.append)
      .match(/<tool_response>\n([\s\S]*)\n<\/tool_response>/)?.[1];
    expect(tokenizer.encode(response ?? "")).toHaveLength(5);
    expect(`${CRIMINAL} มาตรา 288`.startsWith(response ?? "x")).toBe(true);
    // The final answer starts after the last assistant header (and its empty think block).
    const header = tokenizer.encode("<|im_start|>assistant\n");
    const start = lastTurnStart(answered, header);
    expect(tokenizer.decode(answered.slice(start))).toBe("<think>\n\n</think>\n\nผู้ใดฆ่าผู้อื่น<|im_end|>");
    expect(lastTurnStart(tokenizer.encode(turn), header)).toBe(0);
  });
});

describe("the run spec's tools", () => {
  const base = {
    stage: "grpo",
    model: { tiny: "tiny" },
    datasets: { prompts: "a".repeat(64) },
    hyper: { totalSteps: 1 },
  };
  it("is read for GRPO stages, with defaults, and refused elsewhere by field", () => {
    const spec = TrainingRunSpec.parse({
      ...base,
      tools: { names: ["statute_search"], corpus: "b".repeat(64) },
    });
    expect(spec.tools).toEqual({ names: ["statute_search"], corpus: "b".repeat(64), maxTurns: 4 });
    const sft = TrainingRunSpec.safeParse({
      ...base,
      stage: "sft",
      datasets: { train: "a".repeat(64) },
      tools: { names: ["statute_search"], corpus: "b".repeat(64) },
    });
    expect(sft.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["tools", "stage sft samples no multi-turn rollouts; only GRPO stages call tools"],
    ]);
    const unknown = TrainingRunSpec.safeParse({
      ...base,
      tools: { names: ["web_search"], corpus: "b".repeat(64) },
    });
    expect(unknown.error?.issues[0]?.path).toEqual(["tools", "names", 0]);
  });
});
