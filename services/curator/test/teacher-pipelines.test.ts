/**
 * The project's teacher pipelines run by name against a loopback chat-completions server, as a deployment runs
 * them: `thai-autoif` reads its seed queries from the committed `thai-instructions` version and `tool-use-th`
 * renders the committed `tool-use` version's requests in Thai. The teacher comes from the configuration, the
 * seed version is pinned into the run's spec and becomes the new version's parent, and every seed ends up kept
 * or rejected with its reason.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Constraint, verifyAll } from "@sovereign/constraints";
import { RENDER_THAI_PROMPT } from "@sovereign/pipeline";
import { thaiAutoif } from "@sovereign/pipelines";
import type { ChatSample, Manifest } from "@sovereign/schemas";
import {
  type ChatCompletionsTestServer,
  completion,
  serverError,
  startChatCompletionsTestServer,
} from "@sovereign/teacher/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

/** Thai seed queries; the answers are what the instruction set holds, not what the teacher is asked. */
const SEEDS = [
  ["rice", "อธิบายวิธีปลูกข้าวนาปีให้เกษตรกรมือใหม่"],
  ["tax", "ใครบ้างที่ต้องยื่นภาษีเงินได้บุคคลธรรมดา"],
  ["contract", "สัญญาซื้อขายที่ดินต้องทำอย่างไรจึงจะสมบูรณ์"],
  ["sleep", "นอนไม่หลับควรทำอย่างไรดี"],
  ["music", "เครื่องดนตรีไทยแบ่งออกเป็นกี่ประเภท"],
  ["budget", "ช่วยวางแผนการออมเงินสำหรับพนักงานบริษัท"],
] as const;
const ANSWER = "คำตอบนี้อธิบายเรื่องข้าวและการเพาะปลูกอย่างละเอียดเพื่อให้ผู้อ่านเข้าใจได้ง่าย";

/** The proposer suggests constraints the scripted answer meets, except for the query it cannot help with. */
function proposal(query: string) {
  if (query.includes("ดนตรี")) return "ขออภัย ไม่มีข้อเสนอ";
  return JSON.stringify([
    { id: "thai:include_phrases", params: { phrases: ["ข้าว"] } },
    { id: "punctuation:no_comma" },
    { id: "thai:eval_code", params: { code: "1" } },
  ]);
}

const TOOL_ROWS = [
  {
    id: "weather",
    tools: [
      {
        type: "function",
        function: {
          name: "get_weather",
          description: "Current weather of a city",
          parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
        },
      },
    ],
    messages: [
      { role: "user", content: "What is the weather in Chiang Mai?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "get_weather", arguments: '{"city":"Chiang Mai"}' },
          },
        ],
      },
    ],
  },
  {
    id: "rate",
    tools: [
      {
        type: "function",
        function: {
          name: "exchange_rate",
          description: "Exchange rate between two currencies",
          parameters: {
            type: "object",
            properties: { base: { type: "string" }, quote: { type: "string" } },
            required: ["base", "quote"],
          },
        },
      },
    ],
    messages: [
      { role: "user", content: "How many THB is one EUR today?" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          {
            id: "call_1",
            type: "function",
            function: { name: "exchange_rate", arguments: '{"base":"EUR","quote":"THB"}' },
          },
        ],
      },
    ],
  },
];
const RENDERINGS: Record<string, string> = {
  "What is the weather in Chiang Mai?": "ตอนนี้อากาศที่ Chiang Mai เป็นอย่างไรบ้าง",
  "How many THB is one EUR today?": "วันนี้หนึ่งยูโรแลกได้กี่บาท",
};

