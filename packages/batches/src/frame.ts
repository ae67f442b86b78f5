/**
 * @module The engine's binary batch frame (docs/engine-protocol.md): magic `SVB1`, a uint32 LE header length,
 * a UTF-8 JSON header naming each array, then the arrays, little-endian, each starting at a multiple of 4
 * bytes from the frame's start. Only `int32` arrays exist today; a reader refuses a magic or a header
 * `version` it does not know, naming what it found and what it expected.
 */

export const FRAME_MAGIC = "SVB1";
export const FRAME_VERSION = 1;

export type FrameDtype = "int32";

/** Where one array lies: `offset` counts from the frame's first byte, `length` is in bytes. */
export type FrameArrayEntry = {
  name: string;
  dtype: FrameDtype;
  shape: number[];
  offset: number;
  length: number;
};

/** The header's protocol fields; a frame may carry more (`prompts` for prompt batches). */
export type FrameHeader = {
  version: number;
  run: string;
  step: number;
  rank: number;
  world: number;
  role: string;
  rows: number;
  seqLen: number;
  arrays: FrameArrayEntry[];
  [field: string]: unknown;
};

export type FrameArray = { name: string; shape: number[]; data: Int32Array };

export class FrameError extends Error {
  readonly code = "BAD_FRAME";
}

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // Arrays are written and read as views of their bytes, which is little-endian only on a little-endian host.
  throw new Error("@sovereign/batches needs a little-endian host");
}

const align4 = (n: number) => (n + 3) & ~3;
const utf8 = new TextEncoder();

/**
 * The frame for `header` (everything but `version` and `arrays`, which this fills in) and `arrays` in the
 * given order. The JSON header is padded with spaces so the first array starts right after it on a multiple
 * of 4; key order is the caller's, so the same inputs give the same bytes.
 */
export function encodeFrame(
  header: Omit<FrameHeader, "version" | "arrays">,
  arrays: FrameArray[],
): Uint8Array {
  for (const a of arrays) {
    const count = a.shape.reduce((n, d) => n * d, 1);
    if (count !== a.data.length)
      throw new RangeError(
        `array ${a.name}: shape [${a.shape}] holds ${count} values, data has ${a.data.length}`,
      );
  }
  const entriesFrom = (base: number): FrameArrayEntry[] => {
    let at = base;
    return arrays.map((a) => {
      const entry = {
        name: a.name,
        dtype: "int32" as const,
        shape: a.shape,
        offset: at,
        length: a.data.byteLength,
      };
      at = align4(at + a.data.byteLength);
      return entry;
    });
  };
  const { version: _version, arrays: _arrays, ...rest } = header as FrameHeader;
  // The header holds the offsets and its length moves them: grow it until the JSON fits before the first
  // array, then pad it with spaces to end exactly there (a digit more at most a few times, so few rounds).
  let headerLength = 0;
  let json = "";
  for (;;) {
    const base = align4(8 + headerLength);
    json = JSON.stringify({ version: FRAME_VERSION, ...rest, arrays: entriesFrom(base) });
    const bytes = utf8.encode(json).length;
    if (8 + bytes <= base) {
      json += " ".repeat(base - 8 - bytes);
      headerLength = base - 8;
      break;
    }
    headerLength = bytes;
  }
  const entries = entriesFrom(8 + headerLength);
  const last = entries[entries.length - 1];
  const total = last ? align4(last.offset + last.length) : 8 + headerLength;
  const out = new Uint8Array(total);
  out.set(utf8.encode(FRAME_MAGIC), 0);
  new DataView(out.buffer).setUint32(4, headerLength, true);
  out.set(utf8.encode(json), 8);
  arrays.forEach((a, i) => {
    out.set(
      new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength),
      (entries[i] as FrameArrayEntry).offset,
    );
  });
  return out;
}

export type DecodedFrame = { header: FrameHeader; arrays: Record<string, Int32Array> };

const KNOWN = `this reader knows magic "${FRAME_MAGIC}" version ${FRAME_VERSION}`;

/** Header and arrays of a frame; refuses an unknown magic or version, and arrays outside the frame. */
export function decodeFrame(bytes: Uint8Array): DecodedFrame {
  if (bytes.length < 8)
    throw new FrameError(`batch frame of ${bytes.length} bytes is shorter than its 8-byte preamble`);
  const magic = String.fromCharCode(...bytes.subarray(0, 4));
  if (magic !== FRAME_MAGIC)
    throw new FrameError(`unknown batch frame: magic ${JSON.stringify(magic)}; ${KNOWN}`);
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + headerLength > bytes.length)
    throw new FrameError(
      `batch frame header of ${headerLength} bytes runs past the ${bytes.length}-byte frame`,
    );
  let header: FrameHeader;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (error) {
    throw new FrameError(`batch frame header is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (header?.version !== FRAME_VERSION)
    throw new FrameError(
      `unknown batch frame: magic "${magic}" version ${JSON.stringify(header?.version)}; ${KNOWN}`,
    );
  if (!Array.isArray(header.arrays)) throw new FrameError("batch frame header has no `arrays` list");
  const arrays: Record<string, Int32Array> = {};
  for (const { name, dtype, shape, offset, length } of header.arrays) {
    if (dtype !== "int32") throw new FrameError(`array ${name}: dtype ${JSON.stringify(dtype)} is not int32`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
      throw new FrameError(`array ${name}: shape ${JSON.stringify(shape)} is not a list of sizes`);
    const count = shape.reduce((n, d) => n * d, 1);
    if (
      offset % 4 !== 0 ||
      length !== count * 4 ||
      offset < 8 + headerLength ||
      offset + length > bytes.length
    ) {
      throw new FrameError(
        `array ${name}: offset ${offset}, ${length} bytes for shape [${shape}] does not fit a ${bytes.length}-byte frame`,
      );
    }
    const start = bytes.byteOffset + offset;
    arrays[name] =
      start % 4 === 0
        ? new Int32Array(bytes.buffer, start, count)
        : new Int32Array(bytes.slice(offset, offset + length).buffer);
  }
  return { header, arrays };
}
