/** Epoch plans and row filling on synthetic documents: capacity, coverage, positions and labels. */
import { describe, expect, it } from "vitest";
import {
  allocateRows,
  epochOrder,
  IGNORE_INDEX,
  planEpoch,
  type TokenDocument,
  writeRow,
} from "../src/index";

describe("epochOrder", () => {
  it("is a permutation fixed by seed, epoch and identity", () => {
    const a = epochOrder(1000, 7, 0, "v1");
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(epochOrder(1000, 7, 0, "v1"))).toEqual(Array.from(a));
    for (const other of [
      epochOrder(1000, 8, 0, "v1"),
      epochOrder(1000, 7, 1, "v1"),
      epochOrder(1000, 7, 0, "v2"),
    ])
      expect(Array.from(other)).not.toEqual(Array.from(a));
  });

  it("moves every position about equally often", () => {
    // Where document 0 lands over many seeds: each tenth of the range should get about a tenth of them.
    const buckets = new Array(10).fill(0);
    for (let seed = 0; seed < 2000; seed++)
      buckets[Math.floor(epochOrder(100, seed, 0, "x").indexOf(0) / 10)]++;
    for (const b of buckets) expect(b).toBeGreaterThan(140);
  });
});

describe("planEpoch", () => {
  const lengths = Uint32Array.from([5, 3, 8, 2, 7, 1, 4, 6, 8, 3]);
  const order = Uint32Array.from([3, 0, 9, 2, 5, 7, 1, 8, 4, 6]);

  it("places every document once, in rows that never overflow", () => {
    const plan = planEpoch(lengths, order, 8, 4);
    expect([...plan.docs].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (let r = 0; r < plan.rows; r++) {
      const docs = Array.from(plan.docs.subarray(plan.rowStarts[r], plan.rowStarts[r + 1]));
      expect(docs.length).toBeGreaterThan(0);
      expect(docs.reduce((n, d) => n + (lengths[d] as number), 0)).toBeLessThanOrEqual(8);
    }
    // First fit over the last 4 rows opened, worked by hand: document 5 (1 token) goes back to row 0 and
    // document 1 to row 1; document 6 (4 tokens) finds no room in rows 2 to 5.
    const rows = Array.from({ length: plan.rows }, (_, r) =>
      Array.from(plan.docs.subarray(plan.rowStarts[r], plan.rowStarts[r + 1])),
    );
    expect(rows).toEqual([[3, 0, 5], [9, 1], [2], [7], [8], [4], [6]]);
  });

  it("only reuses rows inside the window", () => {
    // Window 1: a row closes as soon as a document does not fit it, so document 5 (1 token) cannot go back.
    const plan = planEpoch(lengths, order, 8, 1);
    const rowOf = (doc: number) => {
      const at = plan.docs.indexOf(doc);
      let r = 0;
      while ((plan.rowStarts[r + 1] as number) <= at) r++;
      return r;
    };
    expect(rowOf(5)).toBeGreaterThan(rowOf(3));
    expect(plan.rows).toBeGreaterThan(planEpoch(lengths, order, 8, 4).rows);
  });
});

describe("writeRow", () => {
  const doc = (ids: number[], mask: number[]): TokenDocument => ({
    ids: Int32Array.from(ids),
    mask: Uint8Array.from(mask),
  });

  it("shifts labels within each document, restarts positions and pads as its own document", () => {
    const rows = allocateRows(2, 8);
    writeRow(rows, 1, 8, [doc([10, 11, 12], [0, 1, 1]), doc([20, 21, 22], [1, 0, 1])], 99);
    expect(Array.from(rows.inputIds.subarray(8))).toEqual([10, 11, 12, 20, 21, 22, 99, 99]);
    expect(Array.from(rows.positionIds.subarray(8))).toEqual([0, 1, 2, 0, 1, 2, 0, 1]);
    const x = IGNORE_INDEX;
    expect(Array.from(rows.labels.subarray(8))).toEqual([11, 12, x, x, 22, x, x, x]);
    expect(Array.from(rows.inputIds.subarray(0, 8))).toEqual(new Array(8).fill(0));
  });

  it("refuses documents that overflow the row", () => {
    expect(() =>
      writeRow(allocateRows(1, 4), 0, 4, [doc([1, 2, 3], [1, 1, 1]), doc([4, 5], [1, 1])], 0),
    ).toThrow(/overflow a row of 4/);
  });
});