describe("teacher pipelines by name", () => {
  let curator: TestCurator;
  let server: ChatCompletionsTestServer;
  const post = (path: string, body: unknown) =>
    curator.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const runToEnd = async (body: unknown) => {
    const res = await post("/v1/pipelines/runs", body);
    expect(res.status, await res.clone().text()).toBe(202);
    const run = await curator.runs.waitFor(((await res.json()) as { id: string }).id);
    expect(run.status, run.error ?? "").toBe("succeeded");
    if (!run.versionHash) throw new Error("the run recorded no version");
    return run.versionHash;
  };
  const samplesOf = async (hash: string) =>
    (
      (await (await curator.app.request(`/v1/versions/${hash}/samples?limit=100`)).json()) as {
        items: { sample: ChatSample }[];
      }
    ).items.map((s) => s.sample);
  const rejectedOf = async (hash: string) =>
    (
      (await (await curator.app.request(`/v1/versions/${hash}/rejected?limit=100`)).json()) as {
        items: { reason: string; action: string; record: ChatSample }[];
      }
    ).items;
  const manifestOf = async (hash: string) =>
    ((await (await curator.app.request(`/v1/versions/${hash}`)).json()) as { manifest: Manifest }).manifest;

  beforeAll(async () => {
    server = await startChatCompletionsTestServer({
      script: (request) => {
        const [system, user] = request.body?.messages ?? [];
        if (system?.content?.startsWith("You write verifiable"))
          return completion(proposal(user?.content ?? ""));
        if (system?.content?.startsWith(RENDER_THAI_PROMPT)) {
          const rendering = RENDERINGS[user?.content ?? ""];
          return rendering ? completion(rendering) : serverError(400, "no scripted rendering");
        }
        return completion([`${ANSWER}, ครับ`, ANSWER]);
      },
    });
    curator = await createTestCurator("pglite", {
      teacher: { baseUrl: server.baseUrl, model: "test-teacher" },
    });
    const sources = join(curator.dir, "sources");
    await mkdir(sources, { recursive: true });
    curator.config.sourcesDir = sources;
    curator.config.pipelineWorkers = 0;
    await writeFile(
      join(sources, "seeds.jsonl"),
      jsonl(SEEDS.map(([id, q]) => chatRow(id, q, `คำตอบเรื่อง ${id}`))),
    );
    await writeFile(join(sources, "tools.jsonl"), jsonl(TOOL_ROWS));
    await curator.runs.work();
  });

  afterAll(async () => {
    await curator?.cleanup();
    await server?.close();
  });

  it("refuses to queue thai-autoif before its seed set has a committed version", async () => {
    const res = await post("/v1/pipelines/runs", { pipeline: "thai-autoif" });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "source thai-instructions reads dataset thai-instructions, which has no committed version yet: build it first",
    );
  });

  it("builds thai-autoif from the committed seed version with the configured teacher", async () => {
    const seedVersion = await runToEnd({
      spec: {
        name: "seed-set",
        dataset: { name: "thai-instructions", kind: "chat" },
        sources: [{ type: "files", name: "wangchanglm-oasst1-th", paths: ["seeds.jsonl"] }],
        steps: [{ type: "normalize" }],
      },
    });
    // The named pipeline as shipped, but with every seed offered to the proposer, so the scripted teacher
    // knows which constraints its answers must meet.
    const [generate, ...rest] = thaiAutoif.steps ?? [];
    const spec = {
      ...thaiAutoif,
      steps: [{ ...(generate as object), propose: { share: 1, max: 3 } }, ...rest],
    };
    const hash = await runToEnd({ spec });

    const manifest = await manifestOf(hash);
    expect(manifest.parents).toEqual([seedVersion]);
    const config = manifest.pipeline?.config as {
      sources: { version?: string }[];
      steps: { teacher?: { baseUrl?: string; model?: string } }[];
    };
    expect(config.sources[0]?.version).toBe(seedVersion);
    expect(config.steps[0]?.teacher).toMatchObject({ baseUrl: server.baseUrl, model: "test-teacher" });

    const kept = await samplesOf(hash);
    const rejected = await rejectedOf(hash);
    expect(kept.map((s) => s.meta.seedId).sort()).toEqual(["budget", "contract", "rice", "sleep", "tax"]);
    for (const sample of kept) {
      const autoif = sample.meta.autoif as { constraints: Constraint[]; proposal: { discarded: unknown[] } };
      expect(sample.messages.at(-1)).toEqual({ role: "assistant", content: ANSWER });
      expect(verifyAll(ANSWER, autoif.constraints).pass).toBe(true);
      expect(autoif.proposal.discarded).toMatchObject([{ reason: "unknown-type" }]);
      expect(sample.source).toBe("thai-instructions");
      expect(sample.meta.origin).toEqual({
        dataset: "thai-instructions",
        version: seedVersion,
        source: "wangchanglm-oasst1-th",
      });
    }
    // The music seed got no usable proposal, so sampled constraints it could not meet: rejected with the reason.
    expect(rejected.filter((r) => r.action === "dropped").map((r) => [r.record.id, r.reason])).toEqual([
      ["music", "no-passing-response"],
    ]);
  });

  it("renders the committed tool-use version in Thai with tool-use-th, unchanged", async () => {
    const toolVersion = await runToEnd({
      spec: {
        name: "tool-fixture",
        dataset: { name: "tool-use", kind: "chat" },
        sources: [{ type: "files", name: "openai-tools", paths: ["tools.jsonl"], format: "openai-tools" }],
        steps: [{ type: "dedup-exact", scope: "content" }],
      },
    });
    const hash = await runToEnd({ pipeline: "tool-use-th" });
    expect((await manifestOf(hash)).parents).toEqual([toolVersion]);
    const kept = await samplesOf(hash);
    expect(kept.map((s) => s.id)).toEqual(["weather"]);
    expect(kept[0]?.messages[0]).toEqual({
      role: "user",
      content: RENDERINGS["What is the weather in Chiang Mai?"],
    });
    // Tools and tool calls come through as the tool-use version holds them.
    const original = (await samplesOf(toolVersion)).find((s) => s.id === "weather");
    expect(kept[0]?.messages[1]).toEqual(original?.messages[1]);
    expect(kept[0]?.tools).toEqual(original?.tools);
    const rejected = await rejectedOf(hash);
    expect(rejected.map((r) => [r.record.id, r.action, r.reason]).sort()).toEqual([
      ["rate", "dropped", "lost-verbatim"],
      ["weather", "modified", "rendered-thai"],
    ]);
  });

  it("refuses a teacher pipeline when neither the spec nor the configuration names the teacher", async () => {
    const saved = curator.config.teacher;
    curator.config.teacher = { baseUrl: undefined, model: undefined };
    try {
      const res = await post("/v1/pipelines/runs", { pipeline: "tool-use-th" });
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string } };
      expect(error.message).toContain(
        "steps.0.teacher.baseUrl: not in the spec, and TEACHER_BASE_URL is not set",
      );
      expect(error.message).toContain("steps.0.teacher.model: not in the spec, and TEACHER_MODEL is not set");
    } finally {
      curator.config.teacher = saved;
    }
  });
});
