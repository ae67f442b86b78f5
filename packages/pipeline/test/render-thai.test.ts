/**
 * The `render-thai` step against a loopback chat-completions server: user turns of tool-use conversations are
 * translated with every function name and argument value the turn spells out kept verbatim; renderings that
 * lose one, are cut off or are not Thai are dropped with that reason (or passed through untranslated on
 * request), and a rendered sample's original is kept in the audit.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ChatSample, PipelineSpec, type PipelineSpecInput, type Sample } from "@sovereign/schemas";
import { LocalBlobStore, readVersionSamples } from "@sovereign/shards";
import { TeacherEndpoints } from "@sovereign/teacher";
import {
  type ChatCompletionsTestServer,
  completion,
  serverError,
  startChatCompletionsTestServer,
  truncatedCompletion,
} from "@sovereign/teacher/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RENDER_THAI_PROMPT, verbatimValues } from "../src/render-thai";
import { runPipeline } from "../src/runner";
import { memoryUnits } from "./helpers";

let dir: string;
let server: ChatCompletionsTestServer;

const tool = (name: string, properties: Record<string, unknown>) => ({
  type: "function",
  function: { name, description: name, parameters: { type: "object", properties } },
});
const call = (name: string, args: Record<string, unknown>) => ({
  role: "assistant",
  content: null,
  tool_calls: [{ id: "call_0", type: "function", function: { name, arguments: JSON.stringify(args) } }],
});
const conversation = (id: string, user: string, name: string, args: Record<string, unknown>) => ({
  id,
  tools: [tool(name, Object.fromEntries(Object.keys(args).map((k) => [k, { type: "string" }])))],
  messages: [{ role: "user", content: user }, call(name, args)],
});

const seeds = [
  conversation("weather", "What is the weather in Bangkok, in celsius?", "get_weather", {
    location: "Bangkok",
    unit: "celsius",
  }),
  conversation("convert", "Convert 100 USD to THB.", "convert_currency", {
    amount: 100,
    from: "USD",
    to: "THB",
  }),
  conversation("english", "Find flights to Chiang Mai.", "search_flights", { city: "Chiang Mai" }),
  conversation("long", "Summarise the report TRUNCATE.", "summarise", { doc: "report" }),
  conversation("refused", "Delete file REFUSE.", "delete_file", { name: "REFUSE" }),
];

/** The scripted translator: a rendering per request, keyed by the English turn. */
const RENDERINGS: Record<string, string> = {
  "What is the weather in Bangkok, in celsius?": "สภาพอากาศที่ Bangkok เป็นอย่างไร ขอเป็นหน่วย celsius",
  // USD and THB come back translated, which loses the argument values.
  "Convert 100 USD to THB.": "แปลงเงิน 100 ดอลลาร์สหรัฐเป็นเงินบาท",
  "Find flights to Chiang Mai.": "Find flights to Chiang Mai, please.",
};

const spec = (step: Record<string, unknown> = {}): PipelineSpecInput => ({
  name: "render-thai-test",
  dataset: { name: "render-thai-test", kind: "chat" },
  sources: [{ type: "files", name: "tools", paths: ["tools.jsonl"] }],
  steps: [
    {
      type: "render-thai",
      teacher: { model: "test-translator", retries: 0 },
      ...step,
    },
    { type: "dedup-exact", scope: "content" },
  ],
  batchSize: 2,
});

async function run(input: PipelineSpecInput, cache: string) {
  const result = await runPipeline({
    spec: PipelineSpec.parse(input),
    baseDir: dir,
    cacheDir: join(dir, "cache"),
    teacherCacheDir: join(dir, cache),
    scratchDir: await mkdtemp(join(dir, "run-")),
    store: new LocalBlobStore(join(dir, "blobs")),
    units: memoryUnits(),
    teachers: new TeacherEndpoints({ teacher: { baseUrl: server.baseUrl } }),
    workers: 0,
  });
  const store = new LocalBlobStore(join(dir, "blobs"));
  const kept: ChatSample[] = [];
  for await (const shard of readVersionSamples(store, result.built.hash, result.built.manifest))
    kept.push(...(shard.samples as ChatSample[]));
  const entry = result.built.manifest.rejected[0];
  const audits = entry
    ? new TextDecoder()
        .decode(await store.get(entry.sha256))
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              action: string;
              reason: string;
              message: string;
              detail?: unknown;
              record: Sample;
            },
        )
    : [];
  return { result, kept, audits };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "pipeline-render-thai-"));
  await writeFile(join(dir, "tools.jsonl"), `${seeds.map((s) => JSON.stringify(s)).join("\n")}\n`);
  server = await startChatCompletionsTestServer({
    script: (request) => {
      const [system, user] = request.body?.messages ?? [];
      if (!system?.content?.startsWith(RENDER_THAI_PROMPT))
        return serverError(400, "not a rendering request");
      const text = user?.content ?? "";
      if (text.includes("TRUNCATE")) return truncatedCompletion("สรุปรายงาน");
      if (text.includes("REFUSE")) return serverError(400, "this request is refused");
      const rendering = RENDERINGS[text];
      return rendering ? completion(rendering) : serverError(400, `no scripted rendering for ${text}`);
    },
  });
});

