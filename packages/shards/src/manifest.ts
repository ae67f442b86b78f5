/**
 * @module Manifest assembly and hashing: a version's id is the sha256 of its canonical manifest JSON.
 */
import {
  arrowSchemas,
  type DatasetKind,
  describeSchema,
  MANIFEST_FORMAT,
  Manifest,
} from "@sovereign/schemas";
import { canonicalJson, sha256Hex } from "./hashing";

export function schemaFingerprint(kind: DatasetKind): string {
  return sha256Hex(canonicalJson({ kind, columns: describeSchema(arrowSchemas[kind]) }));
}

export function configHash(config: unknown): string {
  return sha256Hex(canonicalJson(config ?? null));
}

export function shardPath(split: string, index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, "0");
  return `data/${split}-${pad(index)}-of-${pad(count)}.parquet`;
}

export function manifestBytes(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(canonicalJson(Manifest.parse(manifest)));
}

export function manifestHash(manifest: Manifest): string {
  return sha256Hex(manifestBytes(manifest));
}

export { MANIFEST_FORMAT };
