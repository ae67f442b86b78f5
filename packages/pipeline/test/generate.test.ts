/**
 * The `generate-constrained` step end to end against a loopback chat-completions server: kept samples carry the
 * composed prompt, the first passing answer and `meta.autoif`; seeds with no passing answer, truncated answers
 * or a refused request are dropped with their reasons; the teacher cache makes a rerun free and identical; a spent
 * token budget fails the run; worker threads change nothing. With a judge, the first passing answer it scores at
 * the threshold is kept with its score, and seeds with none are dropped with every score the judge gave.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registry } from "@sovereign/constraints";
import { PipelineSpec, type PipelineSpecInput, type Sample } from "@sovereign/schemas";
import { LocalBlobStore, readVersionSamples } from "@sovereign/shards";
import { TeacherEndpoints } from "@sovereign/teacher";
import {
  type ChatCompletionsTestServer,
  type ChatScript,
  completion,
  serverError,
  startChatCompletionsTestServer,
  truncatedCompletion,
} from "@sovereign/teacher/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JUDGE_PROMPT_TH, parseJudgeScore } from "../src/generate";
import { runPipeline } from "../src/runner";
import { memoryUnits } from "./helpers";

let dir: string;
let server: ChatCompletionsTestServer;
/** The operator's configuration: endpoint `teacher` is the test server, with its key. */
let teachers: TeacherEndpoints;
const TEACHER_KEY = "sk-teacher-5ecret";

const WITH_COMMA = "กรุงเทพมหานคร, เมืองหลวง";
const WITH_CJK = "กรุงเทพมหานครคือ首都ของประเทศไทย";
const CLEAN = "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย";

const LOW = "คำตอบแย่";
const LOWER = "คำตอบแย่มาก";
const VAGUE = "คำตอบกำกวม";
/** What the scripted judge replies to each answer: a score in words, in Thai digits, or no number at all. */
const JUDGE_REPLIES: Record<string, string> = {
  [CLEAN]: "9",
  [WITH_CJK]: "คะแนน ๓/10",
  [LOW]: "2",
  [LOWER]: "1 คะแนน",
  [VAGUE]: "ดีมาก",
};

const judgeSeeds = [
  { id: "th-capital", messages: [{ role: "user", content: "เมืองหลวงของไทยคืออะไร" }] },
  { id: "en-capital", messages: [{ role: "user", content: "What is the capital of Thailand?" }] },
  { id: "th-low", messages: [{ role: "user", content: "ตอบคำถามนี้ LOWSCORE" }] },
  { id: "th-vague", messages: [{ role: "user", content: "ตอบคำถามนี้ VAGUE" }] },
];

const seeds = [
  { id: "th-capital", messages: [{ role: "user", content: "เมืองหลวงของไทยคืออะไร" }], meta: { topic: "geo" } },
  { id: "en-capital", messages: [{ role: "user", content: "What is the capital of Thailand?" }] },
  { id: "th-fail", messages: [{ role: "user", content: "ตอบคำถามนี้ FAILALL" }] },
  { id: "th-long", messages: [{ role: "user", content: "เขียนเรียงความยาว TRUNCATE" }] },
  { id: "th-refused", messages: [{ role: "user", content: "คำถามที่ถูกปฏิเสธ REFUSE" }] },
];

const spec = (teacher: Record<string, unknown> = {}): PipelineSpecInput => ({
  name: "autoif-test",
  dataset: { name: "autoif-test", kind: "chat" },
  sources: [{ type: "files", name: "seeds", paths: ["seeds.jsonl"] }],
  steps: [
    {
      type: "generate-constrained",
      compose: { seed: 7, constraints: { min: 1, max: 1 }, weights: onlyNoComma() },
      teacher: { model: "test-teacher", n: 3, retries: 0, ...teacher },
    },
    { type: "normalize" },
    { type: "dedup-exact", scope: "content" },
  ],
  batchSize: 2,
});

