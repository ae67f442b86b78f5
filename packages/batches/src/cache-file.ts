/**
 * @module The tokenized-document cache file: one version's documents as the data plane reads them, so a
 * restarted service opens them instead of tokenizing again. Little-endian:
 *
 * ```
 * offset 0   72-byte header: magic "SVDC", uint32 format (1), uint32 flags (bit 0: masks present),
 *            uint32 documents D, float64 index offset, float64 footer offset, uint32 footer length,
 *            uint32 0, 32-byte sha256 of every byte after the header
 * offset 72  one record per document: n int32 ids, then n uint8 mask values when masks are present,
 *            padded to a multiple of 4 bytes
 * index      D uint32 document lengths (the records' offsets follow from them)
 * footer     UTF-8 JSON: {key, stats, prompts?}
 * ```
 *
 * Memory stays bounded by the document count, not the token count: an open file holds the lengths (4 bytes
 * a document) and record offsets (8), and reads each document's record from disk when a batch needs it.
 * Opening re-hashes the file (streamed); a file that fails any check is reported as absent, to be rebuilt.
 * Files are written under a temporary name, fsynced, then renamed, so a crash never leaves a partial cache.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, fstatSync, openSync, readSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { PromptMeta, TokenDocument } from "./documents";

const MAGIC = "SVDC";
const FORMAT = 1;
const HEADER_BYTES = 72;
const FLAG_MASKS = 1;
/** Writes are gathered into chunks of this size. */
const CHUNK = 4 * 1024 * 1024;

/** What one version's documents came to. */
export type DocumentStats = {
  samples: number;
  documents: number;
  tokens: number;
  /** Labels that are not -100: targets whose token is trained. */
  trainedTokens: number;
  /** Samples longer than seqLen that lost their tail (`truncate`) or became several documents (`split`). */
  truncated: number;
  split: number;
  /** Samples that gave no document: longer than seqLen under `drop` (or any overlong prompt), or nothing trained. */
  dropped: { overlong: number; untrained: number };
};

/** Stats of no documents, to count into. */
export function emptyStats(): DocumentStats {
  return {
    samples: 0,
    documents: 0,
    tokens: 0,
    trainedTokens: 0,
    truncated: 0,
    split: 0,
    dropped: { overlong: 0, untrained: 0 },
  };
}

export type Footer = { key: unknown; stats: DocumentStats; prompts?: PromptMeta[] };

const recordBytes = (length: number, masks: boolean) => (length * (masks ? 5 : 4) + 3) & ~3;

export class DocumentFileWriter {
  private readonly hash = createHash("sha256");
  private chunk = Buffer.alloc(CHUNK);
  private used = 0;
  private position = HEADER_BYTES;
  private lengths = new Uint32Array(1024);
  private count = 0;

  private constructor(
    private readonly handle: Awaited<ReturnType<typeof open>>,
    private readonly tmp: string,
    private readonly target: string,
    private readonly masks: boolean,
  ) {}

  static async create(target: string, masks: boolean): Promise<DocumentFileWriter> {
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    return new DocumentFileWriter(await open(tmp, "wx"), tmp, target, masks);
  }

  async add(doc: TokenDocument): Promise<void> {
    const n = doc.ids.length;
    if (this.masks !== (doc.mask !== undefined))
      throw new Error("every document of a cache file has a mask, or none");
    const size = recordBytes(n, this.masks);
    if (this.used + size > this.chunk.length) await this.flush();
    if (size > this.chunk.length) this.chunk = Buffer.alloc(size);
    const at = this.used;
    this.chunk.set(new Uint8Array(doc.ids.buffer, doc.ids.byteOffset, n * 4), at);
    if (doc.mask) this.chunk.set(doc.mask, at + n * 4);
    this.chunk.fill(0, at + n * (this.masks ? 5 : 4), at + size);
    this.used += size;
    if (this.count === this.lengths.length) {
      const grown = new Uint32Array(this.lengths.length * 2);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    this.lengths[this.count++] = n;
  }

  private async write(bytes: Uint8Array): Promise<void> {
    this.hash.update(bytes);
    await this.handle.write(bytes, 0, bytes.length, this.position);
    this.position += bytes.length;
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    await this.write(this.chunk.subarray(0, this.used));
    this.used = 0;
  }

  /** Writes the index, the footer and the header, then moves the file into place. */
  async finish(footer: Footer): Promise<void> {
    try {
      await this.flush();
      const indexOffset = this.position;
      await this.write(new Uint8Array(this.lengths.buffer, 0, this.count * 4));
      const footerOffset = this.position;
      const footerBytes = Buffer.from(JSON.stringify(footer));
      await this.write(footerBytes);
      const header = Buffer.alloc(HEADER_BYTES);
      header.write(MAGIC, 0, "latin1");
      header.writeUInt32LE(FORMAT, 4);
      header.writeUInt32LE(this.masks ? FLAG_MASKS : 0, 8);
      header.writeUInt32LE(this.count, 12);
      header.writeDoubleLE(indexOffset, 16);
      header.writeDoubleLE(footerOffset, 24);
      header.writeUInt32LE(footerBytes.length, 32);
      this.hash.digest().copy(header, 40);
      await this.handle.write(header, 0, HEADER_BYTES, 0);
      await this.handle.sync();
      await this.handle.close();
      await rename(this.tmp, this.target);
    } catch (error) {
      await this.abort();
      throw error;
    }
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.tmp, { force: true });
  }
}

