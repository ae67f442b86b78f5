/**
 * @module The tool-use set: function-calling conversations from the Berkeley Function-Calling Leaderboard
 * (BFCL v4, with its ground-truth calls as the assistant's `tool_calls`) in the chat schema, each tool's JSON
 * Schema and each call's arguments validated, canonicalized and deduplicated. The formats read BFCL's JSON
 * Lines (with the answers file of the same name under `possible_answer/`) and OpenAI-format records.
 */
import { basename, dirname, join } from "node:path";
import type { PipelineSpecInput } from "@sovereign/schemas";
import type { RawRecord } from "@sovereign/shards";
import { besideFile, type RecordReader } from "@sovereign/sources";
import { bfclSamples, openAiToolSamples } from "@sovereign/tool-use";

/** BFCL records with their answers when `possible_answer/<same file name>` exists beside them. */
export const bfclFormat: RecordReader = async function* (file, options) {
  const answers = await besideFile(join(dirname(file.path), "possible_answer", basename(file.path)), options);
  const answersLabel = join(dirname(file.label), "possible_answer", basename(file.label));
  yield* bfclSamples(file.path, answers, { label: file.label, answersLabel }) as AsyncIterable<RawRecord>;
};

/** OpenAI-format function-calling records (`{messages, tools}`), validated and canonicalized. */
export const openAiToolsFormat: RecordReader = (file) =>
  openAiToolSamples(file.path, file.label) as AsyncIterable<RawRecord>;

export const toolUse: PipelineSpecInput = {
  name: "tool-use",
  description:
    "Function-calling conversations from BFCL v4 (single, multiple and parallel calls, and questions no tool answers), validated against their JSON Schemas and deduplicated by canonical form.",
  dataset: {
    name: "tool-use",
    kind: "chat",
    description: "Tool-use conversations: tools, the user's request and the assistant's tool calls.",
  },
  sources: [
    {
      type: "files",
      name: "bfcl-v4",
      paths: [
        "tool-use/bfcl/BFCL_v4_simple_python.json",
        "tool-use/bfcl/BFCL_v4_multiple.json",
        "tool-use/bfcl/BFCL_v4_parallel.json",
        "tool-use/bfcl/BFCL_v4_parallel_multiple.json",
        "tool-use/bfcl/BFCL_v4_live_simple.json",
        "tool-use/bfcl/BFCL_v4_irrelevance.json",
      ],
      format: "bfcl",
    },
  ],
  steps: [
    { type: "normalize", fields: ["system", "user"] },
    // Tool schemas count too: the rendering holds them in the system turn.
    { type: "tokens", total: { max: 16_384 } },
    { type: "dedup-exact", scope: "content" },
  ],
  splits: { by: "hash", shares: { train: 0.95, test: 0.05 } },
  // BFCL's multi-turn records are left out: they declare no tools (they call BFCL's own Python classes) and
  // answer with Python call strings; the `bfcl` format rejects them as `unsupported` when a spec names them.
  batchSize: 200,
};
