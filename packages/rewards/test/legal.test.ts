/** The legal reward: finding the model's JSON verdict, section normalization, label and section F1. */
import { describe, expect, it } from "vitest";
import { findLegalPrediction, normalizeSection, scoreLegal } from "../src/index";

const gold = { label: true, articles: ["288", "80"] };

describe("normalizeSection", () => {
  it("reads Thai digits, the มาตรา prefix and ordinals written without a space", () => {
    expect(normalizeSection("มาตรา ๒๘๘")).toBe("288");
    expect(normalizeSection("335ทวิ")).toBe("335 ทวิ");
    expect(normalizeSection(" ๓๓๕  ทวิ ")).toBe("335 ทวิ");
    expect(normalizeSection(59)).toBe("59");
  });
});

describe("findLegalPrediction", () => {
  it("takes the last JSON object with articles or a label, fenced or not", () => {
    const answer =
      'ตัวอย่างรูปแบบ {"articles": ["1"], "label": false}\nจำเลยมีความผิดฐานฆ่าผู้อื่นโดยเจตนา\n```json\n{"articles": ["มาตรา ๒๘๘", 80], "label": true}\n```\n{"note": 1}';
    expect(findLegalPrediction(answer)).toEqual({ label: true, articles: ["288", "80"] });
  });

  it("finds nothing in prose or broken JSON", () => {
    expect(findLegalPrediction("จำเลยผิดมาตรา 288")).toBeNull();
    expect(findLegalPrediction('{"articles": ["288", "label": true}')).toBeNull();
  });
});

describe("scoreLegal", () => {
  it("is the label's share plus the sections' F1 share", () => {
    expect(scoreLegal('{"articles": ["288", "80"], "label": true}', gold).reward).toBe(1);
    expect(scoreLegal('{"articles": ["๘๐", "๒๘๘"], "label": false}', gold).reward).toBe(0.5);
    // One of two sections, and one wrong one: precision 1/2, recall 1/2.
    const partial = scoreLegal('{"articles": ["288", "83"], "label": true}', gold);
    expect(partial.reward).toBeCloseTo(0.5 + 0.5 * 0.5);
    expect(partial.detail).toEqual({
      predicted: { label: true, articles: ["288", "83"] },
      labelMatch: true,
      articlesF1: 0.5,
    });
    expect(scoreLegal('{"articles": ["288"], "label": true}', gold, 0.2).reward).toBeCloseTo(
      0.2 + 0.8 * (2 / 3),
    );
  });

  it("scores a missing prediction 0 and uses only what the ground truth has", () => {
    expect(scoreLegal("จำเลยมีความผิดตามมาตรา ๒๘๘", gold)).toEqual({ reward: 0, detail: { predicted: null } });
    expect(scoreLegal('{"label": true}', gold).reward).toBe(0.5);
    expect(scoreLegal('{"articles": ["288"]}', { articles: ["288"] }).reward).toBe(1);
    expect(scoreLegal('{"label": false}', { label: false }).reward).toBe(1);
  });
});