/** An open cache file: lengths in memory, records read on demand. */
export class DocumentFile {
  private constructor(
    private readonly fd: number,
    readonly lengths: Uint32Array,
    private readonly offsets: Float64Array,
    readonly masks: boolean,
    readonly footer: Footer,
  ) {}

  /**
   * The file at `path` if it is intact and was made for `key` (compared as JSON); otherwise undefined and
   * why, so the caller rebuilds it.
   */
  static async open(path: string, key: unknown): Promise<{ file?: DocumentFile; problem?: string }> {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { problem: "absent" };
      throw error;
    }
    try {
      const problem = await DocumentFile.check(fd, path);
      if (typeof problem === "string") {
        closeSync(fd);
        return { problem };
      }
      const { header, size } = problem;
      const count = header.readUInt32LE(12);
      const indexOffset = header.readDoubleLE(16);
      const footerOffset = header.readDoubleLE(24);
      const footerLength = header.readUInt32LE(32);
      const masks = (header.readUInt32LE(8) & FLAG_MASKS) !== 0;
      if (indexOffset + count * 4 !== footerOffset || footerOffset + footerLength !== size) {
        closeSync(fd);
        return { problem: "inconsistent layout" };
      }
      const lengths = new Uint32Array(count);
      readExactly(fd, new Uint8Array(lengths.buffer), indexOffset);
      const footerBytes = Buffer.alloc(footerLength);
      readExactly(fd, footerBytes, footerOffset);
      const footer = JSON.parse(footerBytes.toString("utf8")) as Footer;
      if (JSON.stringify(footer.key) !== JSON.stringify(key)) {
        closeSync(fd);
        return { problem: "made for another key" };
      }
      const offsets = new Float64Array(count + 1);
      offsets[0] = HEADER_BYTES;
      for (let i = 0; i < count; i++)
        offsets[i + 1] = (offsets[i] as number) + recordBytes(lengths[i] as number, masks);
      if (offsets[count] !== indexOffset) {
        closeSync(fd);
        return { problem: "inconsistent layout" };
      }
      return { file: new DocumentFile(fd, lengths, offsets, masks, footer) };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The header when magic, format and checksum hold; otherwise what is wrong. */
  private static async check(fd: number, path: string): Promise<{ header: Buffer; size: number } | string> {
    const size = fstatSync(fd).size;
    if (size < HEADER_BYTES) return "shorter than its header";
    const header = Buffer.alloc(HEADER_BYTES);
    readExactly(fd, header, 0);
    if (header.toString("latin1", 0, 4) !== MAGIC) return "not a document cache file";
    if (header.readUInt32LE(4) !== FORMAT) return `format ${header.readUInt32LE(4)}, not ${FORMAT}`;
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path, { start: HEADER_BYTES, highWaterMark: CHUNK }))
      hash.update(chunk as Buffer);
    if (!hash.digest().equals(header.subarray(40, 72))) return "checksum mismatch";
    return { header, size };
  }

  get count(): number {
    return this.lengths.length;
  }

  /** Document `index` read from disk; the arrays are its own. */
  read(index: number): TokenDocument {
    const n = this.lengths[index] as number;
    const bytes = new Uint8Array(recordBytes(n, this.masks));
    readExactly(this.fd, bytes, this.offsets[index] as number);
    const ids = new Int32Array(bytes.buffer, 0, n);
    return this.masks ? { ids, mask: bytes.subarray(n * 4, n * 5) } : { ids };
  }

  close(): void {
    closeSync(this.fd);
  }
}

function readExactly(fd: number, into: Uint8Array, position: number): void {
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(`document cache: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}
