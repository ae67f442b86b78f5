import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BlobIntegrityError, BlobNotFoundError, LocalBlobStore } from "../src/blob-store";
import { sha256Hex } from "../src/hashing";

let root: string;
let store: LocalBlobStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "shards-blob-"));
  store = new LocalBlobStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const enc = (s: string) => new TextEncoder().encode(s);

async function flipByte(path: string, at = 0): Promise<void> {
  const bytes = await readFile(path);
  bytes[at] = (bytes[at] ?? 0) ^ 0xff;
  await writeFile(path, bytes);
}

async function readStream(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}

describe("LocalBlobStore", () => {
  it("round-trips bytes through put and get, named by their sha256", async () => {
    const bytes = enc("สวัสดี blob 🙂");
    const stored = await store.put(bytes);
    expect(stored).toEqual({ sha256: sha256Hex(bytes), bytes: bytes.byteLength });
    const back = await store.get(stored.sha256);
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
    expect(await store.has(stored.sha256)).toBe(true);
  });

  it("stores an empty blob", async () => {
    const stored = await store.put(new Uint8Array());
    expect(stored.bytes).toBe(0);
    expect((await store.get(stored.sha256)).byteLength).toBe(0);
  });

  it("lays blobs out as root/sha256/ab/cd/<hash>", async () => {
    const { sha256 } = await store.put(enc("layout"));
    const expected = join(root, "sha256", sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    expect(store.pathOf(sha256)).toBe(expected);
    expect((await readFile(expected)).toString("utf8")).toBe("layout");
    expect(await readdir(join(root, "sha256"))).toEqual([sha256.slice(0, 2)]);
    expect(await readdir(join(root, "sha256", sha256.slice(0, 2)))).toEqual([sha256.slice(2, 4)]);
  });

  it("refuses names that are not a sha256", () => {
    expect(() => store.pathOf("../etc/passwd")).toThrow(/not a sha256/);
    expect(() => store.pathOf("A".repeat(64))).toThrow(/not a sha256/);
  });

  it("is idempotent: the same bytes twice keep one blob and the file is not rewritten", async () => {
    const bytes = enc("same bytes twice");
    const first = await store.put(bytes);
    const statBefore = await store.stat(first.sha256);
    const second = await store.put(bytes);
    expect(second).toEqual(first);
    expect(await store.stat(first.sha256)).toEqual(statBefore);
    const dir = join(root, "sha256", first.sha256.slice(0, 2), first.sha256.slice(2, 4));
    expect(await readdir(dir)).toEqual([first.sha256]);
  });

  it("leaves no files in tmp/ after puts", async () => {
    await store.put(enc("one"));
    await store.put(enc("two"));
    await store.put(enc("one"));
    await Promise.all([store.put(enc("three")), store.put(enc("four")), store.put(enc("three"))]);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("get throws BlobIntegrityError naming the label when a stored byte is flipped", async () => {
    const { sha256 } = await store.put(enc("precious shard bytes"));
    await flipByte(store.pathOf(sha256), 3);
    const label = "shard data/train-00000-of-00001.parquet of version abc123";
    const error = await store.get(sha256, label).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobIntegrityError);
    const integrity = error as BlobIntegrityError;
    expect(integrity.message).toContain(label);
    expect(integrity.message).toContain(sha256);
    expect(integrity.code).toBe("BLOB_INTEGRITY");
    expect(integrity.sha256).toBe(sha256);
    expect(integrity.label).toBe(label);
    expect(integrity.actual).not.toBe(sha256);
    expect(integrity.actual).toBe(sha256Hex(await readFile(store.pathOf(sha256))));
  });

  it("get detects a truncated blob", async () => {
    const { sha256 } = await store.put(enc("truncate me please"));
    await writeFile(store.pathOf(sha256), enc("truncate"));
    await expect(store.get(sha256)).rejects.toBeInstanceOf(BlobIntegrityError);
  });

  it("get throws BlobNotFoundError for a missing blob", async () => {
    const missing = sha256Hex("never stored");
    const error = await store.get(missing, "the missing one").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BlobNotFoundError);
    expect((error as BlobNotFoundError).code).toBe("BLOB_NOT_FOUND");
    expect((error as Error).message).toContain("the missing one");
    expect((error as Error).message).toContain(missing);
    expect(await store.has(missing)).toBe(false);
    expect(await store.stat(missing)).toBeUndefined();
  });

  it("verify reports ok with the size for an intact blob and ok:false on corruption", async () => {
    const bytes = enc("verify me");
    const { sha256 } = await store.put(bytes);
    expect(await store.verify(sha256)).toEqual({ ok: true, bytes: bytes.byteLength });
    await flipByte(store.pathOf(sha256));
    const result = await store.verify(sha256, "label-for-verify");
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toBeInstanceOf(BlobIntegrityError);
    expect(result.error.message).toContain("label-for-verify");
  });

  it("verify reports ok:false (not a throw) for a missing blob", async () => {
    const result = await store.verify(sha256Hex("absent"));
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error("unreachable");
    expect(result.error).toBeInstanceOf(BlobNotFoundError);
  });

  it("a put over a corrupt existing blob of the same size repairs it", async () => {
    const bytes = enc("repair me if I rot");
    const { sha256 } = await store.put(bytes);
    await flipByte(store.pathOf(sha256), 5);
    await expect(store.get(sha256)).rejects.toBeInstanceOf(BlobIntegrityError);
    await store.put(bytes);
    expect(Buffer.from(await store.get(sha256)).equals(Buffer.from(bytes))).toBe(true);
    expect(await readdir(join(root, "tmp"))).toEqual([]);
  });

  it("a put over a truncated existing blob repairs it", async () => {
    const bytes = enc("a longer blob that got truncated on disk");
    const { sha256 } = await store.put(bytes);
    await writeFile(store.pathOf(sha256), bytes.subarray(0, 4));
    await store.put(bytes);
    expect((await store.verify(sha256)).ok).toBe(true);
  });

  it("stat gives the size and a change token that changes when the file is rewritten", async () => {
    const bytes = enc("stat me");
    const { sha256 } = await store.put(bytes);
    const before = await store.stat(sha256);
    expect(before?.bytes).toBe(bytes.byteLength);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await flipByte(store.pathOf(sha256));
    const after = await store.stat(sha256);
    expect(after?.bytes).toBe(bytes.byteLength);
    expect(after?.changeToken).not.toBe(before?.changeToken);
  });

  it("openRange returns the inclusive byte range", async () => {
    const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7 + 3) % 256);
    const { sha256 } = await store.put(bytes);
    const mid = await readStream(store.openRange(sha256, 100, 199));
    expect(mid.equals(Buffer.from(bytes.subarray(100, 200)))).toBe(true);
    const first = await readStream(store.openRange(sha256, 0, 0));
    expect([...first]).toEqual([bytes[0]]);
    const tail = await readStream(store.openRange(sha256, 150_000, bytes.length - 1));
    expect(tail.equals(Buffer.from(bytes.subarray(150_000)))).toBe(true);
  });

  it("openRange works on Thai text at byte offsets", async () => {
    const text = "กขค";
    const { sha256 } = await store.put(enc(text));
    // Each Thai character is three UTF-8 bytes.
    expect((await readStream(store.openRange(sha256, 3, 5))).toString("utf8")).toBe("ข");
  });
});
