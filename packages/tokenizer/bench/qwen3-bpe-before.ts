/**
 * @module The Qwen3-only byte-level BPE encoder as it was before the general one (src/bpe.ts), kept for the
 * benchmark only: the general encoder is timed against it on the same text.
 */

/** The parts of `tokenizer.json` this encoder reads. */
export type TokenizerJson = {
  added_tokens: {
    id: number;
    content: string;
    lstrip?: boolean;
    rstrip?: boolean;
    single_word?: boolean;
    normalized?: boolean;
  }[];
  normalizer: { type: string } | null;
  pre_tokenizer: { type: string; pretokenizers?: { type: string; pattern?: { Regex?: string } }[] } | null;
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: [string, string][] | string[];
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    dropout?: number | null;
  };
};

/** The split pattern of Qwen2/Qwen3 `tokenizer.json`, as written there (Oniguruma syntax). */
const QWEN_SPLIT_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/**
 * The same pattern for JavaScript, which has no inline `(?i:…)` group. Every character of any string falls
 * in one of the alternatives, so consecutive matches tile the text without gaps.
 */
const SPLIT =
  /'(?:[sStTmMdD]|[rR][eE]|[vV][eE]|[lL][lL])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu;

/** Pre-tokens longer than this (in UTF-16 units) are not cached: they rarely repeat. */
const MAX_CACHED_PIECE = 64;
/** The pre-token cache is dropped whole when it reaches this many entries, bounding memory per thread. */
const CACHE_LIMIT = 200_000;

/** GPT-2's reversible byte → printable character table that byte-level BPE vocabularies are written in. */
function bytesToUnicode(): string[] {
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    chars[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return chars;
}

/**
 * Merge ranks in an open-addressing hash table keyed by the (left id, right id) pair, so the inner loop of
 * BPE allocates nothing.
 */
class MergeTable {
  private readonly mask: number;
  private readonly lefts: Int32Array;
  private readonly rights: Int32Array;
  private readonly ranks: Int32Array;
  private readonly results: Int32Array;

  constructor(count: number) {
    let size = 1;
    while (size < count * 2) size <<= 1;
    this.mask = size - 1;
    this.lefts = new Int32Array(size).fill(-1);
    this.rights = new Int32Array(size);
    this.ranks = new Int32Array(size);
    this.results = new Int32Array(size);
  }

  private slot(left: number, right: number): number {
    return (Math.imul(left, 0x9e3779b1) ^ Math.imul(right, 0x85ebca6b)) & this.mask;
  }

  add(left: number, right: number, rank: number, result: number): void {
    let i = this.slot(left, right);
    while (this.lefts[i] !== -1) {
      if (this.lefts[i] === left && this.rights[i] === right) return; // a repeated merge keeps its first rank
      i = (i + 1) & this.mask;
    }
    this.lefts[i] = left;
    this.rights[i] = right;
    this.ranks[i] = rank;
    this.results[i] = result;
  }

  /** Slot of the merge of `left` and `right`, or -1 when the pair does not merge. */
  find(left: number, right: number): number {
    let i = this.slot(left, right);
    for (;;) {
      const l = this.lefts[i] as number;
      if (l === -1) return -1;
      if (l === left && this.rights[i] === right) return i;
      i = (i + 1) & this.mask;
    }
  }

  rank(slot: number): number {
    return this.ranks[slot] as number;
  }

  result(slot: number): number {
    return this.results[slot] as number;
  }
}

/** Min-heap of merge candidates keyed by rank, then by position so that equal ranks merge left to right. */
class CandidateHeap {
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  push(rank: number, pos: number): void {
    const keys = this.keys;
    const key = rank * 0x1_0000_0000 + pos;
    let i = keys.length;
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((keys[parent] as number) <= key) break;
      keys[i] = keys[parent] as number;
      i = parent;
    }
    keys[i] = key;
  }

  /** Removes the smallest key and returns it. */
  pop(): number {
    const keys = this.keys;
    const top = keys[0] as number;
    const last = keys.pop() as number;
    const n = keys.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && (keys[child + 1] as number) < (keys[child] as number)) child++;
        if ((keys[child] as number) >= last) break;
        keys[i] = keys[child] as number;
        i = child;
      }
      keys[i] = last;
    }
    return top;
  }
}

export class ByteLevelBpe {
  /** Number of ids: the BPE vocabulary plus the added tokens. */
  readonly size: number;
  private readonly byteIds = new Int32Array(256);
  private readonly merges: MergeTable;
  /** Added tokens by content, matched in raw text before normalization. */
  private readonly added = new Map<string, number>();
  /** Their contents, longest first so that one that is a prefix of another never wins (leftmost-longest). */
  private readonly addedContents: string[];
  /** UTF-8 bytes of every id, packed: id i is tokenBytes[byteStarts[i] .. byteStarts[i + 1]). */
  private readonly tokenBytes: Uint8Array;
  private readonly byteStarts: Uint32Array;
  private readonly cache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder("utf-8");

