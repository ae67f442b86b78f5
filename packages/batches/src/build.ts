/**
 * @module One dataset version's documents, tokenized once and kept in a cache file named by what they depend
 * on: the version hash, its splits, the tokenizer (whose id pins the vocabulary and the chat template), the
 * document rules (`DOCUMENT_FORMAT`, role form, thinking mode) and `seqLen` with the overlong policy. Shards
 * are read through the blob store, which re-hashes each one before it is decoded.
 */
import { join } from "node:path";
import type { Manifest } from "@sovereign/schemas";
import { type BlobStore, canonicalJson, readVersionSamples, sha256Hex } from "@sovereign/shards";
import { DocumentFile, DocumentFileWriter, emptyStats, type Footer } from "./cache-file";
import {
  DOCUMENT_FORMAT,
  type Documentizer,
  type DocumentOptions,
  type PromptMeta,
  trainedLabels,
} from "./documents";

/** A committed version to read: its manifest hash and manifest, and which splits (see `chosenSplits`). */
export type VersionInput = { hash: string; manifest: Manifest; splits?: string[] };

/** The given splits; else `train` when the version has one; else every split (a corpus split by source). */
export function chosenSplits(version: VersionInput): string[] {
  const names = Object.keys(version.manifest.splits).sort();
  const chosen = version.splits ?? (names.includes("train") ? ["train"] : names);
  for (const split of chosen)
    if (!names.includes(split))
      throw new Error(
        `version ${version.hash} has no split ${JSON.stringify(split)} (it has ${names.join(", ")})`,
      );
  return [...new Set(chosen)].sort();
}

export function cacheKey(
  version: VersionInput,
  tokenizerId: string,
  options: DocumentOptions,
): Record<string, unknown> {
  const prompts = options.role === "prompts";
  return {
    format: DOCUMENT_FORMAT,
    version: version.hash,
    splits: chosenSplits(version),
    tokenizer: tokenizerId,
    form: prompts ? "prompt" : "packed",
    seqLen: options.seqLen,
    ...(prompts ? { thinking: options.thinking } : { overlong: options.overlong }),
    ...(prompts && options.tools ? { tools: options.tools } : {}),
  };
}

/** `<cacheDir>/<version hash>/<16 hex digits of the key's hash>.svdc`: one folder per version, to prune by. */
export function cachePath(cacheDir: string, key: Record<string, unknown>): string {
  return join(cacheDir, String(key.version), `${sha256Hex(canonicalJson(key)).slice(0, 16)}.svdc`);
}

export type CacheEvent = { version: string; path: string; hit: boolean; problem?: string; seconds: number };

/** The version's cache file, built first when it is absent, stale or damaged. */
export async function openVersionDocuments(
  store: BlobStore,
  version: VersionInput,
  key: Record<string, unknown>,
  cacheDir: string,
  documentizer: Documentizer,
  onCache?: (event: CacheEvent) => void,
): Promise<DocumentFile> {
  const started = performance.now();
  const path = cachePath(cacheDir, key);
  const existing = await DocumentFile.open(path, key);
  if (existing.file) {
    onCache?.({ version: version.hash, path, hit: true, seconds: (performance.now() - started) / 1000 });
    return existing.file;
  }
  await buildVersionDocuments(store, version, key, path, documentizer);
  const built = await DocumentFile.open(path, key);
  if (!built.file)
    throw new Error(`document cache ${path} is unreadable right after it was written: ${built.problem}`);
  onCache?.({
    version: version.hash,
    path,
    hit: false,
    problem: existing.problem,
    seconds: (performance.now() - started) / 1000,
  });
  return built.file;
}

async function buildVersionDocuments(
  store: BlobStore,
  version: VersionInput,
  key: Record<string, unknown>,
  path: string,
  documentizer: Documentizer,
): Promise<void> {
  const prompts = key.form === "prompt";
  // Packed documents carry their trained mask; prompts of a chat set the mask of their dataset response.
  const writer = await DocumentFileWriter.create(path, !prompts || version.manifest.kind === "chat");
  const stats = emptyStats();
  const metas: PromptMeta[] = [];
  try {
    for (const split of chosenSplits(version)) {
      for await (const { samples } of readVersionSamples(store, version.hash, version.manifest, split)) {
        for (const sample of samples) {
          const result = documentizer.documents(version.manifest.kind, sample);
          stats.samples++;
          if (result.dropped) stats.dropped[result.dropped]++;
          else if (result.cut === "truncated") stats.truncated++;
          else if (result.cut === "split") stats.split++;
          for (const doc of result.documents) {
            await writer.add(doc);
            if (result.prompt) metas.push(result.prompt);
            stats.documents++;
            stats.tokens += doc.ids.length;
            if (doc.mask) stats.trainedTokens += trainedLabels(doc.mask);
          }
        }
      }
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  const footer: Footer = { key, stats, ...(prompts ? { prompts: metas } : {}) };
  await writer.finish(footer);
}
