/**
 * @module Uploaded input files, streamed to disk with a size cap before a version is built from them.
 * An upload is addressed by a random id; its file name never touches a path, but is kept with it: it labels
 * the upload's records, and its extension declares the format (`.parquet`, else JSONL), which the bytes must
 * agree with.
 */
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { checkedFormat, type InputFormat, InputFormatError } from "@sovereign/shards";
import { CuratorError } from "./errors";

export const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export type UploadInfo = {
  upload: string;
  filename: string;
  format: InputFormat;
  bytes: number;
  sha256: string;
};

/** A file name as a label: no directory part, no `..`, no control characters. */
export function assertFileName(name: string): void {
  if (
    name.length === 0 ||
    name.length > 255 ||
    name === "." ||
    name === ".." ||
    /[/\\]/.test(name) ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
    /[\u0000-\u001f\u007f]/.test(name)
  ) {
    throw new CuratorError(
      "BAD_REQUEST",
      `file name ${JSON.stringify(name)} is not allowed: give a plain name without '/', '\\' or '..'`,
    );
  }
}

export class UploadStore {
  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  private paths(id: string) {
    if (!UPLOAD_ID.test(id))
      throw new CuratorError("BAD_REQUEST", `upload id ${JSON.stringify(id)} is not a valid id`);
    return { data: join(this.dir, id), info: join(this.dir, `${id}.json`) };
  }

  async save(
    filename: string,
    body: ReadableStream<Uint8Array> | null,
    declaredLength?: number,
  ): Promise<UploadInfo> {
    assertFileName(filename);
    if (declaredLength !== undefined && declaredLength > this.maxBytes) throw this.tooLarge();
    if (!body) throw new CuratorError("BAD_REQUEST", "the upload has no body");
    await mkdir(this.dir, { recursive: true });
    const id = randomUUID();
    const { data, info } = this.paths(id);
    const hash = createHash("sha256");
    let bytes = 0;
    const maxBytes = this.maxBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        bytes += chunk.length;
        if (bytes > maxBytes) {
          callback(new CuratorError("PAYLOAD_TOO_LARGE", ""));
          return;
        }
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(body as import("node:stream/web").ReadableStream),
        counter,
        createWriteStream(data),
      );
    } catch (error) {
      await rm(data, { force: true });
      if (error instanceof CuratorError && error.code === "PAYLOAD_TOO_LARGE") throw this.tooLarge();
      throw error;
    }
    let format: InputFormat;
    try {
      format = await checkedFormat(data, filename);
    } catch (error) {
      await rm(data, { force: true });
      if (error instanceof InputFormatError) throw new CuratorError("BAD_REQUEST", error.message);
      throw error;
    }
    const result: UploadInfo = { upload: id, filename, format, bytes, sha256: hash.digest("hex") };
    await writeFile(info, JSON.stringify(result));
    return result;
  }

  private tooLarge() {
    return new CuratorError(
      "PAYLOAD_TOO_LARGE",
      `upload is larger than the ${this.maxBytes}-byte limit (CURATOR_MAX_UPLOAD_BYTES)`,
    );
  }

  async get(id: string): Promise<UploadInfo & { path: string }> {
    const { data, info } = this.paths(id);
    const raw = await readFile(info, "utf8").catch(() => undefined);
    if (!raw)
      throw new CuratorError(
        "NOT_FOUND",
        `upload ${id} not found (uploads are removed once a version is built from them)`,
      );
    return { ...(JSON.parse(raw) as UploadInfo), path: data };
  }

  async remove(id: string): Promise<void> {
    const { data, info } = this.paths(id);
    await rm(data, { force: true });
    await rm(info, { force: true });
  }
}
