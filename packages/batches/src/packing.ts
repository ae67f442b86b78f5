/**
 * @module Packing documents into fixed rows of `seqLen` tokens.
 *
 * An epoch's plan takes its documents in shuffled order, first-fit into the last `window` rows opened (a new
 * row when none has room); rows are numbered in the order they were opened. The plan needs only lengths, so
 * it is computed without reading any token.
 *
 * A row holds its documents back to back, then padding: `input_ids` the document's ids, `position_ids`
 * restarting at 0 for each document, `labels` the next token where it is trained and -100 elsewhere (the
 * last position of every document included, so no label crosses into the next document). The padding
 * (`<|endoftext|>` ids, as Qwen pads) is one more document whose positions also restart at 0, with every
 * label -100: a reader that starts a new document wherever a position id is 0 (the engine does) keeps real
 * tokens from attending to padding and padding from attending to them.
 */
import type { TokenDocument } from "./documents";

export const IGNORE_INDEX = -100;

/** Rows of one epoch: row r holds `docs[rowStarts[r] .. rowStarts[r + 1])` in that order. */
export type EpochPlan = { rows: number; rowStarts: Uint32Array; docs: Uint32Array };

export function planEpoch(
  lengths: Uint32Array,
  order: Uint32Array,
  seqLen: number,
  window: number,
): EpochPlan {
  const rowOf = new Uint32Array(order.length);
  const fill: number[] = [];
  for (let i = 0; i < order.length; i++) {
    const length = lengths[order[i] as number] as number;
    let row = -1;
    for (let r = Math.max(0, fill.length - window); r < fill.length; r++) {
      if ((fill[r] as number) + length <= seqLen) {
        row = r;
        break;
      }
    }
    if (row === -1) {
      row = fill.length;
      fill.push(0);
    }
    fill[row] = (fill[row] as number) + length;
    rowOf[i] = row;
  }
  // Counting sort by row, stable, so each row keeps its documents in placement order.
  const rowStarts = new Uint32Array(fill.length + 1);
  for (const row of rowOf) rowStarts[row + 1] = (rowStarts[row + 1] as number) + 1;
  for (let r = 0; r < fill.length; r++)
    rowStarts[r + 1] = (rowStarts[r + 1] as number) + (rowStarts[r] as number);
  const next = rowStarts.slice(0, fill.length);
  const docs = new Uint32Array(order.length);
  rowOf.forEach((row, i) => {
    const at = next[row] as number;
    docs[at] = order[i] as number;
    next[row] = at + 1;
  });
  return { rows: fill.length, rowStarts, docs };
}

/** The three `[rows, seqLen]` arrays of a packed batch. */
export type PackedRows = { inputIds: Int32Array; labels: Int32Array; positionIds: Int32Array };

export function allocateRows(rows: number, seqLen: number): PackedRows {
  return {
    inputIds: new Int32Array(rows * seqLen),
    labels: new Int32Array(rows * seqLen),
    positionIds: new Int32Array(rows * seqLen),
  };
}

/** Writes row `row` of `out` from its documents (at most `seqLen` tokens together) and the padding. */
export function writeRow(
  out: PackedRows,
  row: number,
  seqLen: number,
  documents: TokenDocument[],
  pad: number,
): void {
  let at = row * seqLen;
  const end = at + seqLen;
  for (const { ids, mask } of documents) {
    const n = ids.length;
    if (at + n > end)
      throw new Error(`documents of ${at + n - row * seqLen} tokens overflow a row of ${seqLen}`);
    out.inputIds.set(ids, at);
    for (let i = 0; i < n; i++) {
      out.positionIds[at + i] = i;
      out.labels[at + i] = i + 1 < n && mask?.[i + 1] === 1 ? (ids[i + 1] as number) : IGNORE_INDEX;
    }
    at += n;
  }
  out.inputIds.fill(pad, at, end);
  out.labels.fill(IGNORE_INDEX, at, end);
  for (let i = 0; at + i < end; i++) out.positionIds[at + i] = i;
}