/** Every registered type off but `punctuation:no_comma`, which the scripted answers pass or fail on sight. */
function onlyNoComma(): Record<string, number> {
  return { ...Object.fromEntries([...registry.keys()].map((id) => [id, 0])), "punctuation:no_comma": 1 };
}

async function run(
  input: PipelineSpecInput,
  options: { workers?: number; teacherCache: string; teachers?: TeacherEndpoints },
) {
  return runPipeline({
    spec: PipelineSpec.parse(input),
    baseDir: dir,
    cacheDir: join(dir, "cache"),
    teacherCacheDir: options.teacherCache,
    scratchDir: await mkdtemp(join(dir, "run-")),
    store: new LocalBlobStore(join(dir, "blobs")),
    units: memoryUnits(),
    teachers: options.teachers ?? teachers,
    workers: options.workers ?? 0,
  });
}

async function keptOf(result: Awaited<ReturnType<typeof run>>): Promise<Sample[]> {
  const kept: Sample[] = [];
  const store = new LocalBlobStore(join(dir, "blobs"));
  for await (const shard of readVersionSamples(store, result.built.hash, result.built.manifest))
    kept.push(...shard.samples);
  return kept;
}

type Rejected = { step: string; reason: string; message: string; detail?: unknown; record: Sample };
async function rejectedOf(result: Awaited<ReturnType<typeof run>>): Promise<Rejected[]> {
  const entry = result.built.manifest.rejected[0];
  if (!entry) return [];
  const text = new TextDecoder().decode(await new LocalBlobStore(join(dir, "blobs")).get(entry.sha256));
  return text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Rejected);
}

