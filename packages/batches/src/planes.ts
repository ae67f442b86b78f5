/**
 * @module Where a step's data comes from, per kind of role: packed rows laid end to end over epochs
 * (`PackedPlane`), or prompts drawn epoch after epoch (`PromptPlane`), each turned into a frame.
 */
import type { DocumentSet } from "./document-set";
import type { PromptMeta, Role, TokenDocument } from "./documents";
import { encodeFrame, type FrameArray } from "./frame";
import { epochOrder } from "./order";
import { allocateRows, type EpochPlan, planEpoch, writeRow } from "./packing";

/** A prompt as rollouts name it, with what scoring needs. */
export type PromptInfo = PromptMeta & { id: string; version: string; ids: Int32Array };

/** A two-entry memo: a step needs at most the epoch it is in and the one before. */
class Recent<T> {
  private readonly entries = new Map<number, T>();
  constructor(private readonly make: (key: number) => T) {}
  get(key: number): T {
    let value = this.entries.get(key);
    if (value === undefined) {
      value = this.make(key);
      this.entries.set(key, value);
      if (this.entries.size > 2) this.entries.delete(this.entries.keys().next().value as number);
    }
    return value;
  }
}

export type FrameHeaderBase = { run: string; step: number; rank: number; world: number; role: Role };

export interface Plane {
  rowsInEpoch(epoch: number): number;
  frame(header: FrameHeaderBase, first: number, count: number, seqLen: number): Uint8Array;
  prompt(id: string): PromptInfo | undefined;
}

export class PackedPlane implements Plane {
  private readonly plans: Recent<EpochPlan>;
  /** `epochStarts[e]`: global index of epoch e's first row, known for every epoch planned so far. */
  private readonly epochStarts: number[] = [0];

  constructor(
    private readonly set: DocumentSet,
    private readonly options: { seed: number; seqLen: number; packWindow: number; pad: number },
  ) {
    this.plans = new Recent((epoch) =>
      planEpoch(
        set.lengths,
        epochOrder(set.count, options.seed, epoch, set.identity),
        options.seqLen,
        options.packWindow,
      ),
    );
  }

  rowsInEpoch(epoch: number): number {
    const [start, end] = [this.epochStarts[epoch], this.epochStarts[epoch + 1]];
    return start !== undefined && end !== undefined ? end - start : this.plans.get(epoch).rows;
  }

  private locate(row: number): { epoch: number; row: number } {
    while ((this.epochStarts.at(-1) as number) <= row) {
      const epoch = this.epochStarts.length - 1;
      this.epochStarts.push((this.epochStarts[epoch] as number) + this.rowsInEpoch(epoch));
    }
    let epoch = 0;
    while ((this.epochStarts[epoch + 1] as number) <= row) epoch++;
    return { epoch, row: row - (this.epochStarts[epoch] as number) };
  }

  frame(header: FrameHeaderBase, first: number, count: number, seqLen: number): Uint8Array {
    const out = allocateRows(count, seqLen);
    for (let i = 0; i < count; i++) {
      const { epoch, row } = this.locate(first + i);
      const plan = this.plans.get(epoch);
      const docs: TokenDocument[] = [];
      for (let d = plan.rowStarts[row] as number; d < (plan.rowStarts[row + 1] as number); d++)
        docs.push(this.set.read(plan.docs[d] as number));
      writeRow(out, i, seqLen, docs, this.options.pad);
    }
    const shape = [count, seqLen];
    return encodeFrame({ ...header, rows: count, seqLen }, [
      { name: "input_ids", shape, data: out.inputIds },
      { name: "labels", shape, data: out.labels },
      { name: "position_ids", shape, data: out.positionIds },
    ]);
  }

  prompt(): undefined {
    return undefined;
  }
}

export class PromptPlane implements Plane {
  private readonly orders: Recent<Uint32Array>;
  private readonly ids: string[] = [];
  private readonly byId = new Map<string, number>();

  constructor(
    private readonly set: DocumentSet,
    options: { seed: number },
  ) {
    this.orders = new Recent((epoch) => epochOrder(set.count, options.seed, epoch, set.identity));
    set.files.forEach((file, f) => {
      const version = set.versions[f] as string;
      for (const meta of file.footer.prompts ?? []) {
        const id = `${version.slice(0, 12)}/${meta.sampleId}`;
        this.byId.set(id, this.ids.length);
        this.ids.push(id);
      }
    });
  }

  rowsInEpoch(): number {
    return this.set.count;
  }

  frame(header: FrameHeaderBase, first: number, count: number, seqLen: number): Uint8Array {
    const documents: number[] = [];
    for (let g = first; g < first + count; g++) {
      const epoch = Math.floor(g / this.set.count);
      documents.push(this.orders.get(epoch)[g - epoch * this.set.count] as number);
    }
    const parts = documents.map((d) => splitPrompt(this.set.read(d)));
    const arrays = ragged(
      "prompt",
      parts.map((p) => p.prompt),
    );
    // Dataset responses, when every version holds them (chat sets): on-policy distillation's dataset examples.
    if (this.set.files.every((f) => f.masks))
      arrays.push(
        ...ragged(
          "completion",
          parts.map((p) => p.response),
        ),
      );
    return encodeFrame(
      { ...header, rows: count, seqLen, prompts: documents.map((d, index) => ({ id: this.ids[d], index })) },
      arrays,
    );
  }

  prompt(id: string): PromptInfo | undefined {
    const index = this.byId.get(id);
    if (index === undefined) return undefined;
    const { file, local } = this.set.locate(index);
    const meta = this.set.files[file]?.footer.prompts?.[local] as PromptMeta;
    const { prompt } = splitPrompt(this.set.read(index));
    return { id, version: this.set.versions[file] as string, ...meta, ids: prompt };
  }
}

/** A prompt document's prompt (its unmasked head) and dataset response (the masked rest; empty without a mask). */
function splitPrompt(doc: TokenDocument): { prompt: Int32Array; response: Int32Array } {
  const at = doc.mask ? doc.mask.indexOf(1) : -1;
  const end = at === -1 ? doc.ids.length : at;
  return { prompt: doc.ids.subarray(0, end), response: doc.ids.subarray(end) };
}

/** `<name>_offsets` [n + 1] and `<name>_tokens` [total] of ragged id lists. */
function ragged(name: string, lists: Int32Array[]): FrameArray[] {
  const offsets = new Int32Array(lists.length + 1);
  lists.forEach((ids, i) => {
    offsets[i + 1] = (offsets[i] as number) + ids.length;
  });
  const tokens = new Int32Array(offsets[lists.length] as number);
  lists.forEach((ids, i) => {
    tokens.set(ids, offsets[i]);
  });
  return [
    { name: `${name}_offsets`, shape: [offsets.length], data: offsets },
    { name: `${name}_tokens`, shape: [tokens.length], data: tokens },
  ];
}
