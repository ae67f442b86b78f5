/** Answer normalization, exact match and token F1 over Thai word segments. */
import { words } from "@sovereign/thai";
import { describe, expect, it } from "vitest";
import { answerTokens, bagF1, exactMatch, normalizeAnswer, tokenF1 } from "../src/index";

describe("normalizeAnswer", () => {
  it("applies NFC, Thai digits, lower case, punctuation and whitespace rules", () => {
    expect(normalizeAnswer("  มาตรา ๒๘๘,\u200b  ประมวลกฎหมายอาญา!! ")).toBe("มาตรา 288 ประมวลกฎหมายอาญา");
    expect(normalizeAnswer('The Answer: "Bangkok" (กรุงเทพฯ).')).toBe("answer bangkok กรุงเทพฯ");
    expect(normalizeAnswer("ก\u0e4d\u0e32")).toBe("กำ"); // decomposed Sara Am
    expect(normalizeAnswer("A\u0301")).toBe("\u00e1");
    expect(normalizeAnswer("…—«»")).toBe("");
  });
});

describe("exactMatch", () => {
  it("matches answers that differ only in what normalization removes", () => {
    expect(exactMatch("๓๓๕ ทวิ", "335 ทวิ")).toBe(true);
    expect(exactMatch("An apple.", "apple")).toBe(true);
    expect(exactMatch("ไม่", "ไม้")).toBe(false); // tone marks are meaning, never stripped
  });
});

describe("token F1", () => {
  it("is SQuAD's F1 over token bags", () => {
    expect(bagF1(["a", "b", "b"], ["b", "b", "c", "d"])).toBeCloseTo(
      (2 * (2 / 3) * (2 / 4)) / (2 / 3 + 2 / 4),
    );
    expect(bagF1([], [])).toBe(1);
    expect(bagF1(["x"], [])).toBe(0);
    expect(tokenF1("The capital is Bangkok.", "Bangkok")).toBeCloseTo(0.5);
  });

  it("segments Thai into words rather than splitting on spaces", () => {
    const prediction = "จำเลยมีความผิดฐานลักทรัพย์";
    const reference = "ความผิดฐานลักทรัพย์";
    const tokens = answerTokens(prediction);
    expect(tokens).toEqual(words(prediction));
    expect(tokens.length).toBeGreaterThan(2);
    const f1 = tokenF1(prediction, reference);
    expect(f1).toBeGreaterThan(0.5);
    expect(f1).toBeLessThan(1);
    expect(tokenF1("ผู้ใดฆ่าผู้อื่น", "ผู้ใด ฆ่า ผู้อื่น")).toBe(1);
    expect(tokenF1("สวัสดี", "ลาก่อน")).toBe(0);
  });
});
