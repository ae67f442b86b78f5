/** @module Test scaffolding: temp dirs, real dataset versions built with the shard builder, a counting tokenizer. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChatSample, DatasetKind, RlPromptSample, Sample, TextSample } from "@sovereign/schemas";
import { DatasetBuilder, LocalBlobStore } from "@sovereign/shards";
import { loadQwen3Tokenizer, type Qwen3Tokenizer } from "@sovereign/tokenizer";
import type { DocumentTokenizer, VersionInput } from "../src/index";

export function tempDirs() {
  const dirs: string[] = [];
  return {
    async make(prefix = "batches-test-"): Promise<string> {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    async cleanup(): Promise<void> {
      await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}

/** Builds one version of `kind` into the store under `dir`: samples by split, as the curator would. */
export async function buildVersion(
  dir: string,
  kind: DatasetKind,
  splits: Record<string, Sample[]>,
  limits?: { maxRows?: number },
): Promise<{ store: LocalBlobStore; version: VersionInput }> {
  const store = new LocalBlobStore(join(dir, "store"));
  const builder = new DatasetBuilder({
    dataset: `test-${kind}`,
    kind,
    store,
    scratchDir: join(dir, "scratch"),
    pipeline: { name: "batches-test", config: { kind } },
    limits,
    workers: 0,
  });
  for (const [split, samples] of Object.entries(splits))
    for (const [i, sample] of samples.entries()) await builder.add(split, sample, `${split}:${i + 1}`);
  const built = await builder.finish();
  await built.dispose();
  return { store, version: { hash: built.hash, manifest: built.manifest } };
}

const THAI_QUESTIONS = [
  "ช่วยอธิบายเรื่องภาษีเงินได้บุคคลธรรมดาให้หน่อย",
  "ต้มยำกุ้งใส่อะไรบ้าง",
  "What is the capital of Thailand?",
  "แนะนำที่เที่ยวเชียงใหม่ช่วงหน้าหนาว",
  "How do I reset my password?",
];
const THAI_ANSWERS = [
  "ภาษีเงินได้บุคคลธรรมดาคำนวณจากเงินได้สุทธิหลังหักค่าใช้จ่ายและค่าลดหย่อน",
  "ต้มยำกุ้งใช้ตะไคร้ ข่า ใบมะกรูด พริก มะนาว และน้ำปลา",
  "The capital of Thailand is Bangkok (กรุงเทพมหานคร).",
  "ดอยสุเทพ ดอยอินทนนท์ และถนนคนเดินวันอาทิตย์",
  "Open the login page and choose 'Forgot password'.",
];

/** `n` chat samples of varied length: some multi-turn, some with a system turn. */
export function chatSamples(n: number, prefix = "c"): ChatSample[] {
  return Array.from({ length: n }, (_, i) => {
    const q = THAI_QUESTIONS[i % THAI_QUESTIONS.length] as string;
    const a = `${THAI_ANSWERS[i % THAI_ANSWERS.length]} ${"เพิ่มเติม ".repeat(i % 7)}(${i})`;
    const messages: ChatSample["messages"] = [];
    if (i % 3 === 0) messages.push({ role: "system", content: "ตอบเป็นภาษาไทยอย่างสุภาพ" });
    messages.push({ role: "user", content: q }, { role: "assistant", content: a });
    if (i % 4 === 1)
      messages.push({ role: "user", content: "ขอบคุณ" }, { role: "assistant", content: `ยินดีค่ะ ${i}` });
    return { id: `${prefix}-${i}`, source: "test", meta: {}, messages, tools: null };
  });
}

export function textSamples(n: number, prefix = "t"): TextSample[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    source: "test",
    meta: {},
    text: `มาตรา ${i + 1} ${"ผู้ใดกระทำความผิดต้องระวางโทษ ".repeat(1 + (i % 5))}`,
  }));
}

export function promptSamples(n: number, prefix = "p"): RlPromptSample[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    source: "test",
    meta: {},
    prompt: [
      { role: "system", content: "คุณเป็นผู้ช่วยด้านกฎหมาย" },
      { role: "user", content: THAI_QUESTIONS[i % THAI_QUESTIONS.length] as string },
    ],
    reward_model: {
      style: "rule",
      ground_truth: JSON.stringify({ label: i % 2 === 0, articles: [String(288 + i)] }),
    },
  }));
}

/** The real tokenizer, counting the calls that tokenize samples (special-token lookups aside). */
export async function countingTokenizer(): Promise<{
  tokenizer: DocumentTokenizer;
  calls: () => number;
  real: Qwen3Tokenizer;
}> {
  const real = await loadQwen3Tokenizer();
  let calls = 0;
  const tokenizer: DocumentTokenizer = {
    id: real.id,
    encode(text) {
      if (text !== "<|endoftext|>") calls++;
      return real.encode(text);
    },
    encodeChat(messages, options) {
      calls++;
      return real.encodeChat(messages, options);
    },
  };
  return { tokenizer, calls: () => calls, real };
}
