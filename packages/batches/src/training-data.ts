/**
 * @module The trainer's data plane: a run's dataset versions as engine batch frames.
 *
 * `openTrainingData` tokenizes each version once into a cache file (reused by every later open with the same
 * key) and returns `batchFrame(step, rank, world)`: rank `rank`'s share of optimizer step `step`, a pure
 * function of (version hashes, seed, seqLen, rowsPerStep, role options, step, rank, world), so the same
 * request gives the same bytes in any process, and a resumed run sees exactly the batches it would have seen.
 *
 * Documents of all versions (ordered by version hash, then split, shard and row) form one list; epoch `e`
 * visits it in its own seeded shuffle. Packed roles (`train`, `corpus`) turn each epoch into rows
 * (packing.ts) and lay epochs end to end as one stream of rows; step `s` is rows
 * `[s·rowsPerStep, (s+1)·rowsPerStep)` of it, and rank `r` of `w` takes the `r`-th of `w` equal consecutive
 * parts. The `prompts` role does the same with prompts instead of rows. `rowsPerStep` counts rows (or
 * prompts) across all ranks and must divide evenly by the world size.
 *
 * A prompt frame names its prompts in the header as `{id, index}`: `id` is `<first 12 hex digits of the
 * version hash>/<sample id>` (unique across versions; `prompt(id)` gives back its reward model), `index` its
 * position in the frame, which tells apart two draws of one prompt when a step spans an epoch boundary. Prompts
 * of chat versions come with their dataset responses (`completion_offsets`, `completion_tokens`), what
 * on-policy distillation trains on when an example is not sampled.
 */
import type { ToolDefinition } from "@sovereign/schemas";
import { type BlobStore, manifestHash } from "@sovereign/shards";
import { type ModelChatTemplate, type SpanTokenizer, withChatTemplate } from "@sovereign/tokenizer";
import { type CacheEvent, cacheKey, openVersionDocuments, type VersionInput } from "./build";
import { type DocumentFile, type DocumentStats, emptyStats } from "./cache-file";
import { DocumentSet } from "./document-set";
import {
  Documentizer,
  type DocumentTokenizer,
  endOfTextId,
  kindFitsRole,
  type Overlong,
  ROLES,
  type Role,
} from "./documents";
import { PackedPlane, type PromptInfo, PromptPlane } from "./planes";

export type TrainingDataOptions = {
  store: BlobStore;
  versions: VersionInput[];
  role: Role;
  tokenizer: DocumentTokenizer;
  /**
   * The model's own chat template (e.g. `ModelChatTemplate.fromDir` of its checkpoint): chat samples and
   * prompts are rendered with it and its assistant spans are the trained mask. Without it, Qwen3's template
   * (the hand-written renderer). Needs a tokenizer with `encodeWithSpans`.
   */
  chatTemplate?: ModelChatTemplate;
  /** The run id, written in every frame header. */
  run: string;
  seqLen: number;
  seed: number;
  /** Rows (packed roles) or prompts (`prompts`) per optimizer step, across all ranks. */
  rowsPerStep: number;
  /** The run setting `rowsPerStep` comes from, for error messages. Default `rowsPerStep`. */
  rowsPerStepSetting?: string;
  /** Where tokenized documents are kept between runs and restarts. */
  cacheDir: string;
  /** Samples longer than `seqLen` (packed roles): default `truncate`. */
  overlong?: Overlong;
  /** Prompts: false ends each prompt with Qwen3's empty think block (non-thinking mode). Default true. */
  thinking?: boolean;
  /**
   * Prompts: tools offered to the policy (multi-turn rollouts with tools), rendered in every prompt's system turn
   * as the chat template renders a sample's tools. A chat sample's own tools are replaced by these.
   */
  tools?: ToolDefinition[];
  /** Rows a document may be placed in: the last this many opened. Default 8. */
  packWindow?: number;
  onCache?: (event: CacheEvent) => void;
};

export type TrainingDataStats = DocumentStats & {
  /** Rows (packed roles) or prompts in epoch 0; later epochs pack to within a few rows of it. */
  rowsPerEpoch: number;
  cache: { hits: number; builds: number };
};

export type TrainingData = {
  readonly role: Role;
  readonly seqLen: number;
  readonly rowsPerStep: number;
  readonly stats: TrainingDataStats;
  batchFrame(step: number, rank: number, world: number): Uint8Array;
  /** Rows (packed roles) or prompts in epoch `epoch`. */
  rowsInEpoch(epoch: number): number;
  /** A prompt by the id its frame gave it (`prompts` role). */
  prompt(id: string): PromptInfo | undefined;
  close(): void;
};

export const DEFAULT_PACK_WINDOW = 8;

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1)
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function templatedTokenizer(tokenizer: DocumentTokenizer, template: ModelChatTemplate): DocumentTokenizer {
  const withSpans = tokenizer as DocumentTokenizer & Partial<SpanTokenizer>;
  if (typeof withSpans.encodeWithSpans !== "function") {
    throw new Error(`chatTemplate needs a tokenizer with encodeWithSpans; ${tokenizer.id} has none`);
  }
  // The tokenizer's end of text still ends text documents and pads rows (Llama 3's <|end_of_text|>).
  return { ...withChatTemplate(withSpans as SpanTokenizer, template), endOfTextId: tokenizer.endOfTextId };
}

