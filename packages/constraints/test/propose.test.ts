import { describe, expect, it } from "vitest";
import { composePrompt, type SeedQuery } from "../src/compose";
import { eligibleTypes, parseProposals, proposalMessages } from "../src/propose";
import { verifyAll } from "../src/registry";

const thai: SeedQuery = { id: "q1", text: "อธิบายวิธีปลูกข้าว", language: "th", source: "fixture" };
const english: SeedQuery = {
  id: "q2",
  text: "Explain how rice is grown.",
  language: "en",
  source: "fixture",
};
const context = { query: thai, responseLanguage: "th" as const, max: 3 };

describe("proposalMessages", () => {
  it("lists every type a Thai answer can meet, with its parameters and an example, and the query", () => {
    const [system, user] = proposalMessages(context);
    expect(user).toEqual({ role: "user", content: thai.text });
    const listed = [...(system?.content.matchAll(/^- (\S+) \{/gm) ?? [])].map((m) => m[1]);
    expect(listed).toEqual(eligibleTypes("th"));
    expect(listed).toContain("thai:word_count");
    // Letter case means nothing in Thai: English-only types are not offered for a Thai answer.
    expect(listed).not.toContain("change_case:english_capital");
    expect(system?.content).toMatch(/- thai:word_count \{num_words: integer, relation: "less than"\|/);
    expect(system?.content).toMatch(
      /- thai:polite_particles \{mode: "required"\|"forbidden", particles\?: string\[\]\}/,
    );
    expect(system?.content).toMatch(/- punctuation:no_comma \{\} e\.g\. "/);
  });

  it("leaves out types weighted 0", () => {
    const [system] = proposalMessages({ ...context, weights: { "thai:word_count": 0 } });
    expect(system?.content).not.toContain("thai:word_count");
    expect(eligibleTypes("th", { "thai:word_count": 0 })).not.toContain("thai:word_count");
  });
});

describe("parseProposals", () => {
  it("keeps registered types with valid parameters, in order, with defaults filled in", () => {
    const reply =
      'Here you go:\n```json\n[{"id": "thai:word_count", "params": {"relation": "at least", "num_words": 40}},' +
      ' {"id": "thai:include_phrases", "params": {"phrases": ["นาข้าว"]}}]\n```';
    const result = parseProposals(reply, context);
    expect(result.discarded).toEqual([]);
    expect(result.accepted).toEqual([
      { id: "thai:word_count", params: { relation: "at least", num_words: 40 } },
      { id: "thai:include_phrases", params: { phrases: ["นาข้าว"], min_count: 1 } },
    ]);
  });

  it("discards everything else with a reason, keeping what the model proposed", () => {
    const proposals = [
      { id: "thai:word_count", params: { relation: "at least", num_words: 40 } },
      { id: "thai:exec_python", params: { code: "print(1)" } },
      { id: "thai:sentence_count", params: { relation: "roughly", num_sentences: 3 } },
      { id: "change_case:english_lowercase", params: {} },
      { id: "length_constraints:number_words", params: { relation: "less than", num_words: 300 } },
      { id: "thai:no_cjk", params: { strict: true } },
      "use fewer words",
      { id: "punctuation:no_comma" },
      { id: "thai:thai_digits_only", params: [] },
      { id: "combination:repeat_prompt", params: { prompt_to_repeat: "something else" } },
      { id: "thai:no_cjk" },
      { id: "thai:arabic_digits_only" },
    ];
    const result = parseProposals(JSON.stringify(proposals), context);
    expect(result.accepted.map((c) => c.id)).toEqual([
      "thai:word_count",
      "punctuation:no_comma",
      "thai:no_cjk",
    ]);
    expect(result.discarded.map((d) => d.reason)).toEqual([
      "unknown-type",
      "invalid-params",
      "wrong-language",
      "conflict",
      "invalid-params",
      "not-a-constraint",
      "invalid-params",
      "invalid-params",
      "over-limit",
    ]);
    expect(result.discarded[0]).toEqual({
      proposal: proposals[1],
      reason: "unknown-type",
      message: 'unknown constraint id "thai:exec_python"',
    });
    expect(result.discarded[1]?.message).toMatch(/thai:sentence_count: param "relation"/);
    expect(result.discarded[3]?.message).toBe(
      "length_constraints:number_words cannot be combined with thai:word_count",
    );
    expect(result.discarded[4]?.message).toMatch(/param "strict"/);
    expect(result.discarded[7]?.message).toMatch(/word for word/);
  });

  it("takes a repeat of the request only when it is the request itself, in the answer's language", () => {
    const repeat = (text: string) =>
      JSON.stringify([{ id: "combination:repeat_prompt", params: { prompt_to_repeat: text } }]);
    expect(parseProposals(repeat(thai.text), context).accepted).toHaveLength(1);
    const forced = parseProposals(repeat(english.text), { query: english, responseLanguage: "th", max: 3 });
    expect(forced.accepted).toEqual([]);
    expect(forced.discarded[0]?.message).toMatch(/not in the answer's language/);
  });

  it("refuses a type weighted 0, and a reply with no JSON array", () => {
    const excluded = parseProposals('[{"id": "thai:no_cjk"}]', { ...context, weights: { "thai:no_cjk": 0 } });
    expect(excluded.discarded[0]?.reason).toBe("excluded-type");
    for (const reply of ["no constraints today", '{"id": "thai:no_cjk"}', "[not json]"]) {
      const result = parseProposals(reply, context);
      expect(result.accepted).toEqual([]);
      expect(result.discarded).toEqual([
        { proposal: reply, reason: "not-json", message: "the reply holds no JSON array of constraints" },
      ]);
    }
  });

  it("gives constraints that compose into a prompt and verify like sampled ones", () => {
    const { accepted } = parseProposals(
      '[{"id": "thai:include_phrases", "params": {"phrases": ["นาข้าว"]}}, {"id": "punctuation:no_comma"}]',
      context,
    );
    const composed = composePrompt(thai, { seed: 1 }, accepted);
    expect(composed.constraints).toEqual(accepted);
    expect(composed.messages.map((m) => m.content).join("\n")).toContain("นาข้าว");
    expect(verifyAll("ชาวนาปลูกข้าวในนาข้าวทุกปี", composed.constraints).pass).toBe(true);
    expect(verifyAll("ชาวนาปลูกข้าว, ทุกปี", composed.constraints).pass).toBe(false);
  });
});
