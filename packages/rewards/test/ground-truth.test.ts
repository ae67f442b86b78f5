/** Reward models read into specs: every shape the graders take, and the ones they refuse. */
import { describe, expect, it } from "vitest";
import { parseRewardSpec, RewardSpecError } from "../src/index";

const rule = (ground_truth: string) => ({ style: "rule", ground_truth });

describe("parseRewardSpec", () => {
  it("reads constraint lists, with or without a wrapping object, parameters validated", () => {
    const list = [
      { id: "punctuation:no_comma", params: {} },
      { id: "thai:end_phrase", params: { end_phrase: "ครับ" } },
    ];
    for (const truth of [JSON.stringify({ constraints: list }), JSON.stringify(list)])
      expect(parseRewardSpec(rule(truth))).toEqual({
        grader: "constraints",
        constraints: [
          { id: "punctuation:no_comma", params: {} },
          { id: "thai:end_phrase", params: { end_phrase: "ครับ" } },
        ],
      });
  });

  it("reads the legal shape thai-legal-rl-prompts writes", () => {
    expect(parseRewardSpec(rule('{"label":true,"articles":["288","59"]}'))).toEqual({
      grader: "legal",
      label: true,
      articles: ["288", "59"],
    });
    expect(parseRewardSpec(rule('{"articles":["335 ทวิ"]}'))).toEqual({
      grader: "legal",
      articles: ["335 ทวิ"],
    });
  });

  it("reads reference answers in their several spellings", () => {
    expect(parseRewardSpec(rule("กรุงเทพมหานคร"))).toEqual({ grader: "answer", references: ["กรุงเทพมหานคร"] });
    expect(parseRewardSpec(rule('"Bangkok"'))).toEqual({ grader: "answer", references: ["Bangkok"] });
    expect(parseRewardSpec(rule("42"))).toEqual({ grader: "answer", references: ["42"] });
    expect(parseRewardSpec(rule('["a","b"]'))).toEqual({ grader: "answer", references: ["a", "b"] });
    expect(parseRewardSpec(rule('{"answers":["a"]}'))).toEqual({ grader: "answer", references: ["a"] });
    expect(parseRewardSpec({ style: "model", ground_truth: "" })).toEqual({ grader: "judge", reference: "" });
  });

  it("refuses what no grader reads, naming the problem", () => {
    const bad: [string, RegExp][] = [
      ['[{"id":"no:such_type","params":{}}]', /unknown constraint id "no:such_type"/],
      ['{"constraints":[{"id":"thai:end_phrase","params":{"end":"x"}}]}', /constraint 0: thai:end_phrase/],
      ['{"constraints":[]}', /no constraints/],
      ['{"label":"yes"}', /label must be true or false/],
      ['{"articles":[288]}', /articles must be a list of strings/],
      ['{"something":1}', /has no shape a grader reads/],
    ];
    for (const [truth, message] of bad) {
      expect(() => parseRewardSpec(rule(truth))).toThrow(RewardSpecError);
      expect(() => parseRewardSpec(rule(truth))).toThrow(message);
    }
    expect(() => parseRewardSpec({ style: "human", ground_truth: "" })).toThrow(/neither "rule" nor "model"/);
  });
});
