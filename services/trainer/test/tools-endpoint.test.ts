/**
 * Multi-turn rollouts through the trainer service: a GRPO run with tools pins its statute corpus (refused by
 * field when it is no committed text version), its prompts carry the tools block, `/config` tells the engine the
 * tools are on, `POST /turns` answers a tool call with the tool turn's token ids (and a final answer with done),
 * and `POST /rollouts` scores the last assistant turn only.
 */
import { decodeFrame } from "@sovereign/batches";
import { TrainingRunSpec } from "@sovereign/schemas";
import { loadQwen3Tokenizer, type Qwen3Tokenizer } from "@sovereign/tokenizer";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tokenHash } from "../src/runs";
import { pinnedToolCorpus, pinnedVersions } from "../src/versions";
import { createStack, engineAvailable, insertRun, type TestStack, waitForRun } from "./helpers";
import { CIVIL, STATUTES, statuteRows } from "./tools.fixture";

const QUESTION = 'ผู้ใดจงใจทำให้ผู้อื่นเสียหาย ต้องรับผิดตามมาตราใด ตอบเป็น JSON {"articles": [...]}';

describe("a GRPO run with tools", () => {
  let stack: TestStack;
  let tokenizer: Qwen3Tokenizer;
  let corpus: string;
  let prompts: string;
  let chatVersion: string;
  let runId: string;
  const auth = { authorization: "Bearer engine-token", "content-type": "application/json" };
  const spec = () => ({
    name: "agentic",
    stage: "grpo",
    model: { tiny: "tiny", seed: 1 },
    datasets: { prompts },
    hyper: { totalSteps: 2, seqLen: 1024, rowsPerStep: 2, thinking: false },
    tools: { names: ["statute_search", "section_lookup"], corpus, maxTurns: 3, maxToolTokens: 200 },
  });
  const engine = (path: string, body?: unknown, accept = "application/json") =>
    stack.request(`/v1/engine/runs/${runId}/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...auth, accept },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    tokenizer = await loadQwen3Tokenizer();
    stack = await createStack();
    corpus = await stack.version("statutes", "text", statuteRows());
    prompts = await stack.version("legal-prompts", "rl-prompt", [
      {
        id: "q1",
        prompt: [{ role: "user", content: QUESTION }],
        reward_model: { style: "rule", ground_truth: JSON.stringify({ articles: ["420"] }) },
      },
      {
        id: "q2",
        prompt: [{ role: "user", content: QUESTION }],
        reward_model: { style: "rule", ground_truth: JSON.stringify({ articles: ["420"] }) },
      },
    ]);
    chatVersion = await stack.version("chat", "chat", [
      {
        id: "c",
        messages: [
          { role: "user", content: "สวัสดี" },
          { role: "assistant", content: "สวัสดีครับ" },
        ],
      },
    ]);
    const parsed = TrainingRunSpec.parse(spec());
    runId = await insertRun(stack, parsed, {
      status: "running",
      engineTokenSha256: tokenHash("engine-token"),
    });
    const source = { db: stack.trainer.database.db };
    const versions = await pinnedVersions(source, parsed.datasets);
    await stack.trainer.data.prepare(runId, parsed, versions, await pinnedToolCorpus(source, parsed));
  });

  afterAll(async () => {
    await stack?.cleanup();
  });

  it("refuses a tools corpus that is not a committed text version, naming tools.corpus", async () => {
    let res = await stack.post("/v1/training/runs", {
      ...spec(),
      tools: { ...spec().tools, corpus: chatVersion },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^tools\.corpus: version \w+ of chat holds chat samples, but corpus needs text$/,
    );
    const unknown = "cd".repeat(32);
    res = await stack.post("/v1/training/runs", { ...spec(), tools: { ...spec().tools, corpus: unknown } });
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      `tools.corpus: version ${unknown} is not in the registry`,
    );
  });

  it("tells the engine the tools are on, and offers them in every prompt", async () => {
    const config = (await (await engine("config")).json()) as Record<string, unknown>;
    expect(config.tools).toEqual({
      names: ["statute_search", "section_lookup"],
      maxTurns: 3,
      maxToolTokens: 200,
    });
    const frame = decodeFrame(new Uint8Array(await (await engine("batches/1?role=prompts")).arrayBuffer()));
    const offsets = frame.arrays.prompt_offsets as Int32Array;
    const text = tokenizer.decode([...(frame.arrays.prompt_tokens as Int32Array).subarray(0, offsets[1])]);
    expect(text).toContain("# Tools");
    expect(text).toContain('"name": "statute_search"');
    expect(text).toContain('"name": "section_lookup"');
    expect(text.endsWith(`${QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`)).toBe(true);
  });

  it("answers a tool call with the tool turn's ids, a bad call with an error, a final answer with done", async () => {
    const call = (args: unknown) =>
      tokenizer.encode(
        `<tool_call>\n${JSON.stringify({ name: "section_lookup", arguments: args })}\n</tool_call><|im_end|>`,
      );
    const res = await engine("turns", {
      step: 1,
      items: [
        { prompt: "p", promptIds: [1], completionIds: call({ law: "แพ่ง", section: "๔๒๐" }) },
        { prompt: "p", promptIds: [1], completionIds: call({ law: "แพ่ง" }) },
        { prompt: "p", promptIds: [1], completionIds: tokenizer.encode('{"articles": ["420"]}<|im_end|>') },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(200);
    const { items } = (await res.json()) as { items: { done: boolean; append?: number[] }[] };
    expect(items.map((i) => i.done)).toEqual([false, false, true]);
    expect(tokenizer.decode(items[0]?.append ?? [])).toBe(
      `\n<|im_start|>user\n<tool_response>\n${CIVIL} มาตรา 420\n${STATUTES[0]?.text}\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n`,
    );
    expect(tokenizer.decode(items[1]?.append ?? [])).toContain(
      "<tool_response>\nerror: arguments: must have required property 'section'\n</tool_response>",
    );
    const bad = await engine("turns", {
      step: 1,
      items: [{ prompt: "p", promptIds: [1], completionIds: [-1] }],
    });
    expect(bad.status).toBe(400);
  });

  it.skipIf(!engineAvailable)(
    "runs end to end: the engine asks /turns after each turn and reports the tool metrics",
    { timeout: 600_000 },
    async () => {
      const asked: number[] = [];
      const data = stack.trainer.data;
      const tools = data.tools.bind(data);
      data.tools = (id: string) => {
        asked.push(Date.now());
        return tools(id);
      };
      try {
        const res = await stack.post("/v1/training/runs", {
          ...spec(),
          name: "agentic-e2e",
          hyper: { ...spec().hyper, groupSize: 2, maxTokens: 6, lr: 1e-3, checkpointEvery: 0 },
        });
        expect(res.status, await res.clone().text()).toBe(202);
        const run = await waitForRun(stack, ((await res.json()) as { id: string }).id);
        expect(run.status, `${run.error}\n${run.logTail}`).toBe("succeeded");
        const metrics = run.metrics.filter((m) => m.rank === 0).map((m) => m.metrics);
        expect(metrics).toHaveLength(2);
        for (const m of metrics) {
          expect(m.tool_call_fraction).toBeGreaterThanOrEqual(0);
          expect(m.tool_call_fraction).toBeLessThanOrEqual(1);
          expect(m.turns).toBeGreaterThanOrEqual(1);
          expect(m.turns).toBeLessThanOrEqual(3);
        }
        // One request per step at least: after the first turn, every rollout is sent to the service.
        expect(asked.length).toBeGreaterThanOrEqual(2);
      } finally {
        data.tools = tools;
      }
    },
  );

  it("scores the final answer, not the turns before it", async () => {
    const firstTurn = tokenizer.encode(
      `{"articles": ["420"]}\n<tool_call>\n{"name": "statute_search", "arguments": {"query": "ละเมิด"}}\n</tool_call><|im_end|>`,
    );
    const turns = (await (
      await engine("turns", { step: 1, items: [{ prompt: "p", promptIds: [1], completionIds: firstTurn }] })
    ).json()) as { items: { append: number[] }[] };
    const toolTurn = turns.items[0]?.append ?? [];
    const frame = decodeFrame(new Uint8Array(await (await engine("batches/1?role=prompts")).arrayBuffer()));
    const id = (frame.header.prompts as { id: string }[])[0]?.id as string;
    const completion = (answer: string) => [
      ...firstTurn,
      ...toolTurn,
      ...tokenizer.encode(`${answer}<|im_end|>`),
    ];
    const res = await engine("rollouts", {
      step: 1,
      items: [
        { prompt: id, promptIds: [1], completionIds: completion('ตามมาตรา ๔๒๐ {"articles": ["๔๒๐"]}') },
        // The first turn named the right section; the final answer names none, so it earns nothing.
        { prompt: id, promptIds: [1], completionIds: completion("ไม่ทราบ") },
      ],
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { rewards: number[] }).rewards).toEqual([1, 0]);
  });
});
