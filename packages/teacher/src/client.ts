/**
 * @module The teacher client: chat completions from any server that speaks OpenAI's `/chat/completions`
 * (vLLM, SGLang, TGI, Ollama, hosted APIs), for generating teacher responses and for LLM judging. It bounds
 * concurrency, retries what is worth retrying (429, 5xx, timeouts, dropped connections) with jittered
 * exponential backoff that defers to `Retry-After`, caches answers on disk so a rerun pays nothing twice, and
 * stops sending once a token budget is spent.
 */
import { formatIssues } from "@sovereign/shards";
import { z } from "zod";
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, parseRetryAfter, sleep } from "./backoff";
import { type CachedResponse, DirectoryTeacherCache, type TeacherCache, teacherCacheKey } from "./cache";
import {
  BudgetExceededError,
  TeacherAttemptFailure,
  TeacherRequestError,
  TeacherResponseError,
  TeacherRetriesExhaustedError,
} from "./errors";
import { Semaphore } from "./semaphore";

/** A chat message as the protocol carries it; fields beyond role and content (tool calls, names) pass through. */
export type TeacherMessage = {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  [field: string]: unknown;
};

export type CompletionRequest = {
  messages: TeacherMessage[];
  /** Completions to sample for these messages; all come back in one answer and are cached together. */
  n?: number;
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  seed?: number;
  stop?: string | string[];
  /** Further body members the server understands (`response_format`, `chat_template_kwargs`, …). */
  extra?: Record<string, unknown>;
};

export type CompletionChoice = {
  index: number;
  text: string;
  /** `stop`, `length` (cut off by `max_tokens`: see `isTruncated`), `tool_calls`, …; null when the server omits it. */
  finishReason: string | null;
};

export type TokenUsage = { promptTokens: number; completionTokens: number; totalTokens: number };

export type CompletionResult = {
  model: string;
  choices: CompletionChoice[];
  usage: TokenUsage;
  /** True when no request was sent: the answer came from the cache. */
  cached: boolean;
};

/** Running totals since the client was made. */
export type TeacherUsage = {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** `complete` calls answered. */
  completions: number;
  /** HTTP requests sent, retries included. */
  requests: number;
  /** Of `requests`, those that repeated an earlier failed attempt. */
  retries: number;
  /** Calls answered from the cache without a request. */
  cacheHits: number;
};

/** What one answered call cost, with the totals after it. */
export type TeacherUsageEvent = {
  usage: TokenUsage;
  cached: boolean;
  /** Attempts this call needed beyond the first. */
  retries: number;
  totals: TeacherUsage;
};

export type TeacherClientOptions = {
  /** The API root as OpenAI SDKs take it, e.g. `http://localhost:8000/v1`; `/chat/completions` is appended. */
  baseUrl: string;
  model: string;
  /**
   * Sent as `Authorization: Bearer`. Unless given, read from `TEACHER_API_KEY`, then `OPENAI_API_KEY`; null sends
   * no key (local servers rarely want one).
   */
  apiKey?: string | null;
  /** Where the key is read from when `apiKey` is not given; `process.env` unless given. */
  env?: NodeJS.ProcessEnv;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Per attempt, until the whole answer is read. Default 10 minutes: long generations are normal. */
  timeoutMs?: number;
  /** Attempts after the first on retryable failures. Default 5. */
  retries?: number;
  backoff?: Partial<BackoffOptions>;
  /** A cache directory, or a cache; absent means every call is sent. */
  cache?: string | TeacherCache;
  /** Most tokens (prompt + completion, as the server reports them) to spend; cached answers are free. */
  budget?: number;
  onUsage?: (event: TeacherUsageEvent) => void;
};

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_RETRIES = 5;
export const DEFAULT_TIMEOUT_MS = 600_000;

/** Body members the client sets itself; `extra` may not override them. */
const RESERVED_BODY_MEMBERS = ["model", "messages", "stream"] as const;