  constructor(json: TokenizerJson) {
    checkSupported(json);
    const { vocab, merges } = json.model;
    const byteChars = bytesToUnicode();
    // Byte-level characters are all below U+0144, so a small array inverts the table.
    const charToByte = new Int16Array(0x200).fill(-1);
    byteChars.forEach((c, b) => {
      charToByte[c.charCodeAt(0)] = b;
    });
    for (let b = 0; b < 256; b++) {
      const id = vocab[byteChars[b] as string];
      if (id === undefined)
        throw new Error(`tokenizer.json: model.vocab has no token for byte 0x${b.toString(16)}`);
      this.byteIds[b] = id;
    }

    const entries = Object.entries(vocab);
    let size = 0;
    for (const [, id] of entries) size = Math.max(size, id + 1);
    for (const t of json.added_tokens) size = Math.max(size, t.id + 1);
    this.size = size;

    const utf8 = new TextEncoder();
    const addedBytes = json.added_tokens.map((t) => utf8.encode(t.content));
    // A byte-level token has one character per byte.
    const lengths = new Uint32Array(size);
    for (const [token, id] of entries) lengths[id] = token.length;
    json.added_tokens.forEach((t, i) => {
      lengths[t.id] = (addedBytes[i] as Uint8Array).length;
    });
    this.byteStarts = new Uint32Array(size + 1);
    let total = 0;
    for (let id = 0; id < size; id++) {
      this.byteStarts[id] = total;
      total += lengths[id] as number;
    }
    this.byteStarts[size] = total;
    this.tokenBytes = new Uint8Array(total);
    for (const [token, id] of entries) {
      let at = this.byteStarts[id] as number;
      for (let i = 0; i < token.length; i++) {
        const b = charToByte[token.charCodeAt(i)] ?? -1;
        if (b === -1)
          throw new Error(`tokenizer.json: vocab token ${JSON.stringify(token)} is not byte-level`);
        this.tokenBytes[at++] = b;
      }
    }
    json.added_tokens.forEach((t, i) => {
      this.tokenBytes.set(addedBytes[i] as Uint8Array, this.byteStarts[t.id]);
      this.added.set(t.content, t.id);
    });
    this.addedContents = [...this.added.keys()].sort((a, b) => b.length - a.length);

    this.merges = new MergeTable(merges.length);
    merges.forEach((merge, rank) => {
      const [left, right] = typeof merge === "string" ? (merge.split(" ", 2) as [string, string]) : merge;
      const l = vocab[left];
      const r = vocab[right];
      const result = vocab[left + right];
      if (l === undefined || r === undefined || result === undefined) {
        throw new Error(
          `tokenizer.json: merge #${rank} ${JSON.stringify(merge)} names a token not in the vocab`,
        );
      }
      this.merges.add(l, r, rank, result);
    });
  }

  /** Ids of `text`, with added tokens written in it recognized as those tokens (all begin with "<"). */
  encode(text: string): number[] {
    const ids: number[] = [];
    let start = 0;
    let lt = text.indexOf("<");
    while (lt !== -1) {
      const token = this.addedTokenAt(text, lt);
      if (token === undefined) {
        lt = text.indexOf("<", lt + 1);
        continue;
      }
      if (lt > start) this.encodeOrdinary(text.slice(start, lt), ids);
      ids.push(this.added.get(token) as number);
      start = lt + token.length;
      lt = text.indexOf("<", start);
    }
    if (start < text.length) this.encodeOrdinary(start === 0 ? text : text.slice(start), ids);
    return ids;
  }

  /** UTF-8 length of an id's text; the ids of `encode(text)` add up to the byte length of NFC(text). */
  byteLength(id: number): number {
    return (this.byteStarts[id + 1] as number) - (this.byteStarts[id] as number);
  }

  /** Text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, as the Hugging Face decoder does. */
  decode(ids: readonly number[]): string {
    let length = 0;
    for (const id of ids) length += this.byteLength(this.checkId(id));
    const out = new Uint8Array(length);
    let at = 0;
    for (const id of ids) {
      const start = this.byteStarts[id] as number;
      const end = this.byteStarts[id + 1] as number;
      out.set(this.tokenBytes.subarray(start, end), at);
      at += end - start;
    }
    return this.decoder.decode(out);
  }