/** The scripted teacher, judge and proposer. */
const script: ChatScript = (request) => {
  const [system, user] = request.body?.messages ?? [];
  if (system?.content === JUDGE_PROMPT_TH) {
    const answer = Object.keys(JUDGE_REPLIES).find((text) => user?.content?.endsWith(`\n${text}`));
    return answer ? completion(JUDGE_REPLIES[answer] as string) : serverError(400, "no scripted judgement");
  }
  if (system?.content?.startsWith("You write verifiable")) {
    if (user?.content?.includes("เมืองหลวง"))
      return completion(
        JSON.stringify([
          { id: "punctuation:no_comma" },
          { id: "thai:word_count", params: { relation: "at least", num_words: 3 } },
          { id: "thai:run_code", params: { code: "exit()" } },
          { id: "detectable_format:title" },
        ]),
      );
    return completion("I cannot think of any constraints for this one.");
  }
  const prompt = (request.body?.messages ?? []).map((m) => m.content ?? "").join("\n");
  if (prompt.includes("FAILALL")) return completion([WITH_COMMA, "หนึ่ง, สอง", "สาม, สี่"]);
  if (prompt.includes("TRUNCATE")) return truncatedCompletion("เรียงความที่ยังไม่จบ");
  if (prompt.includes("LOWSCORE")) return completion([LOW, LOWER, "หนึ่ง, สอง"]);
  if (prompt.includes("VAGUE")) return completion([VAGUE, LOW]);
  if (prompt.includes("REFUSE")) return serverError(400, "this request is refused");
  return completion([WITH_COMMA, WITH_CJK, CLEAN]);
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pipeline-generate-"));
  await writeFile(join(dir, "seeds.jsonl"), `${seeds.map((s) => JSON.stringify(s)).join("\n")}\n`);
  await writeFile(join(dir, "judge-seeds.jsonl"), `${judgeSeeds.map((s) => JSON.stringify(s)).join("\n")}\n`);
  server = await startChatCompletionsTestServer({ script });
  teachers = new TeacherEndpoints({ teacher: { baseUrl: server.baseUrl, apiKey: TEACHER_KEY } });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("generate-constrained", () => {
  let first: Awaited<ReturnType<typeof run>>;
  let requestsAfterFirst: number;
  const cache = () => join(dir, "teacher-a");

  it("keeps the composed prompt with the first answer that passes, and says how it was made", async () => {
    first = await run(spec(), { teacherCache: cache() });
    requestsAfterFirst = server.requests.length;
    expect(requestsAfterFirst).toBe(seeds.length);
    expect(server.requests[0]?.body).toMatchObject({ n: 3, model: "test-teacher", temperature: 0.7 });
    expect(server.requests.map((r) => r.authorization)).toEqual(seeds.map(() => `Bearer ${TEACHER_KEY}`));

    const kept = (await keptOf(first)) as Extract<Sample, { messages: unknown }>[];
    expect(kept).toHaveLength(2);
    const bySeed = Object.fromEntries(kept.map((s) => [s.meta.seedId as string, s]));
    const thai = bySeed["th-capital"];
    const english = bySeed["en-capital"];
    if (!thai || !english) throw new Error(`kept seeds: ${Object.keys(bySeed).join(", ")}`);

    // Thai: the comma answer fails the constraint, the CJK one is code-switching, the third passes.
    expect(thai.messages.at(-1)).toEqual({ role: "assistant", content: CLEAN });
    expect(thai.messages.some((m) => m.role === "user" && m.content?.includes("เมืองหลวงของไทยคืออะไร"))).toBe(
      true,
    );
    expect(thai.tools).toBeNull();
    expect(thai.meta).toMatchObject({
      topic: "geo",
      seedId: "th-capital",
      autoif: {
        constraints: [{ id: "punctuation:no_comma" }],
        responseLanguage: "th",
        teacherModel: "test-teacher",
        verification: [{ id: "punctuation:no_comma", pass: true }],
        candidates: 3,
        passed: 1,
      },
    });
    expect(thai.id).not.toBe("th-capital");
    // English: CJK in an English answer is not code-switching from Thai, so the second answer is the first to pass.
    expect(english.messages.at(-1)?.content).toBe(WITH_CJK);
    expect(english.meta).toMatchObject({ autoif: { responseLanguage: "en", passed: 2 } });

    const rejected = await rejectedOf(first);
    const byReason = Object.fromEntries(rejected.map((r) => [r.record.id, r]));
    expect(byReason["th-fail"]).toMatchObject({
      step: "1-generate-constrained",
      reason: "no-passing-response",
      detail: {
        constraints: ["punctuation:no_comma"],
        candidates: [
          { index: 0, failed: ["punctuation:no_comma"] },
          { index: 1, failed: ["punctuation:no_comma"] },
          { index: 2, failed: ["punctuation:no_comma"] },
        ],
      },
    });
    expect(byReason["th-long"]).toMatchObject({
      reason: "no-passing-response",
      detail: { candidates: [{ truncated: true }, { truncated: true }, { truncated: true }] },
    });
    expect(byReason["th-long"]?.message).toContain("#0 truncated");
    expect(byReason["th-refused"]).toMatchObject({ reason: "teacher-error" });
    expect(byReason["th-refused"]?.message).toContain("this request is refused");

    const generate = first.steps.find((s) => s.step === "1-generate-constrained");
    expect(generate).toMatchObject({
      in: 5,
      out: 2,
      dropped: { "no-passing-response": 2, "teacher-error": 1 },
    });
    expect(first.steps.find((s) => s.step === "2-normalize")).toMatchObject({ in: 2, out: 2 });
  });

  it("reruns from the teacher cache without a request and builds the same version", async () => {
    const again = await run(spec(), { teacherCache: cache() });
    // The refused seed is not cached, so only it is asked again.
    expect(server.requests.length - requestsAfterFirst).toBe(1);
    expect(JSON.stringify(server.requests.at(-1)?.body?.messages)).toContain("REFUSE");
    expect(again.built.hash).toBe(first.built.hash);
  });

  it("gives the same version with worker threads as in one thread", async () => {
    const inThread = await run(spec(), { teacherCache: join(dir, "teacher-b"), workers: 0 });
    const threaded = await run(spec(), { teacherCache: join(dir, "teacher-c"), workers: 2 });
    expect(threaded.built.hash).toBe(inThread.built.hash);
    expect(inThread.built.hash).toBe(first.built.hash);
  });

  it("fails the run once the token budget is spent", async () => {
    await expect(
      run(spec({ budgetTokens: 1, concurrency: 1 }), { teacherCache: join(dir, "teacher-d") }),
    ).rejects.toThrow(/token budget of 1 reached/);
  });

  it("must come first, in a chat pipeline", () => {
    const base = spec();
    const [generate, normalize] = base.steps ?? [];
    expect(PipelineSpec.safeParse({ ...base, steps: [normalize, generate] }).success).toBe(false);
    const text = PipelineSpec.safeParse({ ...base, dataset: { name: "t", kind: "text" } });
    expect(text.success).toBe(false);
    expect(text.error?.issues[0]?.message).toMatch(/makes chat samples/);
  });
});

describe("generate-constrained with a judge", () => {
  const judgeSpec = (
    judge: Record<string, unknown> = {},
    teacher: Record<string, unknown> = {},
  ): PipelineSpecInput => {
    const base = spec(teacher);
    const [generate, ...rest] = base.steps ?? [];
    return {
      ...base,
      sources: [{ type: "files", name: "seeds", paths: ["judge-seeds.jsonl"] }],
      steps: [{ ...generate, judge } as NonNullable<PipelineSpecInput["steps"]>[number], ...rest],
    };
  };
  const isJudgement = (request: (typeof server.requests)[number]) =>
    request.body?.messages?.[0]?.content === JUDGE_PROMPT_TH;
  let first: Awaited<ReturnType<typeof run>>;
  let requestsBefore: number;
  let requestsAfterFirst: number;
  const cache = () => join(dir, "teacher-judge-a");

  it("keeps the first passing answer the judge scores at the threshold, with its score", async () => {
    requestsBefore = server.requests.length;
    first = await run(judgeSpec(), { teacherCache: cache() });
    requestsAfterFirst = server.requests.length;
    const asked = server.requests.slice(requestsBefore);
    const judgements = asked.filter(isJudgement);
    // One request per seed, then one judgement per passing candidate until one reaches the threshold.
    expect(asked.length - judgements.length).toBe(judgeSeeds.length);
    expect(judgements).toHaveLength(1 + 2 + 2 + 2);
    expect(judgements[0]?.body).toMatchObject({
      model: "test-teacher",
      n: 1,
      temperature: 0,
      max_tokens: 16,
    });
    // Seeds are judged concurrently, so judgements arrive in no fixed order across seeds.
    const thaiJudgement = judgements.find((j) =>
      j.body?.messages?.[1]?.content?.includes("เมืองหลวงของไทยคืออะไร"),
    );
    expect(thaiJudgement?.body?.messages?.[1]?.content).toMatch(/^คำขอของผู้ใช้:\n[\s\S]*\n\nคำตอบ:\n/);

    const kept = (await keptOf(first)) as Extract<Sample, { messages: unknown }>[];
    const bySeed = Object.fromEntries(kept.map((s) => [s.meta.seedId as string, s]));
    expect(Object.keys(bySeed).sort()).toEqual(["en-capital", "th-capital"]);
    expect(bySeed["th-capital"]?.meta).toMatchObject({
      autoif: { passed: 1, judge: { model: "test-teacher", score: 9, threshold: 8 } },
    });
    // English: the first passing answer scores 3 (in Thai digits), so the judge's 9 for the second decides.
    expect(bySeed["en-capital"]?.messages.at(-1)?.content).toBe(CLEAN);
    expect(bySeed["en-capital"]?.meta).toMatchObject({ autoif: { passed: 2, judge: { score: 9 } } });

    const rejected = Object.fromEntries((await rejectedOf(first)).map((r) => [r.record.id, r]));
    expect(rejected["th-low"]).toMatchObject({
      reason: "judge-below-threshold",
      detail: {
        threshold: 8,
        candidates: [
          { index: 0, score: 2 },
          { index: 1, score: 1 },
        ],
      },
    });
    expect(rejected["th-low"]?.message).toContain("#0 scored 2; #1 scored 1");
    expect(rejected["th-vague"]).toMatchObject({
      reason: "judge-below-threshold",
      detail: {
        candidates: [
          { index: 0, score: null, reply: "ดีมาก" },
          { index: 1, score: 2 },
        ],
      },
    });
    expect(rejected["th-vague"]?.message).toContain("#0 unparseable judge reply");
    expect(first.steps.find((s) => s.step === "1-generate-constrained")).toMatchObject({
      in: 4,
      out: 2,
      dropped: { "judge-below-threshold": 2 },
    });
  });

  it("reruns from the cache without asking the teacher or the judge again", async () => {
    const again = await run(judgeSpec(), { teacherCache: cache() });
    expect(server.requests.length).toBe(requestsAfterFirst);
    expect(again.built.hash).toBe(first.built.hash);
  });

  it("asks a judge model of its own when one is named, and a lower threshold keeps more", async () => {
    const before = server.requests.length;
    const result = await run(judgeSpec({ model: "test-judge", threshold: 2 }), {
      teacherCache: join(dir, "teacher-judge-b"),
    });
    const judgements = server.requests.slice(before).filter(isJudgement);
    expect(judgements.every((r) => r.body?.model === "test-judge")).toBe(true);
    const kept = (await keptOf(result)) as Extract<Sample, { messages: unknown }>[];
    const bySeed = Object.fromEntries(kept.map((s) => [s.meta.seedId as string, s]));
    expect(Object.keys(bySeed).sort()).toEqual(["en-capital", "th-capital", "th-low", "th-vague"]);
    expect(bySeed["en-capital"]?.messages.at(-1)?.content).toBe(WITH_CJK);
    expect(bySeed["th-vague"]?.meta).toMatchObject({
      autoif: { judge: { model: "test-judge", score: 2, threshold: 2 } },
    });
  });

  it("counts the judge's tokens toward the teacher's budget", async () => {
    // The stand-in usage is one token per character: the first seed's teacher request costs its prompt and answers.
    const characters = (text: string | null | undefined) => [...(text ?? "")].length;
    const firstAsked = server.requests
      .slice(requestsBefore)
      .find((r) => !isJudgement(r) && JSON.stringify(r.body?.messages).includes("เมืองหลวงของไทยคืออะไร"));
    const teacherTokens =
      (firstAsked?.body?.messages ?? []).reduce((sum, m) => sum + characters(m.content), 0) +
      [WITH_COMMA, WITH_CJK, CLEAN].reduce((sum, text) => sum + characters(text), 0);
    const before = server.requests.length;
    // The teacher alone stays under the budget after its first request; with the judge's tokens it is spent.
    await expect(
      run(
        // One unit, one seed at a time: the first seed's teacher request, then its judgement, then the next seed.
        {
          ...judgeSpec({ model: "test-judge" }, { budgetTokens: teacherTokens + 1, concurrency: 1 }),
          batchSize: 10,
        },
        { teacherCache: join(dir, "teacher-judge-c") },
      ),
    ).rejects.toThrow(/token budget of \d+ reached/);
    expect(server.requests.slice(before).map(isJudgement)).toEqual([false, true]);
  });

  it("asks a judge on an endpoint of its own there only, with that endpoint's key and model", async () => {
    const judgeServer = await startChatCompletionsTestServer({ script });
    try {
      const JUDGE_KEY = "sk-judge-5ecret";
      const both = new TeacherEndpoints({
        teacher: { baseUrl: server.baseUrl, apiKey: TEACHER_KEY },
        judge: { baseUrl: judgeServer.baseUrl, model: "configured-judge", apiKey: JUDGE_KEY },
      });
      const before = server.requests.length;
      const result = await run(judgeSpec({ endpoint: "judge" }), {
        teacherCache: join(dir, "teacher-judge-d"),
        teachers: both,
      });
      const toTeacher = server.requests.slice(before);
      expect(toTeacher).toHaveLength(judgeSeeds.length);
      expect(toTeacher.some(isJudgement)).toBe(false);
      expect(new Set(toTeacher.map((r) => r.authorization))).toEqual(new Set([`Bearer ${TEACHER_KEY}`]));
      expect(judgeServer.requests.length).toBeGreaterThan(0);
      expect(judgeServer.requests.every(isJudgement)).toBe(true);
      expect(new Set(judgeServer.requests.map((r) => r.authorization))).toEqual(
        new Set([`Bearer ${JUDGE_KEY}`]),
      );
      expect(new Set(judgeServer.requests.map((r) => r.body?.model))).toEqual(new Set(["configured-judge"]));
      const kept = (await keptOf(result)) as Extract<Sample, { messages: unknown }>[];
      expect(kept.find((s) => s.meta.seedId === "th-capital")?.meta).toMatchObject({
        autoif: { judge: { model: "configured-judge", score: 9 } },
      });
    } finally {
      await judgeServer.close();
    }
  });

  it("reads the first score from 0 to 10 in a reply", () => {
    expect(parseJudgeScore("8")).toBe(8);
    expect(parseJudgeScore("คะแนน: 7.5/10")).toBe(7.5);
    expect(parseJudgeScore("๑๐")).toBe(10);
    expect(parseJudgeScore("ให้ 100 คะแนนเต็ม 10")).toBe(10);
    expect(parseJudgeScore("ดีมาก")).toBeUndefined();
  });
});

describe("generate-constrained with proposed constraints", () => {
  const isProposal = (request: { body?: { messages?: { content: string | null }[] } }) =>
    request.body?.messages?.[0]?.content?.startsWith("You write verifiable") === true;
  const proposeSpec = (propose: Record<string, unknown>): PipelineSpecInput => {
    const base = spec();
    const [generate, ...rest] = base.steps ?? [];
    return { ...base, steps: [{ ...(generate as object), propose } as never, ...rest] };
  };

  it("uses the registered types a model proposes and keeps every discarded proposal with its reason", async () => {
    const before = server.requests.length;
    const result = await run(proposeSpec({ model: "test-proposer", temperature: 0.2 }), {
      teacherCache: join(dir, "teacher-propose-a"),
    });
    const asked = server.requests.slice(before);
    expect(asked.filter(isProposal)).toHaveLength(seeds.length);
    expect(asked.find(isProposal)?.body).toMatchObject({ model: "test-proposer", n: 1, temperature: 0.2 });

    const kept = (await keptOf(result)) as Extract<Sample, { messages: unknown }>[];
    const thai = kept.find((s) => s.meta.seedId === "th-capital");
    expect(thai?.messages.at(-1)).toEqual({ role: "assistant", content: CLEAN });
    expect(thai?.meta).toMatchObject({
      autoif: {
        constraints: [{ id: "punctuation:no_comma", params: {} }],
        proposal: {
          model: "test-proposer",
          used: true,
          accepted: ["punctuation:no_comma"],
          discarded: [
            { reason: "excluded-type", proposal: { id: "thai:word_count" } },
            { reason: "unknown-type", proposal: { id: "thai:run_code" } },
            { reason: "excluded-type", proposal: { id: "detectable_format:title" } },
          ],
        },
      },
    });
    // A proposal with nothing usable falls back to sampled constraints, and says so.
    const english = kept.find((s) => s.meta.seedId === "en-capital");
    expect(english?.meta).toMatchObject({
      autoif: {
        constraints: [{ id: "punctuation:no_comma" }],
        proposal: { used: false, accepted: [], discarded: [{ reason: "not-json" }] },
      },
    });
    const failed = (await rejectedOf(result)).find((r) => r.record.id === "th-fail");
    expect(failed?.detail).toMatchObject({ proposal: { used: false, discarded: [{ reason: "not-json" }] } });
  });

  it("asks the proposer for the configured share of seeds only, the same ones on every run", async () => {
    const proposedSeeds = async (cache: string) => {
      const before = server.requests.length;
      await run(proposeSpec({ share: 0.5 }), { teacherCache: join(dir, cache) });
      return server.requests
        .slice(before)
        .filter(isProposal)
        .map((r) => r.body?.messages?.[1]?.content)
        .sort();
    };
    const first = await proposedSeeds("teacher-propose-b");
    expect(first.length).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(seeds.length);
    expect(await proposedSeeds("teacher-propose-c")).toEqual(first);
    const before = server.requests.length;
    await run(proposeSpec({ share: 0 }), { teacherCache: join(dir, "teacher-propose-d") });
    expect(server.requests.slice(before).filter(isProposal)).toEqual([]);
  });
});

describe("teacher endpoints", () => {
  it("fails a run that names an endpoint this worker does not have, naming the field, and asks nothing", async () => {
    const base = spec();
    const [generate, ...rest] = base.steps ?? [];
    const before = server.requests.length;
    await expect(
      run(
        { ...base, steps: [{ ...(generate as object), judge: { endpoint: "elsewhere" } } as never, ...rest] },
        { teacherCache: join(dir, "teacher-endpoints-a") },
      ),
    ).rejects.toThrow(
      'steps.0.judge.endpoint: no endpoint named "elsewhere" is configured (configured: teacher)',
    );
    expect(server.requests.length).toBe(before);
  });

  it("sends an endpoint configured without a key none, whatever keys the environment holds", async () => {
    const saved = { teacher: process.env.TEACHER_API_KEY, openai: process.env.OPENAI_API_KEY };
    process.env.TEACHER_API_KEY = "sk-environment-teacher";
    process.env.OPENAI_API_KEY = "sk-environment-openai";
    try {
      const before = server.requests.length;
      await run(spec(), {
        teacherCache: join(dir, "teacher-endpoints-c"),
        teachers: new TeacherEndpoints({ teacher: { baseUrl: server.baseUrl } }),
      });
      const asked = server.requests.slice(before);
      expect(asked.length).toBeGreaterThan(0);
      expect(asked.map((r) => r.authorization ?? null)).toEqual(asked.map(() => null));
    } finally {
      for (const [name, value] of [
        ["TEACHER_API_KEY", saved.teacher],
        ["OPENAI_API_KEY", saved.openai],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it("fails a run whose recorded URL is not where this worker has the endpoint, and asks nothing", async () => {
    const before = server.requests.length;
    await expect(
      run(spec({ endpointUrl: "http://127.0.0.1:9/v1" }), { teacherCache: join(dir, "teacher-endpoints-b") }),
    ).rejects.toThrow(
      `steps.0.teacher.endpointUrl: the spec records endpoint teacher at http://127.0.0.1:9/v1, but it is configured at ${server.baseUrl} here`,
    );
    expect(server.requests.length).toBe(before);
    // The recorded URL as it is configured runs.
    await run(spec({ endpointUrl: `${server.baseUrl}/` }), {
      teacherCache: join(dir, "teacher-endpoints-b"),
    });
    expect(server.requests.length).toBeGreaterThan(before);
  });

  it("refuses a spec that gives the teacher, judge or proposer a URL, saying what to write instead", () => {
    const base = spec();
    const [generate, ...rest] = base.steps ?? [];
    const withStep = (step: object) => ({
      ...base,
      steps: [{ ...(generate as object), ...step } as never, ...rest],
    });
    const cases = [
      [withStep({ teacher: { baseUrl: "http://127.0.0.1:9/v1", model: "m" } }), "steps.0.teacher", "teacher"],
      [withStep({ judge: { baseUrl: "http://127.0.0.1:9/v1" } }), "steps.0.judge", "judge"],
      [withStep({ propose: { baseUrl: "http://127.0.0.1:9/v1" } }), "steps.0.propose", "propose"],
    ] as const;
    for (const [input, path, field] of cases) {
      const parsed = PipelineSpec.safeParse(input);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([
        [
          path,
          `baseUrl is not accepted: a spec names an endpoint the operator configured (CURATOR_TEACHER_ENDPOINTS, or TEACHER_BASE_URL for "teacher"), which holds its URL and key; write "${field}": { "endpoint": "<name>" } instead`,
        ],
      ]);
    }
  });
});
