/**
 * scoreRollouts end to end: completions given as real tokenizer ids, each grader on passing and failing Thai
 * and English answers, the edge cases every grader shares, and the LLM judge against the loopback server.
 */
import { TeacherClient } from "@sovereign/teacher";
import {
  type ChatCompletionsTestServer,
  completion,
  startChatCompletionsTestServer,
} from "@sovereign/teacher/testing";
import { loadQwen3Tokenizer, type Qwen3Tokenizer } from "@sovereign/tokenizer";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { JUDGE_SYSTEM_PROMPT_TH, makeJudge, type RolloutItem, scoreRollouts } from "../src/index";

let tokenizer: Qwen3Tokenizer;
beforeAll(async () => {
  tokenizer = await loadQwen3Tokenizer();
});

/** A rollout as the engine sends it: the completion's ids, ending in <|im_end|> unless cut off. */
const ids = (text: string, stopped = true) =>
  Int32Array.from(tokenizer.encode(stopped ? `${text}<|im_end|>` : text));
const rule = (truth: unknown) => ({
  style: "rule",
  ground_truth: typeof truth === "string" ? truth : JSON.stringify(truth),
});

const politeNoComma = rule({
  constraints: [
    { id: "punctuation:no_comma", params: {} },
    { id: "thai:end_phrase", params: { end_phrase: "ครับ" } },
  ],
});

describe("constraint prompts", () => {
  it("pay 1 only when every constraint passes, or the share that pass with partial credit", async () => {
    const items: RolloutItem[] = [
      { rewardModel: politeNoComma, completionIds: ids("กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทยครับ") },
      { rewardModel: politeNoComma, completionIds: ids("กรุงเทพฯ, เชียงใหม่ และภูเก็ตครับ") },
      { rewardModel: politeNoComma, completionIds: ids("กรุงเทพฯ, เชียงใหม่") },
      {
        rewardModel: rule([{ id: "change_case:english_lowercase", params: {} }]),
        completionIds: ids(
          "<think>\nThe user wants lowercase.\n</think>\n\nbangkok is the capital of thailand.",
        ),
      },
      {
        rewardModel: rule([{ id: "change_case:english_lowercase", params: {} }]),
        completionIds: ids("Bangkok."),
      },
    ];
    const all = await scoreRollouts(items, { tokenizer });
    expect(all.rewards).toBeInstanceOf(Float32Array);
    expect(Array.from(all.rewards)).toEqual([1, 0, 0, 1, 0]);
    expect(all.details[1]?.constraints).toMatchObject({
      passed: 1,
      total: 2,
      verdicts: [
        { id: "punctuation:no_comma", pass: false },
        { id: "thai:end_phrase", pass: true },
      ],
    });
    const partial = await scoreRollouts(items, { tokenizer, constraintCredit: "fraction" });
    expect(Array.from(partial.rewards)).toEqual([1, 0.5, 0, 1, 0]);
  });
});

describe("legal prompts", () => {
  it("score the verdict and the cited sections from the answer's JSON line", async () => {
    const truth = rule({ label: true, articles: ["288", "80"] });
    const answer = (json: string) => `จำเลยพยายามฆ่าผู้อื่น จึงมีความผิด\n${json}`;
    const { rewards, details } = await scoreRollouts(
      [
        { rewardModel: truth, completionIds: ids(answer('{"articles": ["๒๘๘", "๘๐"], "label": true}')) },
        { rewardModel: truth, completionIds: ids(answer('{"articles": ["288"], "label": false}')) },
        { rewardModel: truth, completionIds: ids("จำเลยมีความผิดตามมาตรา 288 และ 80") },
      ],
      { tokenizer },
    );
    expect(rewards[0]).toBe(1);
    expect(rewards[1]).toBeCloseTo(0.5 * (2 / 3));
    expect(rewards[2]).toBe(0);
    expect(details[2]).toMatchObject({ grader: "legal", legal: { predicted: null } });
  });
});

describe("answer prompts", () => {
  it("pay token F1 over Thai words, or exact match, Thai digits read as Arabic", async () => {
    const items: RolloutItem[] = [
      { rewardModel: rule("๒๕๖๗"), completionIds: ids("2567") },
      { rewardModel: rule("ความผิดฐานลักทรัพย์"), completionIds: ids("จำเลยมีความผิดฐานลักทรัพย์") },
      { rewardModel: rule(["Bangkok", "กรุงเทพมหานคร"]), completionIds: ids("กรุงเทพมหานคร") },
      { rewardModel: rule("Chiang Mai"), completionIds: ids("Phuket") },
    ];
    const f1 = await scoreRollouts(items, { tokenizer });
    expect(f1.rewards[0]).toBe(1);
    expect(f1.rewards[1]).toBeGreaterThan(0.5);
    expect(f1.rewards[1]).toBeLessThan(1);
    expect(f1.rewards[2]).toBe(1);
    expect(f1.rewards[3]).toBe(0);
    expect(f1.details[0]).toMatchObject({ grader: "answer", answer: { f1: 1, exact: true }, stopped: true });
    const exact = await scoreRollouts(items, { tokenizer, answerMetric: "exact" });
    expect(Array.from(exact.rewards)).toEqual([1, 0, 1, 0]);
  });
});