  private checkId(id: number): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.size) {
      throw new RangeError(`token id ${id} is outside the vocabulary (0..${this.size - 1})`);
    }
    return id;
  }

  private addedTokenAt(text: string, at: number): string | undefined {
    for (const token of this.addedContents) {
      if (text.startsWith(token, at)) return token;
    }
    return undefined;
  }

  /** Text without added tokens: NFC, split, then BPE on each pre-token. */
  private encodeOrdinary(text: string, ids: number[]): void {
    const normalized = text.normalize("NFC");
    SPLIT.lastIndex = 0;
    for (let match = SPLIT.exec(normalized); match !== null; match = SPLIT.exec(normalized)) {
      const piece = match[0];
      const cached = this.cache.get(piece);
      if (cached !== undefined) {
        for (const id of cached) ids.push(id);
        continue;
      }
      const pieceIds = this.bpe(piece);
      if (piece.length <= MAX_CACHED_PIECE) {
        if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
        this.cache.set(piece, pieceIds);
      }
      for (const id of pieceIds) ids.push(id);
    }
  }

  /** BPE of one pre-token: its UTF-8 bytes as byte tokens, then merges lowest rank first, leftmost first. */
  private bpe(piece: string): number[] {
    const symbols = this.byteSymbols(piece);
    const n = symbols.length;
    if (n < 2) return Array.from(symbols);
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const heap = new CandidateHeap();
    const consider = (pos: number) => {
      const right = next[pos] as number;
      if (right === -1) return;
      const slot = this.merges.find(symbols[pos] as number, symbols[right] as number);
      if (slot !== -1) heap.push(this.merges.rank(slot), pos);
    };
    for (let i = 0; i < n - 1; i++) consider(i);
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / 0x1_0000_0000);
      const pos = key - rank * 0x1_0000_0000;
      const right = next[pos] as number;
      // Stale candidates: the left symbol was merged away (prev/next rewired), or either side changed. A rank
      // names exactly one pair, so finding the same rank again proves the pair is still there.
      if (symbols[pos] === -1 || right === -1) continue;
      const slot = this.merges.find(symbols[pos] as number, symbols[right] as number);
      if (slot === -1 || this.merges.rank(slot) !== rank) continue;
      symbols[pos] = this.merges.result(slot);
      symbols[right] = -1;
      const after = next[right] as number;
      next[pos] = after;
      if (after !== -1) prev[after] = pos;
      if ((prev[pos] as number) !== -1) consider(prev[pos] as number);
      consider(pos);
    }
    const out: number[] = [];
    for (let i = 0; i !== -1; i = next[i] as number) out.push(symbols[i] as number);
    return out;
  }

  /** Byte tokens of the UTF-8 encoding of `piece` (a lone surrogate encodes as U+FFFD, as TextEncoder does). */
  private byteSymbols(piece: string): Int32Array {
    const out = new Int32Array(piece.length * 3);
    const byteIds = this.byteIds;
    let n = 0;
    for (let i = 0; i < piece.length; i++) {
      let c = piece.charCodeAt(i);
      if (c < 0x80) {
        out[n++] = byteIds[c] as number;
        continue;
      }
      if (c < 0x800) {
        out[n++] = byteIds[0xc0 | (c >> 6)] as number;
        out[n++] = byteIds[0x80 | (c & 0x3f)] as number;
        continue;
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const low = piece.charCodeAt(i + 1);
        if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
          i++;
          out[n++] = byteIds[0xf0 | (cp >> 18)] as number;
          out[n++] = byteIds[0x80 | ((cp >> 12) & 0x3f)] as number;
          out[n++] = byteIds[0x80 | ((cp >> 6) & 0x3f)] as number;
          out[n++] = byteIds[0x80 | (cp & 0x3f)] as number;
          continue;
        }
        c = 0xfffd;
      }
      out[n++] = byteIds[0xe0 | (c >> 12)] as number;
      out[n++] = byteIds[0x80 | ((c >> 6) & 0x3f)] as number;
      out[n++] = byteIds[0x80 | (c & 0x3f)] as number;
    }
    return out.subarray(0, n);
  }
}

/** The encoder implements one pipeline; a tokenizer.json asking for anything else is refused by name. */
function checkSupported(json: TokenizerJson): void {
  const { model, normalizer, pre_tokenizer: pre } = json;
  const problems: string[] = [];
  if (model.type !== "BPE") problems.push(`model.type is ${model.type}, not BPE`);
  if (model.byte_fallback) problems.push("model.byte_fallback is set");
  if (model.ignore_merges) problems.push("model.ignore_merges is set");
  if (model.dropout) problems.push("model.dropout is set");
  if (normalizer?.type !== "NFC") problems.push(`normalizer is ${normalizer?.type ?? "none"}, not NFC`);
  const steps = pre?.type === "Sequence" ? (pre.pretokenizers ?? []) : [];
  const [split, byteLevel] = steps;
  if (steps.length !== 2 || split?.type !== "Split" || byteLevel?.type !== "ByteLevel") {
    problems.push("pre_tokenizer is not Sequence[Split, ByteLevel]");
  } else if (split.pattern?.Regex !== QWEN_SPLIT_PATTERN) {
    problems.push(`pre_tokenizer split pattern is ${JSON.stringify(split.pattern)}, not the Qwen2/Qwen3 one`);
  }
  for (const t of json.added_tokens) {
    if (!t.content.startsWith("<"))
      problems.push(`added token ${JSON.stringify(t.content)} does not begin with "<"`);
    if (t.lstrip || t.rstrip || t.single_word || t.normalized) {
      problems.push(
        `added token ${JSON.stringify(t.content)} asks for lstrip, rstrip, single_word or normalized`,
      );
    }
  }
  if (problems.length > 0)
    throw new Error(`tokenizer.json is not a Qwen-style byte-level BPE: ${problems.join("; ")}`);
}
