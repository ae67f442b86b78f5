/** Completion ids back to the answer: end tokens, think blocks, cut-off completions. */
import { loadQwen3Tokenizer, type Qwen3Tokenizer } from "@sovereign/tokenizer";
import { beforeAll, describe, expect, it } from "vitest";
import { CompletionDecoder, splitThinking } from "../src/index";

let tokenizer: Qwen3Tokenizer;
let decoder: CompletionDecoder;
beforeAll(async () => {
  tokenizer = await loadQwen3Tokenizer();
  decoder = new CompletionDecoder(tokenizer);
});

describe("CompletionDecoder", () => {
  it("cuts at the first end token and ignores what follows", () => {
    const ids = tokenizer.encode("กรุงเทพมหานครครับ<|im_end|>\n<|im_start|>user\nต่อ");
    expect(decoder.decode(ids)).toEqual({
      text: "กรุงเทพมหานครครับ",
      answer: "กรุงเทพมหานครครับ",
      stopped: true,
    });
    expect(decoder.decode(tokenizer.encode("Bangkok<|endoftext|>")).answer).toBe("Bangkok");
  });

  it("leaves out ids past the tokenizer's vocabulary (the embedding table's padding rows) and counts them", () => {
    const ids = [
      ...tokenizer.encode("ละ"),
      151_800,
      ...tokenizer.encode("เมิด"),
      151_935,
      ...tokenizer.encode("<|im_end|>"),
    ];
    expect(tokenizer.vocabSize).toBe(151_669);
    expect(decoder.decode(ids)).toEqual({ text: "ละเมิด", answer: "ละเมิด", stopped: true, unknownIds: 2 });
  });

  it("marks a completion with no end token as unstopped", () => {
    expect(decoder.decode(tokenizer.encode("ตอบยังไม่จบ"))).toMatchObject({
      answer: "ตอบยังไม่จบ",
      stopped: false,
    });
  });

  it("sets a think block apart from the answer", () => {
    const ids = tokenizer.encode("<think>\nผู้ใช้ถามเรื่องเมืองหลวง\n</think>\n\nกรุงเทพฯ<|im_end|>");
    expect(decoder.decode(ids)).toMatchObject({ answer: "กรุงเทพฯ", reasoning: "ผู้ใช้ถามเรื่องเมืองหลวง" });
  });

  it("leaves no answer when only thinking was generated", () => {
    expect(decoder.decode(tokenizer.encode("<think>\nคิดอยู่...\n</think>\n\n<|im_end|>"))).toMatchObject({
      answer: "",
      stopped: true,
    });
    expect(decoder.decode(tokenizer.encode("<think>\nคิดไม่จบ"))).toMatchObject({ answer: "", stopped: false });
  });

  it("decodes an empty completion to an empty answer", () => {
    expect(decoder.decode([])).toEqual({ text: "", answer: "", stopped: false });
    expect(decoder.decode(Int32Array.from(tokenizer.encode("<|im_end|>")))).toEqual({
      text: "",
      answer: "",
      stopped: true,
    });
  });
});

describe("splitThinking", () => {
  it("reads the answer after the last </think>, as the chat template does", () => {
    expect(splitThinking("<think>a</think>b</think>\n c ")).toEqual({ answer: "c", reasoning: "a</think>b" });
    expect(splitThinking("reasoning without an opening tag</think>answer")).toEqual({
      answer: "answer",
      reasoning: "reasoning without an opening tag",
    });
  });
});
