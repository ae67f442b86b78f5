/**
 * The runner end to end on small handwritten sources: record steps with their reasons, exact and
 * near-duplicate removal, splits, determinism across worker counts, resuming after a crash, error budgets.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dedupText, exactKey, MinHasher, NEAR_DUP_DEFAULTS, shingleHashes } from "@sovereign/dedup";
import { PipelineSpec, type PipelineSpecInput } from "@sovereign/schemas";
import { canonicalJson, LocalBlobStore, readVersionSamples, sha256Hex } from "@sovereign/shards";
import { startHubTestServer } from "@sovereign/sources/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CompletedUnit, ErrorBudgetError, runPipeline, type UnitStore } from "../src/runner";

let dir: string;

const THAI_ANSWER =
  "กรุงเทพมหานครเป็นเมืองหลวงของประเทศไทย และเป็นศูนย์กลางการปกครอง เศรษฐกิจ และการศึกษาของประเทศ มีประชากรมากที่สุดในประเทศ";
const LONG_ANSWER =
  "การดูแลสุขภาพที่ดีเริ่มจากการนอนหลับให้เพียงพอ รับประทานอาหารที่มีประโยชน์ครบห้าหมู่ ออกกำลังกายอย่างสม่ำเสมออย่างน้อยสัปดาห์ละสามครั้ง และหมั่นตรวจสุขภาพประจำปี";

function chat(id: string, user: string, assistant: string) {
  return {
    id,
    messages: [
      { role: "user", content: user },
      { role: "assistant", content: assistant },
    ],
  };
}

const rows = [
  chat("a", "เมืองหลวงของไทยคืออะไร", THAI_ANSWER),
  // The same prompt and answer with a zero-width space and doubled spaces: an exact duplicate once normalized.
  chat("b", "เมืองหลวงของไทย\u200bคืออะไร", THAI_ANSWER.replace(" ", "  ")),
  // A near duplicate of the next one: a few words changed.
  chat("c", "ดูแลสุขภาพอย่างไรดี", LONG_ANSWER),
  chat("d", "ดูแลสุขภาพอย่างไรดีครับ", LONG_ANSWER.replace("สามครั้ง", "สี่ครั้ง")),
  // Chinese in the answer: code-switching.
  chat("e", "แนะนำอาหารไทย", "ต้มยำกุ้งเป็นอาหาร好吃ที่มีชื่อเสียง"),
  // A phone number and an e-mail address to redact.
  chat("f", "ติดต่อใครได้บ้าง", "โทร 081-234-5678 หรืออีเมล somchai@example.co.th ได้ตลอดเวลาทำการ"),
  chat("g", "สวัสดี", "สวัสดีครับ ยินดีที่ได้รู้จัก มีอะไรให้ช่วยไหมครับ"),
];

const spec = (overrides: Partial<PipelineSpecInput> = {}): PipelineSpecInput => ({
  name: "test-chat",
  dataset: { name: "test-chat", kind: "chat" },
  sources: [{ type: "files", name: "fixture", paths: ["chat.jsonl"] }],
  steps: [
    { type: "normalize" },
    { type: "script", fields: ["user"], minThaiShare: 0.5, codeSwitching: "drop" },
    { type: "pii", action: "redact" },
    { type: "dedup-exact", scope: "content" },
    { type: "dedup-near", fields: ["assistant"], minLength: 30 },
  ],
  batchSize: 3,
  errorBudget: { maxRecords: 5 },
  ...overrides,
});

function memoryUnits(failAfter = Number.POSITIVE_INFINITY): UnitStore & { units: CompletedUnit[] } {
  const units: CompletedUnit[] = [];
  return {
    units,
    async completed() {
      return [...units];
    },
    async save(unit) {
      if (units.length >= failAfter) throw new Error("worker killed");
      units.push(unit);
    },
  };
}

async function run(
  input: PipelineSpecInput,
  options: {
    workers?: number;
    units?: UnitStore;
    scratch?: string;
    env?: NodeJS.ProcessEnv;
    cache?: string;
    readLimits?: { maxLineBytes?: number };
  } = {},
) {
  const store = new LocalBlobStore(join(dir, "blobs"));
  return runPipeline({
    spec: PipelineSpec.parse(input),
    baseDir: dir,
    cacheDir: options.cache ?? join(dir, "cache"),
    scratchDir: options.scratch ?? (await mkdtemp(join(dir, "run-"))),
    store,
    units: options.units ?? memoryUnits(),
    workers: options.workers ?? 0,
    ...(options.env ? { env: options.env } : {}),
    ...(options.readLimits ? { readLimits: options.readLimits } : {}),
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pipeline-runner-"));
  const lines = rows.map((r) => JSON.stringify(r));
  lines.splice(4, 0, "{not json");
  await writeFile(join(dir, "chat.jsonl"), `${lines.join("\n")}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rejectedOf(result: Awaited<ReturnType<typeof run>>) {
  const entry = result.built.manifest.rejected[0];
  if (!entry) return [];
  const store = new LocalBlobStore(join(dir, "blobs"));
  const text = new TextDecoder().decode(await store.get(entry.sha256));
  return text
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as { step: string; reason: string; action: string; location: string; record: unknown },
    );
}

describe("runPipeline", () => {
  it("drops, changes and keeps records with the step and reason of each decision", async () => {
    const result = await run(spec());
    const kept = [];
    const store = new LocalBlobStore(join(dir, "blobs"));
    for await (const shard of readVersionSamples(store, result.built.hash, result.built.manifest))
      kept.push(...shard.samples);
    const ids = kept.map((s) => s.id).sort();
    // c and d are near duplicates: the keep rule (same priority, then the smaller content hash) keeps one.
    expect(ids.filter((id) => id !== "c" && id !== "d")).toEqual(["a", "f", "g"]);
    expect(ids.filter((id) => id === "c" || id === "d")).toHaveLength(1);
    const nearDropped = ids.includes("c") ? "chat.jsonl:4" : "chat.jsonl:3";
    const rejected = await rejectedOf(result);
    const drops = rejected.filter((r) => r.action === "dropped").map((r) => [r.location, r.step, r.reason]);
    expect(drops.map((d) => d.join(" ")).sort()).toEqual(
      [
        "chat.jsonl:2 4-dedup-exact duplicate",
        `${nearDropped} 5-dedup-near near-duplicate`,
        "chat.jsonl:5 0-input malformed",
        "chat.jsonl:6 2-script code-switching",
      ].sort(),
    );
    const redacted = kept.find((s) => s.id === "f") as { messages: { content: string }[] };
    expect(redacted.messages[1]?.content).toBe("โทร [PHONE] หรืออีเมล [EMAIL] ได้ตลอดเวลาทำการ");
    const modified = rejected.filter((r) => r.action === "modified");
    expect(modified.map((r) => r.reason).sort()).toContain("pii-redacted");
    // The original of a changed sample is kept.
    const original = modified.find((r) => r.reason === "pii-redacted")?.record as {
      messages: { content: string }[];
    };
    expect(original.messages[1]?.content).toContain("081-234-5678");
    const bySteps = Object.fromEntries(result.steps.map((s) => [s.step, s]));
    expect(bySteps["0-input"]).toMatchObject({ in: 8, out: 7, dropped: { malformed: 1 } });
    expect(bySteps["2-script"]).toMatchObject({ in: 7, out: 6, dropped: { "code-switching": 1 } });
    expect(bySteps["4-dedup-exact"]).toMatchObject({ in: 6, out: 5 });
    expect(bySteps["5-dedup-near"]).toMatchObject({ in: 5, out: 4 });
    expect(bySteps.build).toMatchObject({ in: 4, out: 4 });
    expect(result.built.manifest.pipeline.config).toMatchObject({ name: "test-chat" });
  });

  it("gives the same version with worker threads as in one thread", async () => {
    const one = await run(spec(), { workers: 0 });
    const two = await run(spec(), { workers: 2 });
    expect(two.built.hash).toBe(one.built.hash);
  });

  it("resumes after a crash from the last finished unit, to the same version", async () => {
    const whole = await run(spec());
    const units = memoryUnits(1);
    const scratch = await mkdtemp(join(dir, "crash-"));
    await expect(run(spec(), { units, scratch })).rejects.toThrow("worker killed");
    expect(units.units).toHaveLength(1);
    const redone: number[] = [];
    const resumed = await run(spec(), {
      scratch,
      units: {
        completed: units.completed,
        async save(unit) {
          redone.push(unit.unit);
          units.units.push(unit);
        },
      },
    });
    expect(resumed.built.hash).toBe(whole.built.hash);
    // Unit 0 was finished before the crash and is not redone.
    expect(redone).not.toContain(units.units[0]?.unit);
    expect(redone.length).toBe(units.units.length - 1);
  });

  it("fails past the error budget, naming the bad records", async () => {
    const error = await run(spec({ errorBudget: { maxRecords: 0 } })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ErrorBudgetError);
    expect((error as Error).message).toContain("chat.jsonl:5: malformed");
  });

  it("assigns splits by a stable hash of the content", async () => {
    const result = await run(spec({ splits: { by: "hash", shares: { train: 0.5, test: 0.5 } } }));
    const again = await run(spec({ splits: { by: "hash", shares: { train: 0.5, test: 0.5 } } }));
    expect(again.built.hash).toBe(result.built.hash);
    const total = Object.values(result.built.manifest.splits).reduce((n, s) => n + s.rows, 0);
    expect(total).toBe(4);
  });

  it("counts tokens of the chat-template rendering and bounds them", async () => {
    const result = await run(
      spec({ steps: [{ type: "normalize" }, { type: "tokens", total: { max: 40 } }] }),
    );
    expect(result.built.manifest.tokenizer).toMatch(/Qwen3/);
    const tokens = Object.values(result.built.manifest.splits).reduce((n, s) => n + (s.tokens ?? 0), 0);
    expect(tokens).toBeGreaterThan(0);
    const rejected = await rejectedOf(result);
    expect(rejected.some((r) => r.reason === "too-many-tokens")).toBe(true);
    const index = await readFile(result.indexFile, "utf8");
    expect(index).toBe("");
  });

  it("reads a dataset from the Hub pinned to a commit, with the token from the environment", async () => {
    const sha = "0123456789abcdef0123456789abcdef01234567";
    const hub = await startHubTestServer({
      repos: [
        {
          name: "thai-lab/chat",
          token: "hf_testtoken",
          commits: {
            [sha]: {
              "data/part-0.jsonl": rows
                .slice(0, 3)
                .map((r) => JSON.stringify(r))
                .join("\n"),
              "data/part-1.jsonl": rows
                .slice(3)
                .map((r) => JSON.stringify(r))
                .join("\n"),
              "README.md": "# chat",
            },
          },
        },
      ],
    });
    try {
      const hubSpec = spec({
        sources: [
          { type: "huggingface", name: "hub", repo: "thai-lab/chat", revision: sha, files: ["data/*.jsonl"] },
        ],
      });
      const env = { HF_ENDPOINT: hub.url, HF_TOKEN: "hf_testtoken" };
      const fromHub = await run(hubSpec, { env });
      expect(Object.values(fromHub.built.manifest.splits).reduce((n, s) => n + s.rows, 0)).toBe(4);
      const locations = (await rejectedOf(fromHub)).map((r) => r.location);
      expect(
        locations.some((l) => l.startsWith("hf://datasets/thai-lab/chat@0123456/data/part-1.jsonl:")),
      ).toBe(true);
      // A fresh cache: nothing downloaded yet, so the Hub is asked, and refuses without the token.
      const denied = await run(hubSpec, {
        env: { HF_ENDPOINT: hub.url },
        cache: join(dir, "cache-denied"),
      }).catch((e: Error) => e);
      expect(denied).toBeInstanceOf(Error);
      expect((denied as Error).message).toMatch(/401|unauthori[sz]ed|token/i);
    } finally {
      await hub.close();
    }
  });

  it("refuses what a dataset cannot keep as the direct build does, in one thread or on workers", async () => {
    const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
    const call = (id: string, args: string) =>
      JSON.stringify({
        id,
        messages: [
          { role: "user", content: "ขอดูอากาศ" },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: args } }],
          },
        ],
      });
    const lines = [
      JSON.stringify(chat("h1", "สวัสดี", "สวัสดีครับ")),
      JSON.stringify(chat("h2", "a\ud800b", "ครับ")),
      JSON.stringify(chat("h\u0000", "ดี", "ครับ")),
      '{"id":"h4","messages":[{"role":"user","content":"x"}],"meta":{"n":-1e400}}',
      `{"id":"h5","messages":[{"role":"user","content":"x"}],"meta":{"a":${deep}}}`,
      call("h6", "{not json"),
      JSON.stringify(chat("h7", "ยาว", "ก".repeat(60_000))),
      JSON.stringify(chat("h8", "ลาก่อน", "ลาก่อนครับ")),
    ];
    await writeFile(join(dir, "hostile.jsonl"), `${lines.join("\n")}\n`);
    const hostile = spec({
      sources: [{ type: "files", name: "fixture", paths: ["hostile.jsonl"] }],
      steps: [{ type: "normalize" }],
      errorBudget: { maxRecords: 10 },
    });
    const one = await run(hostile, { readLimits: { maxLineBytes: 128 * 1024 } });
    const rejected = await rejectedOf(one);
    expect(rejected.map((r) => [r.location, r.step, r.reason])).toEqual([
      ["hostile.jsonl:2", "0-input", "invalid"],
      ["hostile.jsonl:3", "0-input", "invalid"],
      ["hostile.jsonl:4", "0-input", "invalid"],
      ["hostile.jsonl:5", "0-input", "invalid"],
      ["hostile.jsonl:6", "0-input", "invalid"],
      ["hostile.jsonl:7", "0-input", "too-long"],
    ]);
    const messages = rejected.map((r) => (r as unknown as { message: string }).message);
    expect(messages[0]).toMatch(/^messages\.0\.content .*unpaired UTF-16 surrogate/);
    expect(messages[1]).toMatch(/^id .*NUL/);
    expect(messages[2]).toMatch(/^meta\.n .*-Infinity/);
    expect(messages[3]).toMatch(/^meta\.a[.\d]* .*nested more than 100 levels/);
    expect(messages[4]).toMatch(/^messages\.1\.tool_calls\.0\.function\.arguments .*not JSON/);
    expect(messages[5]).toMatch(/over the 131072-byte limit/);
    // Kept as they were read: the one too deep for JSON as its text.
    expect(typeof rejected[3]?.record).toBe("string");
    expect(JSON.stringify(rejected[0]?.record)).toContain('"content":"a\\ud800b"');
    expect(Object.values(one.built.manifest.splits).reduce((n, s) => n + s.rows, 0)).toBe(2);
    const workers = await run(hostile, { workers: 2, readLimits: { maxLineBytes: 128 * 1024 } });
    expect(workers.built.hash).toBe(one.built.hash);
  });

  it("keys a near-dedup text exactly as exactKey and MinHasher.signature do", () => {
    const text = "  ข้อความ\u200bทดสอบ ๑๒๓ สำหรับการตรวจสอบว่ากุญแจและลายเซ็นตรงกัน เมื่อคำนวณมุมมองเพียงครั้งเดียว  ";
    const view = dedupText(text);
    expect(sha256Hex(canonicalJson(view))).toBe(exactKey(text));
    const hasher = new MinHasher({ ...NEAR_DUP_DEFAULTS, minLength: 10 });
    expect(hasher.signatureOfShingles(shingleHashes(view, NEAR_DUP_DEFAULTS.shingle))).toEqual(
      hasher.signature(text),
    );
  });
});
