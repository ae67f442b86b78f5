import { describe, expect, it } from "vitest";
import { containsCjk, scriptStats } from "../src/script";
import { segments, sentences, thaiCharacterClusters, words } from "../src/segment";

describe("segmentation", () => {
  it("splits Thai words with the dictionary, not on spaces", () => {
    expect(words("ประมวลกฎหมายแพ่งและพาณิชย์")).toEqual(["ประมวล", "กฎหมาย", "แพ่ง", "และ", "พาณิชย์"]);
    expect(words("ฉันกินข้าว")).toHaveLength(3);
    expect(words("Hello, ไทย 2024!")).toEqual(["Hello", "ไทย", "2024"]);
    expect(words("")).toEqual([]);
    expect(words("   ")).toEqual([]);
  });

  it("keeps every character in segments", () => {
    const text = "มาตรา ๑ ให้ใช้บังคับ, ตั้งแต่วันนี้ 😊";
    expect(segments(text).join("")).toBe(text);
  });

  it("splits sentences", () => {
    expect(sentences("This is one. This is two.")).toEqual(["This is one.", "This is two."]);
    expect(sentences("")).toEqual([]);
  });

  it("never separates marks from their consonant in character clusters", () => {
    const text = "เกาะกูดน้ำใสมากที่สุด";
    const clusters = thaiCharacterClusters(text);
    expect(clusters.join("")).toBe(text);
    for (const c of clusters) expect(c).not.toMatch(/^[\u0e31\u0e34-\u0e3a\u0e47-\u0e4e]/);
    expect(clusters).toContain("เกาะ");
    expect(thaiCharacterClusters("ab ๑")).toEqual(["a", "b", " ", "๑"]);
  });
});

describe("script statistics", () => {
  it("counts Thai letters with their vowels and marks, ignoring digits and punctuation", () => {
    const stats = scriptStats("ไม่ 123!");
    expect(stats).toMatchObject({ letters: 3, thai: 3, latin: 0, cjk: 0, other: 0 });
    expect(stats.share.thai).toBe(1);
  });

  it("measures mixed Thai, Latin and CJK text", () => {
    const stats = scriptStats("ภาษาไทย English 中文");
    expect(stats.thai).toBe(7);
    expect(stats.latin).toBe(7);
    expect(stats.cjk).toBe(2);
    expect(stats.share.cjk).toBeCloseTo(2 / 16);
    expect(scriptStats("").share.thai).toBe(0);
    expect(scriptStats("Привет").other).toBe(6);
  });

  it("detects code-switching into Chinese, Japanese or Korean", () => {
    expect(containsCjk("คำตอบคือ 因此 ครับ")).toBe(true);
    expect(containsCjk("カタカナ")).toBe(true);
    expect(containsCjk("한국어")).toBe(true);
    expect(containsCjk("คำตอบภาษาไทยล้วน 😊 (ok)")).toBe(false);
  });
});
