/**
 * @module A running training run's data: the `@sovereign/batches` training data of each role it reads, opened
 * (tokenized into the cache on first use) before its engine starts and closed when it ends.
 */
import type { DocumentTokenizer, Overlong, Role, TrainingData } from "@sovereign/batches";
import { openTrainingData } from "@sovereign/batches";
import { notFound, ServiceError } from "@sovereign/http";
import type { TrainingRunSpec, tables } from "@sovereign/schemas";
import type { BlobStore } from "@sovereign/shards";
import { type ModelChatTemplate, type Tokenizer, withChatTemplate } from "@sovereign/tokenizer";
import { runChatTemplate, runTokenizer } from "./run-tokenizer";
import { openRunTools, type RunTools } from "./tools";
import type { PinnedVersion } from "./versions";

/**
 * The frames a stage's engine asks for: packed rows of the train set (SFT), prompts (GRPO), the in-domain corpus
 * (InK-GRPO). OPD's examples are prompts too: the train set's conversations, each prompt with its dataset
 * response, or an RL prompt set (every example sampled).
 */
export function rolesOf(spec: TrainingRunSpec, versions: readonly PinnedVersion[]): Map<Role, PinnedVersion> {
  const byRole = new Map(versions.map((v) => [v.role, v]));
  const roles = new Map<Role, PinnedVersion>();
  const train = byRole.get("train");
  const prompts = byRole.get("prompts");
  const corpus = byRole.get("corpus");
  if (spec.stage === "opd") {
    const examples = train ?? prompts;
    if (examples) roles.set("prompts", examples);
    return roles;
  }
  if (train) roles.set("train", train);
  if (corpus) roles.set("corpus", corpus);
  if (prompts) roles.set("prompts", prompts);
  return roles;
}

/**
 * How a role's rows are dealt: InK-GRPO's corpus takes `ceBatchSize` rows per update (else `rowsPerStep`) and
 * splits a document longer than `seqLen` into pieces, so its tail is trained too; the other roles take
 * `rowsPerStep` rows or prompts per step and truncate.
 */
export function roleOptions(
  spec: TrainingRunSpec,
  role: Role,
): { rowsPerStep: number; rowsPerStepSetting: string; overlong?: Overlong } {
  if (role === "corpus" && spec.hyper.ceBatchSize !== undefined)
    return {
      rowsPerStep: spec.hyper.ceBatchSize,
      rowsPerStepSetting: "hyper.ceBatchSize",
      overlong: "split",
    };
  if (role === "corpus")
    return {
      rowsPerStep: spec.hyper.rowsPerStep,
      rowsPerStepSetting: "hyper.rowsPerStep",
      overlong: "split",
    };
  return { rowsPerStep: spec.hyper.rowsPerStep, rowsPerStepSetting: "hyper.rowsPerStep" };
}

/**
 * What the data plane tokenizes with: the run's tokenizer, rendering chats with its chat template where it has
 * one (the shipped Qwen3 tokenizer), else with the model folder's own `template` (runChatTemplate); a model's own
 * tokenizer without a template takes text samples only and refuses chat samples.
 */
export function documentTokenizer(tokenizer: Tokenizer, template?: ModelChatTemplate): DocumentTokenizer {
  if ("encodeChat" in tokenizer) return tokenizer as DocumentTokenizer;
  if (template) return { ...withChatTemplate(tokenizer, template), endOfTextId: tokenizer.endOfTextId };
  return {
    id: tokenizer.id,
    endOfTextId: tokenizer.endOfTextId,
    encode: (text) => tokenizer.encode(text),
    encodeChat() {
      throw new Error(
        `tokenizer ${tokenizer.id} of the run's model has no chat template the data plane renders (its ` +
          "tokenizer_config.json has no chat_template and there is no chat_template.jinja): chat samples and " +
          "prompts cannot be tokenized with it",
      );
    },
  };
}

export class DataPlane {
  private readonly open = new Map<string, Map<Role, TrainingData>>();
  private readonly tokenizers = new Map<string, Tokenizer>();
  private readonly runTools = new Map<string, RunTools>();

