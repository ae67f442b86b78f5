/**
 * @module Benchmark of chat-template rendering on the reference chat set (WangChanGLM OASST1 and SEA MT-Bench
 * Thai) and tool-use set (BFCL v4): the hand-written Qwen3 renderer against the Qwen3 Jinja template through
 * ModelChatTemplate, text alone and text with assistant spans (prefix renderings), in samples per second on one
 * core, next to the tokenizer's encodeChat (render and tokenize) for scale. The best of the rounds counts.
 */

import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { ChatMessage } from "@sovereign/schemas";
import { renderQwen3Chat } from "../src/chat-template";
import { loadQwen3Tokenizer, ModelChatTemplate, qwen3TokenizerDir } from "../src/index";
import {
  dataDir,
  type ReferenceSample,
  referenceChatSet,
  referenceSetsPresent,
  referenceToolSet,
} from "../test/reference-sets";

const usage = `Usage: npm run bench:chat-template -- [--rounds N] [--json]

  --rounds N  timed rounds; the best counts (default 5)
  --json      print the results as one JSON object

Reads the Thai reference data in THAI_DATA_DIR (default ../shared/data next to the repository).`;

const { values } = parseArgs({
  options: { rounds: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (!referenceSetsPresent) {
  console.error(`Thai reference data not found at ${dataDir} (set THAI_DATA_DIR)`);
  process.exit(1);
}
const rounds = Number(values.rounds ?? 5);

const config = JSON.parse(await readFile(`${qwen3TokenizerDir()}/tokenizer_config.json`, "utf8"));
const jinja = new ModelChatTemplate(config);
const nullAsEmpty = (messages: readonly ChatMessage[]): ChatMessage[] =>
  messages.map((m) => (m.role === "assistant" && m.content === null ? { ...m, content: "" } : m));
const sets = {
  chat: await referenceChatSet(),
  tools: (await referenceToolSet()).map((s) => ({ ...s, messages: nullAsEmpty(s.messages) })),
};

function rate(samples: readonly ReferenceSample[], render: (s: ReferenceSample) => unknown): number {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (const s of samples) render(s);
    best = Math.min(best, performance.now() - t0);
  }
  return samples.length / (best / 1000);
}

const tokenizer = await loadQwen3Tokenizer();
const results: Record<string, Record<string, number>> = {};
for (const [name, samples] of Object.entries(sets)) {
  const hand = rate(samples, (s) => renderQwen3Chat(s.messages, { tools: s.tools }));
  const text = rate(samples, (s) => jinja.render(s.messages, { tools: s.tools }));
  const spans = rate(samples, (s) => jinja.renderWithSpans(s.messages, { tools: s.tools }));
  // For scale: what the data plane does per sample today (hand-written rendering, then tokenizing it).
  const encode = rate(samples, (s) => tokenizer.encodeChat(s.messages, { tools: s.tools }));
  results[name] = {
    samples: samples.length,
    handWritten: hand,
    jinjaText: text,
    jinjaSpans: spans,
    encodeChat: encode,
  };
}

if (values.json) console.log(JSON.stringify(results));
else {
  for (const [name, r] of Object.entries(results)) {
    const f = (n: number | undefined) => Math.round(n ?? 0).toLocaleString("en-US");
    console.log(
      `${name} (${r.samples} samples): hand-written ${f(r.handWritten)}/s, Jinja text ${f(r.jinjaText)}/s ` +
        `(${((r.handWritten ?? 0) / (r.jinjaText ?? 1)).toFixed(1)}x slower), Jinja text + spans ${f(r.jinjaSpans)}/s ` +
        `(${((r.handWritten ?? 0) / (r.jinjaSpans ?? 1)).toFixed(1)}x slower); encodeChat ${f(r.encodeChat)}/s`,
    );
  }
}
