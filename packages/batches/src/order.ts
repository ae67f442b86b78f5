/**
 * @module The deterministic document order: epoch `e` of a run is a Fisher-Yates shuffle driven by sfc32, a
 * small counter-based PRNG, seeded from the sha256 of (seed, epoch, the data's identity). Any epoch's order
 * is computed on its own, so resuming at step k needs no replay of earlier draws.
 */
import { createHash } from "node:crypto";

/** sfc32 (Chris Doty-Humphrey's Small Fast Counting generator): 32-bit outputs from four words of state. */
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
}

/** The order of `count` documents in `epoch`: a permutation of 0..count-1. */
export function epochOrder(count: number, seed: number, epoch: number, identity: string): Uint32Array {
  const digest = createHash("sha256").update(JSON.stringify({ seed, epoch, identity })).digest();
  const next = sfc32(
    digest.readUInt32LE(0),
    digest.readUInt32LE(4),
    digest.readUInt32LE(8),
    digest.readUInt32LE(12),
  );
  for (let i = 0; i < 16; i++) next(); // the first outputs of a fresh sfc32 state are poorly mixed
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  for (let i = count - 1; i > 0; i--) {
    // 53 random bits, so the index is unbiased for any realistic count.
    const r = (next() * 2 ** 21 + (next() >>> 11)) / 2 ** 53;
    const j = Math.floor(r * (i + 1));
    const t = order[i] as number;
    order[i] = order[j] as number;
    order[j] = t;
  }
  return order;
}