afterAll(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("verbatimValues", () => {
  it("lists the names and argument values the text spells out, longest first", () => {
    const sample = conversation("x", "Book 2 seats to Chiang Mai on TG102 for Chiang", "book_flight", {
      seats: 2,
      city: "Chiang Mai",
      flight: "TG102",
      meal: "vegetarian",
      refundable: true,
      stops: { via: ["Chiang"] },
    }) as unknown as ChatSample;
    const text = sample.messages[0]?.content as string;
    expect(verbatimValues(sample, text)).toEqual(["Chiang Mai", "Chiang", "TG102", "2"]);
    expect(verbatimValues(sample, "use book_flight now")).toEqual(["book_flight"]);
  });
});

describe("render-thai", () => {
  it("renders user turns in Thai keeping the values verbatim, and drops renderings that lose or mistranslate", async () => {
    const before = server.requests.length;
    const { result, kept, audits } = await run(spec(), "teacher-a");
    const asked = server.requests.slice(before);
    expect(asked).toHaveLength(seeds.length);
    const weatherRequest = asked.find((r) => r.body?.messages?.[1]?.content?.includes("Bangkok"));
    expect(weatherRequest?.body).toMatchObject({ model: "test-translator", n: 1, temperature: 0 });
    expect(weatherRequest?.body?.messages?.[0]?.content).toMatch(/\n- Bangkok\n- celsius$/);

    expect(kept).toHaveLength(1);
    const [weather] = kept;
    expect(weather?.messages[0]).toEqual({
      role: "user",
      content: "สภาพอากาศที่ Bangkok เป็นอย่างไร ขอเป็นหน่วย celsius",
    });
    // The tool call and its tools are untouched: only the request changed language.
    expect(weather?.messages[1]).toEqual(seeds[0]?.messages[1]);
    expect(weather?.meta).toMatchObject({
      thaiRendering: { model: "test-translator", used: true, turns: 1, verbatim: ["Bangkok", "celsius"] },
    });

    const byId = Object.fromEntries(audits.map((a) => [`${a.record.id}:${a.action}`, a]));
    expect(byId["weather:modified"]).toMatchObject({ reason: "rendered-thai", record: { id: "weather" } });
    const original = byId["weather:modified"]?.record as ChatSample | undefined;
    expect(original?.messages[0]?.content).toBe("What is the weather in Bangkok, in celsius?");
    expect(byId["convert:dropped"]).toMatchObject({
      reason: "lost-verbatim",
      detail: { turn: 0, lost: ["THB", "USD"] },
    });
    expect(byId["convert:dropped"]?.message).toBe('turn 0: the rendering lost "THB", "USD"');
    expect(byId["english:dropped"]).toMatchObject({ reason: "not-thai" });
    expect(byId["english:dropped"]?.message).toMatch(/0% of the rendering's letters are Thai, need 50%/);
    expect(byId["long:dropped"]).toMatchObject({ reason: "truncated" });
    expect(byId["refused:dropped"]).toMatchObject({ reason: "teacher-error" });
    expect(result.steps.find((s) => s.step === "1-render-thai")).toMatchObject({
      in: 5,
      out: 1,
      modified: 1,
      dropped: { "lost-verbatim": 1, "not-thai": 1, truncated: 1, "teacher-error": 1 },
    });
  });

  it("passes failed renderings through untranslated with the reason when asked to keep originals", async () => {
    const { kept } = await run(spec({ onFailure: "keep-original" }), "teacher-a");
    const byId = Object.fromEntries(kept.map((s) => [s.id, s]));
    // A refused request is the teacher's failure, not the rendering's: that sample is still dropped.
    expect(Object.keys(byId).sort()).toEqual(["convert", "english", "long", "weather"]);
    expect(byId.convert?.messages[0]?.content).toBe("Convert 100 USD to THB.");
    expect(byId.convert?.meta).toMatchObject({ thaiRendering: { used: false, reason: "lost-verbatim" } });
    expect(byId.long?.meta).toMatchObject({ thaiRendering: { used: false, reason: "truncated" } });
  });

  it("reruns from the cache, and must be a chat pipeline's first step", async () => {
    const before = server.requests.length;
    const again = await run(spec(), "teacher-a");
    // Only the refused request, which is never cached, is asked again.
    expect(server.requests.length - before).toBe(1);
    expect(again.kept).toHaveLength(1);
    const base = spec();
    const [render, dedup] = base.steps ?? [];
    const messages = PipelineSpec.safeParse({ ...base, steps: [dedup, render] }).error?.issues.map(
      (i) => i.message,
    );
    expect(messages).toContain(
      "step 1 (render-thai) must be the first step: it makes the samples the other steps judge",
    );
  });
});
