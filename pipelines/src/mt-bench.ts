/**
 * @module Source format for Thai MT-Bench (`mt_bench_thai_full.jsonl`): each question's two user turns with a
 * baseline model's two answers, as a chat sample. The baseline is named by the source option `model`
 * (default `gpt-3.5-turbo-0125`); its name holds dots, which field paths cannot address.
 */
import { type RawRecord, readJsonl, recordText } from "@sovereign/shards";

type MtBenchRow = {
  question_id: number;
  prompts: { text: string }[];
  baselines: Record<string, string[]>;
  references?: unknown[];
  metadata?: { language?: string; category?: string };
};

export const MT_BENCH_DEFAULT_MODEL = "gpt-3.5-turbo-0125";

export async function* mtBenchChats(
  file: { path: string; label: string },
  options: Record<string, unknown> = {},
): AsyncGenerator<RawRecord> {
  const model = typeof options.model === "string" ? options.model : MT_BENCH_DEFAULT_MODEL;
  for await (const record of readJsonl(file.path, file.label)) {
    if (!record.ok) {
      yield record;
      continue;
    }
    const row = record.value as MtBenchRow;
    const answers = row.baselines?.[model];
    if (!Array.isArray(row.prompts) || !Array.isArray(answers)) {
      yield {
        ok: false,
        location: record.location,
        reason: "malformed",
        message: `expected \`prompts\` and \`baselines.${model}\` arrays`,
        raw: recordText(row),
      };
      continue;
    }
    const messages = row.prompts.flatMap((prompt, i) => [
      { role: "user", content: prompt.text },
      ...(typeof answers[i] === "string" ? [{ role: "assistant", content: answers[i] }] : []),
    ]);
    yield {
      ok: true,
      location: record.location,
      value: {
        id: `mt-bench-th-${row.question_id}`,
        messages,
        meta: { question_id: row.question_id, category: row.metadata?.category ?? null, model },
      },
    };
  }
}
