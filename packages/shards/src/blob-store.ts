/**
 * @module Content-addressed blob storage. A blob's name is the sha256 of its bytes; every read re-hashes
 * and refuses bytes that do not match; every write lands atomically (temp file, fsync, rename), so a crash
 * never leaves a partial blob under a real name.
 */
import { createReadStream, type ReadStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { isSha256Hex, sha256Hex } from "./hashing";
import { scratchName } from "./owner";

/** What a blob is to the caller, for error messages: e.g. `shard data/train-00000-of-00001.parquet of version 3f2a…`. */
export type BlobLabel = string;

export class BlobIntegrityError extends Error {
  readonly code = "BLOB_INTEGRITY";
  constructor(
    readonly sha256: string,
    readonly actual: string,
    readonly label: BlobLabel,
  ) {
    super(
      `${label}: stored bytes hash to ${actual}, expected ${sha256}. The blob is corrupt; restore it from a copy ` +
        "or rebuild the version.",
    );
  }
}

export class BlobNotFoundError extends Error {
  readonly code = "BLOB_NOT_FOUND";
  constructor(
    readonly sha256: string,
    readonly label: BlobLabel,
  ) {
    super(`${label}: blob ${sha256} is missing from the store`);
  }
}

export interface BlobStore {
  /** Store bytes; returns their sha256. Idempotent: storing the same bytes twice keeps one blob. */
  put(bytes: Uint8Array): Promise<{ sha256: string; bytes: number }>;
  /** Read and verify a blob. Throws BlobIntegrityError on mismatch and BlobNotFoundError when absent. */
  get(sha256: string, label?: BlobLabel): Promise<Uint8Array>;
  has(sha256: string): Promise<boolean>;
  /** Re-hash a stored blob without keeping its bytes. */
  verify(
    sha256: string,
    label?: BlobLabel,
  ): Promise<{ ok: true; bytes: number } | { ok: false; error: Error }>;
  /** Size and a change token (changes whenever the file is rewritten), for caching verification results. */
  stat(sha256: string): Promise<{ bytes: number; changeToken: string } | undefined>;
  /** A byte range [start, end] (inclusive) of a blob, unverified: callers verify the whole blob first. */
  openRange(sha256: string, start: number, end: number): ReadStream;
}

export class LocalBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  pathOf(sha256: string): string {
    if (!isSha256Hex(sha256)) throw new Error(`not a sha256: ${JSON.stringify(sha256)}`);
    return join(this.root, "sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async put(bytes: Uint8Array): Promise<{ sha256: string; bytes: number }> {
    const sha256 = sha256Hex(bytes);
    const target = this.pathOf(sha256);
    if (await this.isIntact(target, sha256, bytes.byteLength)) return { sha256, bytes: bytes.byteLength };
    const tmpDir = join(this.root, "tmp");
    await mkdir(tmpDir, { recursive: true });
    await mkdir(join(target, ".."), { recursive: true });
    const tmp = join(tmpDir, scratchName(`${sha256}.`, "."));
    const handle = await open(tmp, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, target);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
    return { sha256, bytes: bytes.byteLength };
  }

  /** A present blob of the right size is re-hashed before a put skips it, so a corrupt one gets replaced. */
  private async isIntact(path: string, sha256: string, size: number): Promise<boolean> {
    const s = await stat(path).catch(() => undefined);
    if (!s || s.size !== size) return false;
    return sha256Hex(await readFile(path)) === sha256;
  }

  async get(sha256: string, label: BlobLabel = `blob ${sha256}`): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.pathOf(sha256));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new BlobNotFoundError(sha256, label);
      throw error;
    }
    const actual = sha256Hex(bytes);
    if (actual !== sha256) throw new BlobIntegrityError(sha256, actual, label);
    return bytes;
  }

  async has(sha256: string): Promise<boolean> {
    return (await this.stat(sha256)) !== undefined;
  }

  async verify(sha256: string, label: BlobLabel = `blob ${sha256}`) {
    try {
      const bytes = await this.get(sha256, label);
      return { ok: true as const, bytes: bytes.byteLength };
    } catch (error) {
      return { ok: false as const, error: error as Error };
    }
  }

  async stat(sha256: string) {
    const s = await stat(this.pathOf(sha256)).catch(() => undefined);
    if (!s) return undefined;
    return { bytes: s.size, changeToken: `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}` };
  }

  openRange(sha256: string, start: number, end: number): ReadStream {
    return createReadStream(this.pathOf(sha256), { start, end });
  }
}
