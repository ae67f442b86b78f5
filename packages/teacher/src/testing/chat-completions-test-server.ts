/**
 * @module A test server that speaks OpenAI's chat-completions protocol, for tests and benchmarks only: a real
 * HTTP server on 127.0.0.1 (random port) answering `POST /v1/chat/completions` from a script, so a test can
 * make it answer, refuse with 429 and `Retry-After`, fail with a 5xx, stall past a timeout, drop the
 * connection, redirect or cut a completion off at `max_tokens`. It records every request and the most it had in flight
 * at once, so tests can count calls and check concurrency bounds.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One request as the test server received it. */
export type RecordedChatRequest = {
  /** The parsed JSON body (undefined when it did not parse). */
  body: ChatRequestBody | undefined;
  /** The `Authorization` header as sent, to check how the key travels. */
  authorization: string | undefined;
  /** Position among all requests received, from 0. */
  index: number;
};

export type ChatRequestBody = {
  model?: string;
  messages?: { role: string; content: string | null }[];
  n?: number;
  max_tokens?: number;
  [member: string]: unknown;
};

/** What the script tells the test server to do with one request. */
export type ScriptedReply =
  | {
      kind: "completion";
      /** One text per choice; a single text is repeated for each of the request's `n`. */
      text: string | string[];
      finishReason?: string;
      /** Overrides the stand-in token counts. */
      usage?: { prompt_tokens: number; completion_tokens: number };
      delayMs?: number;
    }
  | { kind: "error"; status: number; message: string; retryAfter?: string; delayMs?: number }
  /** Closes the socket without an answer, as a crashed server would. */
  | { kind: "drop"; delayMs?: number }
  /** Answers with a redirect (307 unless said) to `location`. */
  | { kind: "redirect"; location: string; status?: number; delayMs?: number };

export type ChatScript = (request: RecordedChatRequest) => ScriptedReply | Promise<ScriptedReply>;

export type ChatCompletionsTestServerOptions = {
  /** Replies used in order, one per request; once spent, `script` answers. */
  queue?: ScriptedReply[];
  /** Answers requests the queue does not; by default each answers `echo: <last message>`. */
  script?: ChatScript;
};

export type ChatCompletionsTestServer = {
  /** API root, e.g. `http://127.0.0.1:40123/v1`: the `baseUrl` a client takes. */
  baseUrl: string;
  requests: RecordedChatRequest[];
  /** The most requests that were being answered at the same moment. */
  readonly maxInFlight: number;
  /** Add replies to the end of the queue. */
  enqueue(...replies: ScriptedReply[]): void;
  close(): Promise<void>;
};

export function completion(
  text: string | string[],
  options: Omit<Extract<ScriptedReply, { kind: "completion" }>, "kind" | "text"> = {},
): ScriptedReply {
  return { kind: "completion", text, ...options };
}

/** A completion cut off at `max_tokens`. */
export function truncatedCompletion(text: string): ScriptedReply {
  return { kind: "completion", text, finishReason: "length" };
}

/** A 429; `retryAfter` is the header's text: seconds (`"0.2"`) or an HTTP date. */
export function rateLimited(retryAfter?: string): ScriptedReply {
  return { kind: "error", status: 429, message: "Rate limit reached, slow down", retryAfter };
}

export function serverError(status = 500, message = "internal server error"): ScriptedReply {
  return { kind: "error", status, message };
}

/** A redirect to `location` (307 unless `status` says otherwise). */
export function redirect(location: string, status = 307): ScriptedReply {
  return { kind: "redirect", location, status };
}

/** `reply`, sent only after `ms`: past a client's timeout, this is a stalled server. */
export function delayed(ms: number, reply: ScriptedReply): ScriptedReply {
  return { ...reply, delayMs: ms };
}

export const echoScript: ChatScript = (request) => {
  const last = request.body?.messages?.at(-1)?.content ?? "";
  return completion(`echo: ${last}`);
};

/** Token counts for the stand-in usage: one per character. Not a tokenizer; only deterministic. */
function characters(text: string | null | undefined): number {
  return text ? [...text].length : 0;
}

export async function startChatCompletionsTestServer(
  options: ChatCompletionsTestServerOptions = {},
): Promise<ChatCompletionsTestServer> {
  const queue = [...(options.queue ?? [])];
  const script = options.script ?? echoScript;
  const requests: RecordedChatRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let served = 0;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    if (request.method !== "POST" || request.url?.split("?")[0] !== "/v1/chat/completions") {
      sendJson(response, 404, { error: { message: `no route for ${request.method} ${request.url}` } });
      return;
    }
    let body: ChatRequestBody | undefined;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as ChatRequestBody;
    } catch {
      body = undefined;
    }
    const recorded: RecordedChatRequest = {
      body,
      authorization: request.headers.authorization,
      index: requests.length,
    };
    requests.push(recorded);
    if (!body || !Array.isArray(body.messages)) {
      sendJson(response, 400, { error: { message: "body must be JSON with a messages array" } });
      return;
    }
    const reply = queue.shift() ?? (await script(recorded));
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (response.destroyed) return;
    switch (reply.kind) {
      case "drop":
        request.socket.destroy();
        return;
      case "redirect":
        response.writeHead(reply.status ?? 307, { location: reply.location, "content-length": 0 });
        response.end();
        return;
      case "error": {
        const headers: Record<string, string> = {};
        if (reply.retryAfter !== undefined) headers["retry-after"] = reply.retryAfter;
        sendJson(response, reply.status, { error: { message: reply.message, code: reply.status } }, headers);
        return;
      }
      case "completion": {
        const n = body.n ?? 1;
        const texts = Array.isArray(reply.text)
          ? reply.text
          : Array.from({ length: n }, () => reply.text as string);
        const promptTokens = body.messages.reduce((sum, message) => sum + characters(message.content), 0);
        const completionTokens = texts.reduce((sum, text) => sum + characters(text), 0);
        const usage = reply.usage ?? { prompt_tokens: promptTokens, completion_tokens: completionTokens };
        served += 1;
        sendJson(response, 200, {
          id: `chatcmpl-test-${served}`,
          object: "chat.completion",
          created: Math.floor(Date.now() / 1000),
          model: body.model ?? "test-model",
          choices: texts.map((text, index) => ({
            index,
            message: { role: "assistant", content: text },
            finish_reason: reply.finishReason ?? "stop",
          })),
          usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
        });
        return;
      }
    }
  }

  const server = createServer((request, response) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    // Counted until this exchange is over, whether it was answered or dropped.
    response.once("close", () => {
      inFlight -= 1;
    });
    handle(request, response).catch((error: Error) => {
      if (!response.headersSent)
        sendJson(response, 500, { error: { message: `test server: ${error.message}` } });
      else response.destroy();
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get maxInFlight() {
      return maxInFlight;
    },
    enqueue(...replies) {
      queue.push(...replies);
    },
    close() {
      if (!server.listening) return Promise.resolve();
      server.closeAllConnections();
      return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

function sendJson(
  response: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(value);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
}
