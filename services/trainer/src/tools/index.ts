/**
 * @module Tools for multi-turn GRPO rollouts: the registry (registry.ts), the statute corpus they read
 * (statutes.ts) and the turn logic behind `POST /turns` (turns.ts). `openRunTools` gives a run with `tools` its
 * tools over its pinned corpus version.
 */
import type { Manifest, ToolsSpec } from "@sovereign/schemas";
import type { BlobStore } from "@sovereign/shards";
import { createTools, type Tool } from "./registry";
import { StatuteIndex } from "./statutes";

export * from "./registry";
export * from "./statutes";
export * from "./turns";

export type RunTools = { spec: ToolsSpec; index: StatuteIndex; tools: Map<string, Tool> };

export async function openRunTools(
  store: BlobStore,
  spec: ToolsSpec,
  corpus: { hash: string; manifest: Manifest },
): Promise<RunTools> {
  const index = await StatuteIndex.open(store, corpus.hash, corpus.manifest);
  if (index.sections.length === 0)
    throw new Error(
      `tools.corpus: version ${corpus.hash} holds no statute section (text samples with meta.section_label, or starting with มาตรา and a number)`,
    );
  return { spec, index, tools: createTools(spec.names, index) };
}
