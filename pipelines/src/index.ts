/**
 * @module Pipeline definitions: the demo dataset built on first run, the pipelines the curator runs by name,
 * and the source formats they need beyond the built-in ones.
 */
import { fileURLToPath } from "node:url";
import type { DatasetKind, PipelineSpecInput } from "@sovereign/schemas";
import type { RecordReader } from "@sovereign/sources";
import { legalFormats } from "./legal";
import { mtBenchChats } from "./mt-bench";
import { thaiAutoif, toolUseThai } from "./thai-autoif";
import { thaiInstructions } from "./thai-instructions";
import { thaiLegalCorpus, thaiLegalRlPrompts } from "./thai-legal";
import { bfclFormat, openAiToolsFormat, toolUse } from "./tool-use";

export { legalFormats, type StatuteMeta, sectionKey } from "./legal";
export { mtBenchChats } from "./mt-bench";
export { thaiAutoif, toolUseThai } from "./thai-autoif";
export { thaiInstructions } from "./thai-instructions";
export { thaiLegalCorpus, thaiLegalRlPrompts } from "./thai-legal";
export { bfclFormat, openAiToolsFormat, toolUse } from "./tool-use";

export type DatasetSpec = {
  name: string;
  kind: DatasetKind;
  description: string;
  inputs: { path: string; split: string }[];
};

const demoFile = (name: string) => fileURLToPath(new URL(`../demo/${name}`, import.meta.url));

export const demoDataset: DatasetSpec = {
  name: "thai-demo-chat",
  kind: "chat",
  description:
    "A small Thai assistant sample (everyday questions, Thai law basics, and tool calls) written for this repository to show a dataset version end to end.",
  inputs: [
    { path: demoFile("thai-chat.train.jsonl"), split: "train" },
    { path: demoFile("thai-chat.test.jsonl"), split: "test" },
  ],
};

/** The pipelines the curator runs by name. */
export const pipelines: Record<string, PipelineSpecInput> = {
  [thaiInstructions.name]: thaiInstructions,
  [thaiLegalCorpus.name]: thaiLegalCorpus,
  [thaiLegalRlPrompts.name]: thaiLegalRlPrompts,
  [toolUse.name]: toolUse,
  [thaiAutoif.name]: thaiAutoif,
  [toolUseThai.name]: toolUseThai,
};

/** Source formats of the project's pipelines, by the name specs use. */
export const formats: Record<string, RecordReader> = {
  ...legalFormats,
  "mt-bench": mtBenchChats as RecordReader,
  bfcl: bfclFormat,
  "openai-tools": openAiToolsFormat,
};