  constructor(private readonly options: { store: BlobStore; cacheDir: string }) {}

  /**
   * Opens every role of a run, building cache files where needed, and its tools over `toolCorpus` when the spec
   * has tools (its prompts then carry the tools block). `recorded`, the tokenizer the run was created with, must
   * still be the model's: a run does not go on with other token ids than its checkpoints were trained on.
   */
  async prepare(
    runId: string,
    spec: TrainingRunSpec,
    versions: readonly PinnedVersion[],
    toolCorpus?: PinnedVersion,
    recorded?: tables.RunTokenizer | null,
  ): Promise<void> {
    this.release(runId);
    const ownTokenizer = await runTokenizer(spec.model);
    if (recorded && recorded.sha256 !== ownTokenizer.hash)
      throw new Error(
        `training run ${runId} was created with tokenizer ${recorded.id}; its model now has ${ownTokenizer.id} ` +
          "(tokenizer.json or tokenizer_config.json changed): restore the files or start a new run",
      );
    const tokenizer = documentTokenizer(ownTokenizer, await runChatTemplate(spec.model, ownTokenizer));
    const opened = new Map<Role, TrainingData>();
    let tools: RunTools | undefined;
    if (spec.tools) {
      if (!toolCorpus) throw new Error(`training run ${runId} has tools and no pinned tools.corpus`);
      tools = await openRunTools(this.options.store, spec.tools, toolCorpus);
    }
    const definitions = tools ? [...tools.tools.values()].map((t) => t.definition) : undefined;
    try {
      for (const [role, version] of rolesOf(spec, versions)) {
        opened.set(
          role,
          await openTrainingData({
            store: this.options.store,
            versions: [{ hash: version.hash, manifest: version.manifest }],
            role,
            tokenizer,
            run: runId,
            seqLen: spec.hyper.seqLen,
            seed: spec.seed,
            ...roleOptions(spec, role),
            cacheDir: this.options.cacheDir,
            thinking: spec.hyper.thinking,
            ...(definitions && role === "prompts" ? { tools: definitions } : {}),
          }),
        );
      }
    } catch (error) {
      for (const data of opened.values()) data.close();
      throw error;
    }
    this.open.set(runId, opened);
    this.tokenizers.set(runId, ownTokenizer);
    if (tools) this.runTools.set(runId, tools);
  }

  /** The tools of a running run that has them. */
  tools(runId: string): RunTools {
    if (!this.open.has(runId)) throw new ServiceError("CONFLICT", `training run ${runId} is not running`);
    const tools = this.runTools.get(runId);
    if (!tools)
      throw new ServiceError("BAD_REQUEST", `training run ${runId} has no tools (its spec sets no tools)`);
    return tools;
  }

  /** The tokenizer a running run's data was tokenized with (its model's own, else Qwen3's). */
  tokenizer(runId: string): Tokenizer {
    const tokenizer = this.tokenizers.get(runId);
    if (!tokenizer) throw new ServiceError("CONFLICT", `training run ${runId} is not running`);
    return tokenizer;
  }

  data(runId: string, role: string): TrainingData {
    const roles = this.open.get(runId);
    if (!roles) throw new ServiceError("CONFLICT", `training run ${runId} is not running`);
    const data = roles.get(role as Role);
    if (!data)
      throw notFound(`${role} data of training run ${runId} (it reads ${[...roles.keys()].join(", ")})`);
    return data;
  }

  stats(runId: string): Record<string, TrainingData["stats"]> {
    return Object.fromEntries(
      [...(this.open.get(runId) ?? new Map<Role, TrainingData>())].map(([r, d]) => [r, d.stats]),
    );
  }

  release(runId: string): void {
    for (const data of this.open.get(runId)?.values() ?? []) data.close();
    this.open.delete(runId);
    this.tokenizers.delete(runId);
    this.runTools.delete(runId);
  }

  close(): void {
    for (const id of [...this.open.keys()]) this.release(id);
  }
}
