/**
 * @module Reader for function-calling data already in the OpenAI chat format (`{messages, tools}` a line,
 * as OpenAI fine-tuning files and most tool-use corpora on the Hub are): validated and canonicalized.
 */
import { readJsonl, recordText } from "@sovereign/shards";
import { type ToolSampleRecord, toRecord } from "./sample";

/** Records of a JSONL file of OpenAI-format samples; `label` names the file in locations. */
export async function* openAiToolSamples(file: string, label = file): AsyncGenerator<ToolSampleRecord> {
  for await (const record of readJsonl(file, label)) {
    if (!record.ok) {
      yield record;
      continue;
    }
    yield toRecord(record.location, record.value, () => recordText(record.value));
  }
}
