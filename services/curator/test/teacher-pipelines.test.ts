/**
 * The project's teacher pipelines run by name against a loopback chat-completions server, as a deployment runs
 * them: `thai-autoif` reads its seed queries from the committed `thai-instructions` version and `tool-use-th`
 * renders the committed `tool-use` version's requests in Thai. The teacher is an endpoint the configuration
 * names, the seed version is pinned into the run's spec and becomes the new version's parent, and every seed
 * ends up kept or rejected with its reason. A spec that carries a URL for the teacher, judge or proposer, or
 * names an endpoint the curator lacks, is refused before anything is sent; a run recorded at a URL the worker
 * no longer has fails without sending anything.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Constraint, verifyAll } from "@sovereign/constraints";
import { RENDER_THAI_PROMPT } from "@sovereign/pipeline";
import { thaiAutoif } from "@sovereign/pipelines";
import type { ChatSample, Manifest } from "@sovereign/schemas";
import { TeacherEndpoints } from "@sovereign/teacher";
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
const KEY = "sk-configured-5ecret";

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
      teachers: new TeacherEndpoints({
        teacher: { baseUrl: server.baseUrl, model: "test-teacher", apiKey: KEY },
      }),
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
    const before = server.requests.length;
    const hash = await runToEnd({ spec });
    // The configured key went to the configured URL, with every request.
    expect(server.requests.length).toBeGreaterThan(before);
    expect(new Set(server.requests.slice(before).map((r) => r.authorization))).toEqual(
      new Set([`Bearer ${KEY}`]),
    );

    const manifest = await manifestOf(hash);
    expect(manifest.parents).toEqual([seedVersion]);
    const config = manifest.pipeline?.config as {
      sources: { version?: string }[];
      steps: { teacher?: Record<string, unknown>; propose?: Record<string, unknown> }[];
    };
    expect(config.sources[0]?.version).toBe(seedVersion);
    // The manifest records the endpoint, its URL and the model that made the data, and no key.
    expect(config.steps[0]?.teacher).toMatchObject({
      endpoint: "teacher",
      endpointUrl: server.baseUrl,
      model: "test-teacher",
    });
    expect(config.steps[0]?.propose).toMatchObject({
      endpoint: "teacher",
      endpointUrl: server.baseUrl,
      model: "test-teacher",
    });
    expect(JSON.stringify(manifest)).not.toContain(KEY);

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

  it("refuses a teacher pipeline when the configuration has no teacher endpoint, or it names no model", async () => {
    const saved = curator.config.teachers;
    try {
      curator.config.teachers = new TeacherEndpoints();
      const none = await post("/v1/pipelines/runs", { pipeline: "tool-use-th" });
      expect(none.status).toBe(400);
      expect(((await none.json()) as { error: { message: string } }).error.message).toContain(
        'steps.0.teacher.endpoint: no teacher endpoint is configured, so "teacher" is unknown: set TEACHER_BASE_URL (endpoint teacher) or CURATOR_TEACHER_ENDPOINTS',
      );
      curator.config.teachers = new TeacherEndpoints({ teacher: { baseUrl: server.baseUrl } });
      const noModel = await post("/v1/pipelines/runs", { pipeline: "tool-use-th" });
      expect(noModel.status).toBe(400);
      expect(((await noModel.json()) as { error: { message: string } }).error.message).toContain(
        "steps.0.teacher.model: not in the spec, and endpoint teacher has no model configured (TEACHER_MODEL)",
      );
    } finally {
      curator.config.teachers = saved;
    }
  });
});

describe("teacher endpoints of specs sent over HTTP", () => {
  let curator: TestCurator;
  let server: ChatCompletionsTestServer;
  /** A server of the spec author's choosing: it must never hear from the curator. */
  let elsewhere: ChatCompletionsTestServer;
  const post = (path: string, body: unknown) =>
    curator.app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const spec = (step: Record<string, unknown>) => ({
    name: "endpoint-check",
    dataset: { name: "endpoint-check", kind: "chat" },
    sources: [{ type: "files", name: "seeds", paths: ["seeds.jsonl"] }],
    steps: [{ type: "generate-constrained", compose: { seed: 1 }, teacher: {}, ...step }],
  });
  const refused = async (body: unknown) => {
    const res = await post("/v1/pipelines/runs", body);
    expect(res.status).toBe(400);
    return ((await res.json()) as { error: { code: string; message: string } }).error;
  };

  beforeAll(async () => {
    server = await startChatCompletionsTestServer({ script: () => completion(ANSWER) });
    elsewhere = await startChatCompletionsTestServer({ script: () => completion(ANSWER) });
    curator = await createTestCurator("pglite", {
      teachers: new TeacherEndpoints({
        teacher: { baseUrl: server.baseUrl, model: "test-teacher", apiKey: KEY },
      }),
    });
    const sources = join(curator.dir, "sources");
    await mkdir(sources, { recursive: true });
    curator.config.sourcesDir = sources;
    curator.config.pipelineWorkers = 0;
    await writeFile(join(sources, "seeds.jsonl"), jsonl(SEEDS.map(([id, q]) => chatRow(id, q, "-"))));
    await curator.runs.work();
  });

  afterAll(async () => {
    await curator?.cleanup();
    await server?.close();
    await elsewhere?.close();
  });

  it("refuses a spec whose teacher, judge or proposer has a baseUrl, and queues nothing", async () => {
    for (const [field, step] of [
      ["teacher", { teacher: { baseUrl: elsewhere.baseUrl, model: "m" } }],
      ["judge", { judge: { baseUrl: elsewhere.baseUrl } }],
      ["propose", { propose: { baseUrl: elsewhere.baseUrl } }],
    ] as const) {
      const error = await refused({ spec: spec(step) });
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toContain(
        `steps.0.${field}: baseUrl is not accepted: a spec names an endpoint the operator configured`,
      );
      expect(error.message).toContain(`write "${field}": { "endpoint": "<name>" } instead`);
    }
    expect(await curator.runs.list()).toEqual([]);
    expect(elsewhere.requests).toEqual([]);
  });

  it("refuses an endpoint name the curator does not have, naming the field", async () => {
    const teacher = await refused({ spec: spec({ teacher: { endpoint: "mine" } }) });
    expect(teacher.message).toContain(
      'steps.0.teacher.endpoint: no endpoint named "mine" is configured (configured: teacher)',
    );
    const judge = await refused({ spec: spec({ judge: { endpoint: "mine" } }) });
    expect(judge.message).toContain('steps.0.judge.endpoint: no endpoint named "mine" is configured');
  });

  it("refuses a spec recording another URL for a configured endpoint, and sends nothing there", async () => {
    const error = await refused({ spec: spec({ judge: { endpointUrl: elsewhere.baseUrl } }) });
    expect(error.message).toContain(
      `steps.0.judge.endpointUrl: the spec records endpoint teacher at ${elsewhere.baseUrl}, but it is configured at ${server.baseUrl} here`,
    );
    expect(elsewhere.requests).toEqual([]);
  });

  it("fails a run whose recorded URL is not where the worker has the endpoint now, sending nothing", async () => {
    // The run stops at its budget, so it can be resumed after the endpoint moved.
    const res = await post("/v1/pipelines/runs", {
      spec: spec({ teacher: { budgetTokens: 1, concurrency: 1 } }),
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const stopped = await curator.runs.waitFor(id);
    expect(stopped.status).toBe("failed");
    expect(stopped.error).toContain("token budget of 1 reached");
    const saved = curator.config.teachers;
    curator.config.teachers = new TeacherEndpoints({
      teacher: { baseUrl: elsewhere.baseUrl, model: "test-teacher", apiKey: KEY },
    });
    try {
      await curator.runs.resume(id);
      const moved = await curator.runs.waitFor(id);
      expect(moved.status).toBe("failed");
      expect(moved.error).toContain("the run's teacher endpoints do not match this worker's configuration");
      expect(moved.error).toContain(
        `steps.0.teacher.endpointUrl: the spec records endpoint teacher at ${server.baseUrl}, but it is configured at ${elsewhere.baseUrl} here`,
      );
      expect(elsewhere.requests).toEqual([]);
    } finally {
      curator.config.teachers = saved;
    }
  });
});