const WireResponse = z.object({
  model: z.string().optional(),
  choices: z
    .array(
      z.object({
        index: z.number().int().nonnegative().optional(),
        message: z.object({ content: z.string().nullable().optional() }),
        finish_reason: z.string().nullable().optional(),
      }),
    )
    .min(1),
  usage: z
    .object({
      prompt_tokens: z.number().nonnegative().optional(),
      completion_tokens: z.number().nonnegative().optional(),
      total_tokens: z.number().nonnegative().optional(),
    })
    .nullable()
    .optional(),
});

/** A choice the server cut off at `max_tokens`: its text is incomplete, so curation drops it as `truncated`. */
export function isTruncated(choice: CompletionChoice): boolean {
  return choice.finishReason === "length";
}

/** Splits choices into those to keep and those to drop with the reason curation records. */
export function dropTruncated(choices: readonly CompletionChoice[]): {
  kept: CompletionChoice[];
  dropped: { choice: CompletionChoice; reason: "truncated" }[];
} {
  const kept: CompletionChoice[] = [];
  const dropped: { choice: CompletionChoice; reason: "truncated" }[] = [];
  for (const choice of choices) {
    if (isTruncated(choice)) dropped.push({ choice, reason: "truncated" });
    else kept.push(choice);
  }
  return { kept, dropped };
}

