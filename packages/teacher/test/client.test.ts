import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BudgetExceededError,
  type CompletionRequest,
  DirectoryTeacherCache,
  dropTruncated,
  TeacherClient,
  type TeacherClientOptions,
  TeacherRequestError,
  TeacherRetriesExhaustedError,
  type TeacherUsageEvent,
  teacherCacheKey,
} from "../src/index";
import {
  type ChatCompletionsTestServer,
  completion,
  delayed,
  rateLimited,
  redirect,
  type ScriptedReply,
  serverError,
  startChatCompletionsTestServer,
  truncatedCompletion,
} from "../src/testing/index";

const KEY = "sk-test-5ecret-do-not-leak";
const question: CompletionRequest = { messages: [{ role: "user", content: "เมืองหลวงของไทยคืออะไร" }] };
/** Backoff small enough that retry tests take milliseconds. */
const fastBackoff = { baseMs: 2, maxMs: 10 };

let server: ChatCompletionsTestServer;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "teacher-"));
});

afterEach(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

async function serve(queue: ScriptedReply[] = []): Promise<ChatCompletionsTestServer> {
  server = await startChatCompletionsTestServer({ queue });
  return server;
}

function client(options: Partial<TeacherClientOptions> = {}): TeacherClient {
  return new TeacherClient({
    baseUrl: server.baseUrl,
    model: "teacher-test",
    apiKey: KEY,
    backoff: fastBackoff,
    ...options,
  });
}

describe("TeacherClient", () => {
  it("returns the server's choices and usage, sending the request fields and the key as a bearer token", async () => {
    await serve([completion(["กรุงเทพมหานคร", "กรุงเทพฯ"])]);
    const result = await client().complete({ ...question, n: 2, temperature: 0.7, max_tokens: 64, seed: 1 });
    expect(result.cached).toBe(false);
    expect(result.model).toBe("teacher-test");
    expect(result.choices).toEqual([
      { index: 0, text: "กรุงเทพมหานคร", finishReason: "stop" },
      { index: 1, text: "กรุงเทพฯ", finishReason: "stop" },
    ]);
    expect(result.usage).toEqual({ promptTokens: 22, completionTokens: 21, totalTokens: 43 });
    const [received] = server.requests;
    expect(received?.authorization).toBe(`Bearer ${KEY}`);
    expect(received?.body).toMatchObject({
      model: "teacher-test",
      messages: question.messages,
      n: 2,
      temperature: 0.7,
      max_tokens: 64,
      seed: 1,
    });
    expect(received?.body).not.toHaveProperty("top_p");
  });

  it("reads the key from TEACHER_API_KEY, then OPENAI_API_KEY, and sends none when there is none", async () => {
    await serve();
    const base = { baseUrl: server.baseUrl, model: "m" };
    await new TeacherClient({ ...base, env: { TEACHER_API_KEY: "a", OPENAI_API_KEY: "b" } }).complete(
      question,
    );
    await new TeacherClient({ ...base, env: { OPENAI_API_KEY: "b" } }).complete(question);
    await new TeacherClient({ ...base, env: {} }).complete(question);
    expect(server.requests.map((r) => r.authorization)).toEqual(["Bearer a", "Bearer b", undefined]);
  });

  it("passes extra body members through but refuses ones the client owns", async () => {
    await serve();
    await client().complete({ ...question, extra: { response_format: { type: "json_object" } } });
    expect(server.requests[0]?.body?.response_format).toEqual({ type: "json_object" });
    await expect(client().complete({ ...question, extra: { model: "other" } })).rejects.toThrow(
      "extra.model is set by the client",
    );
  });

  it("waits as long as a 429's Retry-After asks, then succeeds", async () => {
    await serve([rateLimited("0.3"), completion("ok")]);
    const events: TeacherUsageEvent[] = [];
    const started = performance.now();
    const result = await client({ onUsage: (e) => events.push(e) }).complete(question);
    const waited = performance.now() - started;
    expect(result.choices[0]?.text).toBe("ok");
    expect(waited).toBeGreaterThanOrEqual(280);
    expect(waited).toBeLessThan(2_000);
    expect(server.requests).toHaveLength(2);
    expect(events[0]?.retries).toBe(1);
    expect(events[0]?.totals).toMatchObject({ requests: 2, retries: 1, completions: 1 });
  });

  it("honours a Retry-After given as an HTTP date", async () => {
    // HTTP dates have whole-second precision: ask for the first whole second at least 200 ms away.
    const at = new Date(Math.ceil((Date.now() + 200) / 1000) * 1000);
    await serve([rateLimited(at.toUTCString()), completion("ok")]);
    await client().complete(question);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime() - 20);
  });

  it("retries a 500 and a dropped connection, then succeeds", async () => {
    await serve([serverError(500), { kind: "drop" }, completion("ok")]);
    const c = client();
    const result = await c.complete(question);
    expect(result.choices[0]?.text).toBe("ok");
    expect(server.requests).toHaveLength(3);
    expect(c.usage).toMatchObject({ requests: 3, retries: 2 });
  });

  it("gives up a stalled attempt at timeoutMs and retries it", async () => {
    await serve([delayed(2_000, completion("too late")), completion("ok")]);
    const started = performance.now();
    const result = await client({ timeoutMs: 150 }).complete(question);
    expect(result.choices[0]?.text).toBe("ok");
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(server.requests).toHaveLength(2);
  });

  it("does not retry a 400, and names the status and the server's message", async () => {
    await serve([
      { kind: "error", status: 400, message: "max_tokens must be at most 4096" },
      completion("never"),
    ]);
    const error = await client()
      .complete(question)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeacherRequestError);
    expect((error as TeacherRequestError).status).toBe(400);
    expect((error as Error).message).toContain("HTTP 400");
    expect((error as Error).message).toContain("max_tokens must be at most 4096");
    expect(server.requests).toHaveLength(1);
  });

  it("after the last retry, says how many attempts and the last cause", async () => {
    await serve([
      serverError(503, "overloaded"),
      serverError(503, "overloaded"),
      serverError(502, "bad gateway"),
    ]);
    const error = await client({ retries: 2 })
      .complete(question)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TeacherRetriesExhaustedError);
    expect((error as TeacherRetriesExhaustedError).attempts).toBe(3);
    expect((error as Error).message).toMatch(/after 3 attempts; last: HTTP 502: bad gateway/);
    expect(server.requests).toHaveLength(3);
  });

  it("keeps the API key out of error messages, even when the server echoes it", async () => {
    await serve([{ kind: "error", status: 401, message: `Incorrect API key provided: ${KEY}` }]);
    const error = (await client()
      .complete(question)
      .catch((e: unknown) => e)) as Error;
    expect(error.message).toContain("HTTP 401");
    expect(error.message).toContain("[redacted]");
    expect(error.message).not.toContain(KEY);
    expect(JSON.stringify(client())).not.toContain(KEY);
  });

  it("says a connection failed, without the key, when nothing listens", async () => {
    await serve();
    const baseUrl = server.baseUrl;
    await server.close();
    const error = (await new TeacherClient({
      baseUrl,
      model: "m",
      apiKey: KEY,
      retries: 1,
      backoff: fastBackoff,
    })
      .complete(question)
      .catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(TeacherRetriesExhaustedError);
    expect(error.message).toMatch(/after 2 attempts; last: connection failed: ECONNREFUSED/);
    expect(error.message).not.toContain(KEY);
  });

  it("follows no redirect: the key and the prompts never reach the URL a server redirects to", async () => {
    const elsewhere = await startChatCompletionsTestServer();
    try {
      await serve([redirect(`${elsewhere.baseUrl}/chat/completions?token=abc`), completion("never")]);
      const error = await client()
        .complete(question)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TeacherRequestError);
      expect((error as TeacherRequestError).status).toBe(307);
      expect((error as Error).message).toContain(
        `redirects to ${elsewhere.baseUrl}/chat/completions, and the client follows no redirect`,
      );
      expect((error as Error).message).not.toContain("token=abc");
      expect(server.requests).toHaveLength(1);
      expect(elsewhere.requests).toEqual([]);
    } finally {
      await elsewhere.close();
    }
  });

  it("flags choices cut off at max_tokens, and dropTruncated drops them as truncated", async () => {
    await serve([truncatedCompletion("ประโยคที่ถูกตัด")]);
    const { choices } = await client().complete(question);
    expect(choices[0]?.finishReason).toBe("length");
    const { kept, dropped } = dropTruncated([...choices, { index: 1, text: "ครบ", finishReason: "stop" }]);
    expect(kept.map((c) => c.text)).toEqual(["ครบ"]);
    expect(dropped).toEqual([{ choice: choices[0], reason: "truncated" }]);
  });

  it("answers a rerun from the cache, across client instances, for n > 1 too, at no cost", async () => {
    await serve();
    const first = await client({ cache: dir }).complete({ ...question, n: 3, temperature: 1 });
    expect(first.cached).toBe(false);
    const events: TeacherUsageEvent[] = [];
    const rerun = client({ cache: dir, onUsage: (e) => events.push(e) });
    const second = await rerun.complete({ temperature: 1, n: 3, messages: question.messages });
    expect(second.cached).toBe(true);
    expect(second.choices).toEqual(first.choices);
    expect(server.requests).toHaveLength(1);
    expect(events[0]?.usage.totalTokens).toBe(0);
    expect(rerun.usage).toMatchObject({ cacheHits: 1, requests: 0, totalTokens: 0 });
    // A different request, or the same request to another model, is a miss.
    await rerun.complete({ ...question, n: 2, temperature: 1 });
    await client({ cache: dir, model: "other" }).complete({ ...question, n: 3, temperature: 1 });
    expect(server.requests).toHaveLength(3);
  });

  it("sends identical concurrent requests once when caching", async () => {
    await serve([delayed(100, completion("shared"))]);
    const c = client({ cache: dir });
    const results = await Promise.all([c.complete(question), c.complete(question), c.complete(question)]);
    expect(results.map((r) => r.choices[0]?.text)).toEqual(["shared", "shared", "shared"]);
    expect(results.filter((r) => r.cached)).toHaveLength(2);
    expect(server.requests).toHaveLength(1);
  });

  it("writes cache entries atomically and treats a damaged entry as a miss", async () => {
    await serve();
    const c = client({ cache: dir });
    await c.complete(question);
    const key = teacherCacheKey(server.baseUrl, "teacher-test", server.requests[0]?.body);
    const cache = new DirectoryTeacherCache(dir);
    expect(await readdir(join(dir, key.slice(0, 2)))).toEqual([`${key}.json`]);
    await writeFile(cache.pathOf(key), '{"format":1,"key":');
    const again = await client({ cache: dir }).complete(question);
    expect(again.cached).toBe(false);
    expect(server.requests).toHaveLength(2);
    expect((await client({ cache: dir }).complete(question)).cached).toBe(true);
  });

  it("stops sending once the token budget is spent, letting in-flight calls finish; cached answers stay free", async () => {
    await serve();
    server.enqueue(
      completion("a", { usage: { prompt_tokens: 80, completion_tokens: 40 }, delayMs: 50 }),
      completion("b", { usage: { prompt_tokens: 80, completion_tokens: 40 }, delayMs: 50 }),
    );
    const c = client({ budget: 100, concurrency: 2, cache: dir });
    const ask = (content: string) => c.complete({ messages: [{ role: "user", content }] });
    const outcomes = await Promise.allSettled([ask("1"), ask("2"), ask("3")]);
    // The first answer spends the budget; the second, already in flight, still finishes; the third, queued
    // behind them, never goes out.
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected"]);
    const refused = (outcomes[2] as PromiseRejectedResult).reason as Error;
    expect(refused).toBeInstanceOf(BudgetExceededError);
    expect(refused.message).toContain("budget of 100 reached (120 tokens used)");
    expect(server.requests).toHaveLength(2);
    await expect(ask("4")).rejects.toBeInstanceOf(BudgetExceededError);
    expect((await ask("1")).cached).toBe(true);
    expect(server.requests).toHaveLength(2);
  });

  it("never has more than `concurrency` requests in flight", async () => {
    server = await startChatCompletionsTestServer({ script: () => delayed(20, completion("ok")) });
    const c = client({ concurrency: 3 });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => c.complete({ messages: [{ role: "user", content: `${i}` }] })),
    );
    expect(server.requests).toHaveLength(20);
    expect(server.maxInFlight).toBe(3);
  });

  it("refuses bad options with the option's name", () => {
    expect(() => new TeacherClient({ baseUrl: "not a url", model: "m" })).toThrow("baseUrl");
    expect(() => new TeacherClient({ baseUrl: "http://x/v1", model: "m", concurrency: 0 })).toThrow(
      "concurrency: expected a positive integer, got 0",
    );
    expect(() => new TeacherClient({ baseUrl: "http://u:p@x/v1", model: "m" })).toThrow("apiKey");
  });
});
