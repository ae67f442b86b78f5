/**
 * @module The reference chat and tool-use sets of the Thai reference data (THAI_DATA_DIR, default
 * ../shared/data next to the repository), as chat samples: WangChanGLM's OASST1 prompts with their human
 * answers and SEA MT-Bench Thai's two-turn prompts with their first baseline's answers (chat), and every BFCL v4
 * record the tool-use reader converts, with its expected calls (tool use).
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ChatMessage, ToolDefinition } from "@sovereign/schemas";
import { readCsv } from "@sovereign/sources";
import { bfclSamples } from "@sovereign/tool-use";

export const dataDir = resolve(
  process.env.THAI_DATA_DIR ?? join(import.meta.dirname, "../../../../shared/data"),
);
const OASST = "instructions/wangchanglm-eval/oasst1_wangchang_sft_enth_answer.csv";
const MT_BENCH = "instructions/sea-mt-bench-thai/mt_bench_thai_full.jsonl";
const BFCL = "tool-use/bfcl";

export const referenceSetsPresent = [OASST, MT_BENCH, BFCL].every((p) => existsSync(join(dataDir, p)));

export type ReferenceSample = { messages: ChatMessage[]; tools: ToolDefinition[] | null };

export async function referenceChatSet(): Promise<ReferenceSample[]> {
  const out: ReferenceSample[] = [];
  for await (const record of readCsv({ path: join(dataDir, OASST), label: OASST })) {
    if (!record.ok) continue;
    const row = record.value as Record<string, unknown>;
    const prompt = String(row.prompt ?? "");
    const answer = String(row.answer ?? "");
    if (!prompt.trim() || !answer.trim()) continue;
    out.push({
      messages: [
        { role: "user", content: prompt },
        { role: "assistant", content: answer },
      ],
      tools: null,
    });
  }
  const lines = (await readFile(join(dataDir, MT_BENCH), "utf8")).split("\n").filter((l) => l.trim());
  for (const line of lines) {
    const entry = JSON.parse(line) as { prompts: { text: string }[]; baselines: Record<string, string[]> };
    const answers = Object.values(entry.baselines)[0] ?? [];
    const messages: ChatMessage[] = [];
    entry.prompts.forEach((p, i) => {
      messages.push({ role: "user", content: p.text });
      const answer = answers[i];
      if (answer !== undefined) messages.push({ role: "assistant", content: answer });
    });
    out.push({ messages, tools: null });
  }
  return out;
}

export async function referenceToolSet(): Promise<ReferenceSample[]> {
  const dir = join(dataDir, BFCL);
  const out: ReferenceSample[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith(".json")).sort()) {
    const answers = join(dir, "possible_answer", name);
    for await (const record of bfclSamples(join(dir, name), existsSync(answers) ? answers : undefined)) {
      if (record.ok) out.push({ messages: record.value.messages, tools: record.value.tools });
    }
  }
  return out;
}