export class TeacherClient {
  readonly baseUrl: string;
  readonly model: string;
  readonly endpoint: string;
  readonly concurrency: number;
  readonly timeoutMs: number;
  readonly retries: number;
  readonly budget: number | undefined;
  readonly backoff: BackoffOptions;
  readonly cache: TeacherCache | undefined;
  // A private field, so the key shows up in no `console.log(client)`, JSON or error.
  readonly #apiKey: string | undefined;
  readonly #slots: Semaphore;
  readonly #onUsage: ((event: TeacherUsageEvent) => void) | undefined;
  /** Identical requests in flight at once share one answer; only with a cache, as without one repeats are deliberate samples. */
  readonly #pending = new Map<string, Promise<CachedResponse>>();
  readonly #totals: TeacherUsage = {
    promptTokens: 0,
    completionTokens: 0,
    totalTokens: 0,
    completions: 0,
    requests: 0,
    retries: 0,
    cacheHits: 0,
  };

  constructor(options: TeacherClientOptions) {
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(options.baseUrl);
    } catch {
      throw new TypeError(`TeacherClient baseUrl: ${JSON.stringify(options.baseUrl)} is not a URL`);
    }
    if (parsedUrl.username || parsedUrl.password) {
      throw new TypeError("TeacherClient baseUrl: put credentials in apiKey, not in the URL");
    }
    if (!options.model) throw new TypeError("TeacherClient model: required");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.endpoint = `${this.baseUrl}/chat/completions`;
    this.model = options.model;
    this.concurrency = positiveInteger("concurrency", options.concurrency ?? DEFAULT_CONCURRENCY);
    this.timeoutMs = positiveInteger("timeoutMs", options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    this.retries = nonNegativeInteger("retries", options.retries ?? DEFAULT_RETRIES);
    if (options.budget !== undefined) nonNegativeInteger("budget", options.budget);
    this.budget = options.budget;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.cache = typeof options.cache === "string" ? new DirectoryTeacherCache(options.cache) : options.cache;
    const env = options.env ?? process.env;
    const key = options.apiKey === undefined ? env.TEACHER_API_KEY || env.OPENAI_API_KEY : options.apiKey;
    this.#apiKey = key || undefined;
    this.#slots = new Semaphore(this.concurrency);
    this.#onUsage = options.onUsage;
  }

  /** A copy of the running totals. */
  get usage(): TeacherUsage {
    return { ...this.#totals };
  }

  /** Whether a key will be sent, without revealing it. */
  get hasApiKey(): boolean {
    return this.#apiKey !== undefined;
  }

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const body = this.#body(request);
    if (!this.cache) {
      const { response, retries } = await this.#send(body);
      return this.#answered(response, false, retries);
    }
    const key = teacherCacheKey(this.baseUrl, this.model, body);
    const inFlight = this.#pending.get(key);
    if (inFlight) {
      // A failed twin is no answer: this call then tries on its own.
      const response = await inFlight.catch(() => undefined);
      if (response) return this.#answered(response, true, 0);
    }
    const work = this.#lookupOrSend(this.cache, key, body);
    const shared = work.then((outcome) => outcome.response);
    shared.catch(() => {});
    this.#pending.set(key, shared);
    try {
      const { response, cached, retries } = await work;
      return this.#answered(response, cached, retries);
    } finally {
      if (this.#pending.get(key) === shared) this.#pending.delete(key);
    }
  }

  async #lookupOrSend(
    cache: TeacherCache,
    key: string,
    body: Record<string, unknown>,
  ): Promise<{ response: CachedResponse; cached: boolean; retries: number }> {
    const hit = await cache.get(key);
    if (hit) return { response: hit, cached: true, retries: 0 };
    const { response, retries } = await this.#send(body);
    await cache.set(key, body, response);
    return { response, cached: false, retries };
  }

  #body(request: CompletionRequest): Record<string, unknown> {
    if (!Array.isArray(request.messages) || request.messages.length === 0) {
      throw new TypeError("complete: messages must be a non-empty array");
    }
    for (const member of RESERVED_BODY_MEMBERS) {
      if (request.extra && member in request.extra) {
        throw new TypeError(`complete: extra.${member} is set by the client and may not be overridden`);
      }
    }
    return {
      ...request.extra,
      model: this.model,
      messages: request.messages,
      n: request.n,
      temperature: request.temperature,
      top_p: request.top_p,
      max_tokens: request.max_tokens,
      seed: request.seed,
      stop: request.stop,
    };
  }

  #answered(response: CachedResponse, cached: boolean, retries: number): CompletionResult {
    const totals = this.#totals;
    totals.completions += 1;
    if (cached) totals.cacheHits += 1;
    // Tokens were already counted when the request that produced them came back.
    const usage = cached ? { promptTokens: 0, completionTokens: 0, totalTokens: 0 } : response.usage;
    this.#onUsage?.({ usage, cached, retries, totals: { ...totals } });
    return {
      model: response.model,
      choices: response.choices.map((c) => ({ ...c })),
      usage: response.usage,
      cached,
    };
  }

  async #send(body: Record<string, unknown>): Promise<{ response: CachedResponse; retries: number }> {
    const release = await this.#slots.acquire();
    try {
      // Checked once a slot is ours, so calls queued behind the one that spent the budget stop here.
      if (this.budget !== undefined && this.#totals.totalTokens >= this.budget) {
        throw new BudgetExceededError(this.budget, this.#totals.totalTokens);
      }
      const payload = JSON.stringify(body);
      let lastFailure: TeacherAttemptFailure | undefined;
      for (let attempt = 0; attempt <= this.retries; attempt++) {
        if (attempt > 0 && lastFailure) {
          await sleep(backoffDelay(attempt, this.backoff, lastFailure.retryAfterMs));
          this.#totals.retries += 1;
        }
        this.#totals.requests += 1;
        const outcome = await this.#attempt(payload);
        if (!(outcome instanceof TeacherAttemptFailure)) {
          this.#count(outcome.usage);
          return { response: outcome, retries: attempt };
        }
        lastFailure = outcome;
      }
      throw new TeacherRetriesExhaustedError(
        this.retries + 1,
        lastFailure as TeacherAttemptFailure,
        this.endpoint,
      );
    } finally {
      release();
    }
  }

  #count(usage: TokenUsage): void {
    this.#totals.promptTokens += usage.promptTokens;
    this.#totals.completionTokens += usage.completionTokens;
    this.#totals.totalTokens += usage.totalTokens;
  }

  /** One request: the answer, a retryable failure, or a thrown error for what no retry would fix. */
  async #attempt(payload: string): Promise<CachedResponse | TeacherAttemptFailure> {
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    let status: number;
    let text: string;
    let retryAfter: string | null;
    let location: string | null;
    // A controller and a timer rather than `AbortSignal.timeout`, whose transferable signal took 6% of the
    // client's CPU in the benchmark.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      const response = await fetch(this.endpoint, {
        method: "POST",
        headers,
        body: payload,
        signal: abort.signal,
        // A redirect would carry the prompts (and, to the same origin, the key) to a URL nobody configured.
        redirect: "manual",
      });
      status = response.status;
      retryAfter = response.headers.get("retry-after");
      location = response.headers.get("location");
      text = await response.text();
    } catch (error) {
      if (abort.signal.aborted) {
        return new TeacherAttemptFailure("timeout", `no complete answer within ${this.timeoutMs} ms`);
      }
      return new TeacherAttemptFailure(
        "connection",
        `connection failed: ${this.#scrub(describeFetchError(error))}`,
      );
    } finally {
      clearTimeout(timer);
    }
    if (status === 429 || status >= 500) {
      const kind = status === 429 ? "rate-limited" : "server-error";
      const message = `HTTP ${status}: ${this.#scrub(serverMessage(text))}`;
      return new TeacherAttemptFailure(kind, message, parseRetryAfter(retryAfter), status);
    }
    if (status >= 300 && status < 400) {
      throw new TeacherRequestError(
        status,
        `redirects to ${this.#scrub(redirectTarget(location, this.endpoint))}, and the client follows no redirect: configure the URL it names`,
        this.endpoint,
      );
    }
    if (status < 200 || status >= 300) {
      throw new TeacherRequestError(status, this.#scrub(serverMessage(text)), this.endpoint);
    }
    return this.#parse(text);
  }

  #parse(text: string): CachedResponse {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new TeacherResponseError(this.endpoint, `not JSON: ${this.#scrub(clip(text))}`);
    }
    const parsed = WireResponse.safeParse(json);
    if (!parsed.success) throw new TeacherResponseError(this.endpoint, formatIssues(parsed.error));
    const { choices, usage, model } = parsed.data;
    const promptTokens = usage?.prompt_tokens ?? 0;
    const completionTokens = usage?.completion_tokens ?? 0;
    return {
      model: model ?? this.model,
      choices: choices
        .map((choice, position) => ({
          index: choice.index ?? position,
          text: choice.message.content ?? "",
          finishReason: choice.finish_reason ?? null,
        }))
        .sort((a, b) => a.index - b.index),
      usage: {
        promptTokens,
        completionTokens,
        totalTokens: usage?.total_tokens ?? promptTokens + completionTokens,
      },
    };
  }

  /** Servers sometimes echo the credential they refused; it must not reach logs through our errors. */
  #scrub(message: string): string {
    return this.#apiKey ? message.split(this.#apiKey).join("[redacted]") : message;
  }
}

