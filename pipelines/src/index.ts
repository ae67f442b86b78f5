/**
 * @module Pipeline definitions. For now: the demo dataset, a small Thai chat sample written for this
 * repository, that the first-run command builds into a version.
 */
import { fileURLToPath } from "node:url";
import type { DatasetKind } from "@sovereign/schemas";

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