describe("edge cases", () => {
  it("score an empty answer 0 under every grader, even where the constraints would pass", async () => {
    const onlyThinking = ids("<think>\nไม่มีเครื่องหมายจุลภาคเลย\n</think>\n\n");
    const noComma = rule([{ id: "punctuation:no_comma", params: {} }]);
    const { rewards, details } = await scoreRollouts(
      [
        { rewardModel: noComma, completionIds: new Int32Array(0) },
        { rewardModel: noComma, completionIds: onlyThinking },
        { rewardModel: rule("x"), completionIds: ids("") },
        { rewardModel: rule({ label: false }), completionIds: ids("<think>\nยังคิดไม่จบ", false) },
      ],
      { tokenizer },
    );
    expect(Array.from(rewards)).toEqual([0, 0, 0, 0]);
    expect(details.map((d) => d.empty)).toEqual([true, true, true, true]);
    expect(details[3]?.stopped).toBe(false);
  });

  it("score a cut-off answer as it stands", async () => {
    const { rewards, details } = await scoreRollouts(
      [{ rewardModel: rule("Bangkok"), completionIds: ids("Bangkok", false) }],
      {
        tokenizer,
      },
    );
    expect(rewards[0]).toBe(1);
    expect(details[0]?.stopped).toBe(false);
  });

  it("refuse ground truths no grader reads", async () => {
    await expect(
      scoreRollouts([{ rewardModel: rule([{ id: "nope", params: {} }]), completionIds: ids("x") }], {
        tokenizer,
      }),
    ).rejects.toThrow(/unknown constraint id "nope"/);
  });
});

describe("the LLM judge", () => {
  let server: ChatCompletionsTestServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const prompt = [{ role: "user", content: "อธิบายสั้น ๆ ว่าทำไมท้องฟ้าเป็นสีฟ้า" }];
  const judged = { style: "model", ground_truth: "เพราะการกระเจิงของเรย์ลี" };

  it("pays score / 10, reading Thai digits, and 0 for a reply without a score", async () => {
    server = await startChatCompletionsTestServer({
      queue: [completion("8"), completion("คะแนน ๗ จาก 10"), completion("ดีมาก")],
    });
    const judge = makeJudge({
      client: new TeacherClient({ baseUrl: server.baseUrl, model: "judge", apiKey: null }),
    });
    const answers = ["เพราะแสงสีฟ้ากระเจิงมากกว่า", "แสงอาทิตย์กระเจิง", "ไม่ทราบ"];
    const items = answers.map((a) => ({ rewardModel: judged, prompt, completionIds: ids(a) }));
    // One at a time, so the queued replies meet the answers in order.
    const results = [];
    for (const item of items) results.push(await scoreRollouts([item], { tokenizer, judge }));
    expect(results.map((r) => r.rewards[0])).toEqual([Math.fround(0.8), Math.fround(0.7), 0]);
    expect(results[2]?.details[0]?.judge).toEqual({ score: null, reply: "ดีมาก" });

    const request = server.requests[0]?.body;
    expect(request?.messages?.[0]).toEqual({ role: "system", content: JUDGE_SYSTEM_PROMPT_TH });
    const user = request?.messages?.[1]?.content ?? "";
    expect(user).toContain(prompt[0]?.content);
    expect(user).toContain("คำตอบอ้างอิง:\nเพราะการกระเจิงของเรย์ลี");
    expect(user).toContain(`คำตอบที่ต้องประเมิน:\n${answers[0]}`);
    expect(request).toMatchObject({ temperature: 0, n: 1 });
  });

  it("is not asked about empty answers, and is required for judged prompts", async () => {
    server = await startChatCompletionsTestServer();
    const judge = makeJudge({
      client: new TeacherClient({ baseUrl: server.baseUrl, model: "judge", apiKey: null }),
    });
    const empty = await scoreRollouts([{ rewardModel: judged, prompt, completionIds: ids("") }], {
      tokenizer,
      judge,
    });
    expect(empty.rewards[0]).toBe(0);
    expect(server.requests).toHaveLength(0);
    await expect(
      scoreRollouts([{ rewardModel: judged, prompt, completionIds: ids("x") }], { tokenizer }),
    ).rejects.toThrow(/no judge is configured/);
  });
});