/** Opens (building where needed) every version's documents; see the module comment. */
export async function openTrainingData(options: TrainingDataOptions): Promise<TrainingData> {
  const { role, store } = options;
  const tokenizer = options.chatTemplate
    ? templatedTokenizer(options.tokenizer, options.chatTemplate)
    : options.tokenizer;
  if (!ROLES.includes(role))
    throw new Error(`role ${JSON.stringify(role)} is not one of ${ROLES.join(", ")}`);
  positiveInteger("seqLen", options.seqLen);
  positiveInteger(options.rowsPerStepSetting ?? "rowsPerStep", options.rowsPerStep);
  const packWindow = positiveInteger("packWindow", options.packWindow ?? DEFAULT_PACK_WINDOW);
  if (!Number.isSafeInteger(options.seed))
    throw new RangeError(`seed must be an integer, got ${options.seed}`);
  if (options.versions.length === 0) throw new Error("no dataset versions to read");
  const versions = [...options.versions].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  for (const [i, v] of versions.entries()) {
    if (i > 0 && versions[i - 1]?.hash === v.hash) throw new Error(`version ${v.hash} is listed twice`);
    const actual = manifestHash(v.manifest);
    if (actual !== v.hash) throw new Error(`the manifest given for version ${v.hash} hashes to ${actual}`);
    if (!kindFitsRole(v.manifest.kind, role))
      throw new Error(
        `version ${v.hash} holds ${v.manifest.kind} samples, which cannot feed the ${role} role`,
      );
  }

  const documentOptions = {
    role,
    seqLen: options.seqLen,
    overlong: options.overlong ?? "truncate",
    thinking: options.thinking ?? true,
    ...(options.tools?.length && role === "prompts" ? { tools: options.tools } : {}),
  };
  const documentizer = new Documentizer(tokenizer, documentOptions);
  const files: DocumentFile[] = [];
  const cache = { hits: 0, builds: 0 };
  try {
    for (const v of versions) {
      const key = cacheKey(v, tokenizer.id, documentOptions);
      files.push(
        await openVersionDocuments(store, v, key, options.cacheDir, documentizer, (event) => {
          if (event.hit) cache.hits++;
          else cache.builds++;
          options.onCache?.(event);
        }),
      );
    }
  } catch (error) {
    for (const f of files) f.close();
    throw error;
  }
  const set = new DocumentSet(
    files,
    versions.map((v) => v.hash),
  );
  if (set.count === 0) {
    set.close();
    throw new Error(
      `the ${role} data of versions ${versions.map((v) => v.hash).join(", ")} has no documents`,
    );
  }
  const pad = endOfTextId(tokenizer);
  const plane =
    role === "prompts"
      ? new PromptPlane(set, options)
      : new PackedPlane(set, { ...options, packWindow, pad });
  const stats: TrainingDataStats = {
    ...sumStats(files.map((f) => f.footer.stats)),
    rowsPerEpoch: plane.rowsInEpoch(0),
    cache,
  };
  return {
    role,
    seqLen: options.seqLen,
    rowsPerStep: options.rowsPerStep,
    stats,
    batchFrame(step, rank, world) {
      const share = shareOf(options.rowsPerStep, step, rank, world, options.rowsPerStepSetting);
      const header = { run: options.run, step, rank, world, role };
      return plane.frame(header, share.first, share.count, options.seqLen);
    },
    rowsInEpoch: (epoch) => plane.rowsInEpoch(epoch),
    prompt: (id) => plane.prompt(id),
    close: () => set.close(),
  };
}

/** The global rows (or prompts) of one rank's share of a step. */
function shareOf(
  perStep: number,
  step: number,
  rank: number,
  world: number,
  setting = "rowsPerStep",
): { first: number; count: number } {
  if (!Number.isSafeInteger(step) || step < 0)
    throw new RangeError(`step must be a non-negative integer, got ${step}`);
  positiveInteger("world", world);
  if (!Number.isSafeInteger(rank) || rank < 0 || rank >= world)
    throw new RangeError(`rank ${rank} is outside world ${world}`);
  if (perStep % world !== 0)
    throw new RangeError(`${setting} ${perStep} does not split evenly over a world of ${world} ranks`);
  const count = perStep / world;
  return { first: step * perStep + rank * count, count };
}

function sumStats(all: DocumentStats[]): DocumentStats {
  const total = emptyStats();
  for (const s of all) {
    total.samples += s.samples;
    total.documents += s.documents;
    total.tokens += s.tokens;
    total.trainedTokens += s.trainedTokens;
    total.truncated += s.truncated;
    total.split += s.split;
    total.dropped.overlong += s.dropped.overlong;
    total.dropped.untrained += s.dropped.untrained;
  }
  return total;
}