/** The server's own words: OpenAI's `{error:{message}}`, TGI's and Ollama's `{error}`, vLLM's `{message}`, FastAPI's `{detail}`, or the text. */
function serverMessage(text: string): string {
  try {
    const json = JSON.parse(text) as Record<string, unknown>;
    const error = json.error;
    if (error && typeof error === "object" && typeof (error as { message?: unknown }).message === "string") {
      return clip((error as { message: string }).message);
    }
    for (const candidate of [error, json.message, json.detail]) {
      if (typeof candidate === "string") return clip(candidate);
    }
  } catch {
    // Not JSON: the text itself is the message.
  }
  return text.trim() === "" ? "(empty body)" : clip(text);
}

/** Where a redirect points, without its query (which may carry a token of the server's). */
function redirectTarget(location: string | null, from: string): string {
  if (!location) return "(no Location)";
  try {
    const url = new URL(location, from);
    return `${url.origin}${url.pathname}`;
  } catch {
    return "(an invalid Location)";
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ""}`;
  return cause?.message ?? (error as Error).message ?? String(error);
}

function clip(text: string, limit = 500): string {
  const trimmed = text.trim();
  return trimmed.length > limit ? `${trimmed.slice(0, limit)}…` : trimmed;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new TypeError(`TeacherClient ${name}: expected a positive integer, got ${value}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new TypeError(`TeacherClient ${name}: expected a non-negative integer, got ${value}`);
  }
  return value;
}
