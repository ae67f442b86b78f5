/** The engine batch frame: layout exactly as docs/engine-protocol.md has it, round trips, refusals. */
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, FrameError } from "../src/index";

const header = { run: "run-1", step: 7, rank: 1, world: 2, role: "train", rows: 2, seqLen: 3 };
const arrays = () => [
  { name: "input_ids", shape: [2, 3], data: Int32Array.from([1, 2, 3, 151643, 5, -6]) },
  { name: "labels", shape: [2, 3], data: Int32Array.from([2, 3, -100, -100, -6, -100]) },
  { name: "empty", shape: [0], data: new Int32Array(0) },
  { name: "odd", shape: [1], data: Int32Array.from([2 ** 31 - 1]) },
];

/** Rewrites bytes of the JSON header in place (same length), to forge frames. */
function forge(frame: Uint8Array, from: string, to: string): Uint8Array {
  const out = frame.slice();
  const length = new DataView(out.buffer).getUint32(4, true);
  const text = new TextDecoder().decode(out.subarray(8, 8 + length));
  expect(to.length).toBe(from.length);
  out.set(new TextEncoder().encode(text.replace(from, to)), 8);
  return out;
}

describe("encodeFrame", () => {
  it("lays out magic, header length, JSON header and 4-byte aligned little-endian arrays", () => {
    const frame = encodeFrame(header, arrays());
    expect(new TextDecoder().decode(frame.subarray(0, 4))).toBe("SVB1");
    const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const h = view.getUint32(4, true);
    const json = JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + h)));
    expect(json).toMatchObject({ version: 1, ...header });
    expect(json.arrays.map((a: { name: string }) => a.name)).toEqual(["input_ids", "labels", "empty", "odd"]);
    let end = 8 + h;
    for (const [i, entry] of json.arrays.entries()) {
      expect(entry.dtype).toBe("int32");
      expect(entry.offset % 4).toBe(0);
      expect(entry.offset).toBeGreaterThanOrEqual(end);
      const data = arrays()[i]?.data as Int32Array;
      expect(entry.length).toBe(data.byteLength);
      for (let k = 0; k < data.length; k++) expect(view.getInt32(entry.offset + 4 * k, true)).toBe(data[k]);
      end = entry.offset + entry.length;
    }
    expect(frame.length).toBe(end);
  });

  it("gives the same bytes for the same inputs", () => {
    expect(
      Buffer.from(encodeFrame(header, arrays())).equals(Buffer.from(encodeFrame(header, arrays()))),
    ).toBe(true);
  });

  it("refuses data that does not fill its shape", () => {
    expect(() => encodeFrame(header, [{ name: "x", shape: [2, 2], data: new Int32Array(3) }])).toThrow(
      /shape \[2,2\]/,
    );
  });
});

describe("decodeFrame", () => {
  it("round-trips header and arrays, also from an unaligned view", () => {
    const frame = encodeFrame({ ...header, prompts: [{ id: "abc/p-1", index: 0 }] }, arrays());
    const shifted = new Uint8Array(frame.length + 1);
    shifted.set(frame, 1);
    for (const bytes of [frame, shifted.subarray(1)]) {
      const decoded = decodeFrame(bytes);
      expect(decoded.header).toMatchObject({ version: 1, ...header, prompts: [{ id: "abc/p-1", index: 0 }] });
      for (const a of arrays()) expect(Array.from(decoded.arrays[a.name] ?? [])).toEqual(Array.from(a.data));
    }
  });

  it("refuses a wrong magic, naming it and the expected one", () => {
    const frame = encodeFrame(header, arrays());
    frame.set(new TextEncoder().encode("SVB2"), 0);
    expect(() => decodeFrame(frame)).toThrow(FrameError);
    expect(() => decodeFrame(frame)).toThrow('magic "SVB2"; this reader knows magic "SVB1" version 1');
  });

  it("refuses an unknown version, naming it and the known one", () => {
    const frame = forge(encodeFrame(header, arrays()), '"version":1', '"version":9');
    expect(() => decodeFrame(frame)).toThrow(
      /magic "SVB1" version 9; this reader knows magic "SVB1" version 1/,
    );
  });

  it("refuses arrays that lie outside the frame or disagree with their shape", () => {
    const frame = encodeFrame(header, arrays());
    expect(() => decodeFrame(frame.subarray(0, frame.length - 4))).toThrow(/does not fit/);
    expect(() => decodeFrame(forge(frame, '"shape":[1]', '"shape":[2]'))).toThrow(/array odd/);
    expect(() => decodeFrame(new Uint8Array(5))).toThrow(/shorter than its 8-byte preamble/);
    expect(() => decodeFrame(frame.subarray(0, 20))).toThrow(
      /header of \d+ bytes runs past the 20-byte frame/,
    );
    expect(() => decodeFrame(forge(frame, '"shape":[1]', '"shape":"1"'))).toThrow(/not a list of sizes/);
  });
});
