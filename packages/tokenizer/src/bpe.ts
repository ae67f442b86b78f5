/**
 * @module Byte-level BPE encoder and decoder for what a Hugging Face `tokenizer.json` declares.
 *
 * Same steps and same ids as the Hugging Face `tokenizers` library for the byte-level BPE families (Qwen2/Qwen3,
 * Llama-3, GPT-2, GPT-4-style cl100k/o200k): added tokens split out of the raw text first (lstrip/rstrip
 * honoured), the normalizer (none or NFC) on the text between them, added tokens declared `normalized` split out
 * of that, the pre-tokenizer's split regexes (read from the file and translated from Oniguruma to JavaScript),
 * GPT-2's byte-to-unicode mapping, then lowest-rank-first merges (or a whole pre-token that is itself in the
 * vocabulary, where `ignore_merges` is set). Anything else a file declares (a Unigram or WordPiece model, a
 * Metaspace pre-tokenizer, an NFKC normalizer, byte fallback, …) is refused by name.
 *
 * It exists because the general-purpose JavaScript port (@lenml/tokenizers) runs at about 0.6 MB/s on Thai
 * text, too slow for counting tokens of whole corpora; this one works on integer ids in typed arrays and caches
 * each pre-token's ids.
 */

export type AddedTokenJson = {
  id: number;
  content: string;
  lstrip?: boolean;
  rstrip?: boolean;
  single_word?: boolean;
  normalized?: boolean;
  special?: boolean;
};

type Pattern = { Regex?: string; String?: string };

export type PreTokenizerJson = {
  type: string;
  pretokenizers?: PreTokenizerJson[];
  pattern?: Pattern;
  behavior?: string;
  invert?: boolean;
  add_prefix_space?: boolean;
  use_regex?: boolean;
};

/** The parts of `tokenizer.json` this encoder reads. */
export type TokenizerJson = {
  added_tokens: AddedTokenJson[];
  normalizer: { type: string; normalizers?: { type: string }[] } | null;
  pre_tokenizer: PreTokenizerJson | null;
  decoder?: { type: string; decoders?: { type: string }[] } | null;
  model: {
    type: string;
    vocab: Record<string, number>;
    merges: [string, string][] | string[];
    byte_fallback?: boolean;
    ignore_merges?: boolean;
    dropout?: number | null;
    continuing_subword_prefix?: string | null;
    end_of_word_suffix?: string | null;
  };
};

/** A tokenizer.json asking for a step this encoder does not implement; the message names each such field. */
export class UnsupportedTokenizerError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`tokenizer.json is not supported: ${problems.join("; ")}`);
    this.name = "UnsupportedTokenizerError";
  }
}

/** GPT-2's split pattern, which a ByteLevel pre-tokenizer with `use_regex` applies. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/**
 * The JavaScript regex of an Oniguruma pattern as `tokenizers` compiles it: `(?i:…)` groups (which JavaScript
 * before Node 23 lacks) become character classes per letter, `\s`/`\S` become Unicode White_Space as in
 * Oniguruma (JavaScript's `\s` also takes U+FEFF and leaves out U+0085), `.` excludes only `\n`. A construct
 * with no JavaScript equivalent (possessive or atomic groups, `\w`, `\b`, …) is refused, naming the pattern.
 */
export function translatePattern(pattern: string): RegExp {
  const refuse = (what: string) =>
    new UnsupportedTokenizerError([
      `pre_tokenizer split pattern ${JSON.stringify(pattern)} uses ${what}, which is not supported`,
    ]);
  let out = "";
  let inClass = false;
  const groups: boolean[] = []; // per open group: is it case-insensitive
  const caseless = () => groups.includes(true);
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "\\") {
      const e = pattern[i + 1];
      if (e === undefined) throw refuse("a trailing backslash");
      i++;
      if (e === "s") out += inClass ? "\\p{White_Space}" : "[\\p{White_Space}]";
      else if (e === "S") {
        if (inClass) throw refuse("\\S inside a character class");
        out += "\\P{White_Space}";
      } else if (e === "d") out += "\\p{Nd}";
      else if (e === "p" || e === "P") {
        const close = pattern.indexOf("}", i);
        if (pattern[i + 1] !== "{" || close === -1) throw refuse(`\\${e} without {…}`);
        out += `\\${e}${pattern.slice(i + 1, close + 1)}`;
        i = close;
      } else if ("rntfv0".includes(e) || !/[A-Za-z0-9]/.test(e)) out += `\\${e}`;
      else if (e === "x" || e === "u") out += `\\${e}`;
      else throw refuse(`\\${e}`);
      continue;
    }
    if (inClass) {
      if (c === "[") throw refuse("a nested character class");
      if (c === "]") inClass = false;
      if (caseless() && /[A-Za-z]/.test(c)) out += caseVariants(c);
      else out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (pattern[i + 1] === "^") {
        out += "^";
        i++;
      }
      continue;
    }
    if (c === "(") {
      if (pattern.startsWith("(?i:", i)) {
        groups.push(true);
        out += "(?:";
        i += 3;
      } else if (pattern[i + 1] !== "?" || /^\(\?(?::|=|!|<=|<!)/.test(pattern.slice(i, i + 4))) {
        groups.push(false);
        out += c;
      } else throw refuse(`the group ${pattern.slice(i, i + 3)}`);
      continue;
    }
    if (c === ")") {
      groups.pop();
      out += c;
      continue;
    }
    if ((c === "+" || c === "*" || c === "?" || c === "}") && pattern[i + 1] === "+")
      throw refuse("a possessive quantifier");
    if (c === ".") out += "[^\\n]";
    else if (caseless() && /[A-Za-z]/.test(c)) out += `[${caseVariants(c)}]`;
    else out += c;
  }
  try {
    return new RegExp(out, "gu");
  } catch (error) {
    throw refuse(`syntax JavaScript cannot compile (${(error as Error).message})`);
  }
}

/** An ASCII letter's case-insensitive matches in Unicode: both cases, and ſ (U+017F) or K (U+212A) for s and k. */
function caseVariants(c: string): string {
  const lower = c.toLowerCase();
  const extra = lower === "s" ? "\u017f" : lower === "k" ? "\u212a" : "";
  return lower + c.toUpperCase() + extra;
}

/** How one Split step cuts text: `isolated` keeps the text between matches as pieces too, else it is dropped. */
type SplitStep = { regex: RegExp; keepGaps: boolean };

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

/** An added token and how it is matched. */
type Added = { id: number; content: string; lstrip: boolean; rstrip: boolean };

/**
 * Leftmost-longest search for a set of added tokens, as `tokenizers` does it (Aho-Corasick, leftmost longest).
 * Where every token begins with the same character (`<` in Qwen, Llama-3 and GPT-4-style files) the search is
 * an indexOf of that character; else one regex of the alternatives, longest first.
 */
class AddedMatcher {
  private readonly first: string | undefined;
  private readonly byLength: Added[];
  private readonly regex: RegExp | undefined;
  private readonly byContent: Map<string, Added>;

  constructor(tokens: readonly Added[]) {
    this.byLength = [...tokens].sort((a, b) => b.content.length - a.content.length);
    this.byContent = new Map(tokens.map((t) => [t.content, t]));
    const firsts = new Set(tokens.map((t) => t.content[0]));
    if (firsts.size === 1) this.first = tokens[0]?.content[0];
    else if (tokens.length > 0) {
      const escaped = this.byLength.map((t) => t.content.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"));
      this.regex = new RegExp(escaped.join("|"), "gu");
    }
  }

  get empty(): boolean {
    return this.byLength.length === 0;
  }

  /** The first added token in `text` at or after `from`, with where it starts. */
  next(text: string, from: number): { at: number; token: Added } | undefined {
    if (this.first !== undefined) {
      for (let at = text.indexOf(this.first, from); at !== -1; at = text.indexOf(this.first, at + 1)) {
        for (const token of this.byLength) if (text.startsWith(token.content, at)) return { at, token };
      }
      return undefined;
    }
    if (this.regex === undefined) return undefined;
    this.regex.lastIndex = from;
    const match = this.regex.exec(text);
    return match ? { at: match.index, token: this.byContent.get(match[0]) as Added } : undefined;
  }
}

const WHITE_SPACE = /\p{White_Space}/u;

export class ByteLevelBpe {
  /** Number of ids: the BPE vocabulary plus the added tokens. */
  readonly size: number;
  /** Ids of the added tokens flagged `special` (skipped by `decode(ids, { skipSpecial: true })`). */
  readonly specialIds: ReadonlySet<number>;
  /** Every added token's id by its content. */
  readonly addedTokens: ReadonlyMap<string, number>;
  private readonly byteIds = new Int32Array(256);
  private readonly byteChars: string[];
  private readonly merges: MergeTable;
  /** Added tokens matched in the raw text, then those matched in normalized text. */
  private readonly rawAdded: AddedMatcher;
  private readonly normalizedAdded: AddedMatcher;
  private readonly nfc: boolean;
  private readonly splits: SplitStep[];
  /** The byte-level vocabulary, kept only where `ignore_merges` looks whole pre-tokens up in it. */
  private readonly wholeTokens: Map<string, number> | undefined;
  /** UTF-8 bytes of every id, packed: id i is tokenBytes[byteStarts[i] .. byteStarts[i + 1]). */
  private readonly tokenBytes: Uint8Array;
  private readonly byteStarts: Uint32Array;
  private readonly cache = new Map<string, number[]>();
  private readonly decoder = new TextDecoder("utf-8");

  constructor(json: TokenizerJson) {
    const { nfc, splits } = checkSupported(json);
    this.nfc = nfc;
    this.splits = splits;
    const { vocab, merges } = json.model;
    const byteChars = bytesToUnicode();
    this.byteChars = byteChars;
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
    // An added token that is also a vocab entry keeps the vocab's bytes (they are the same text).
    const inVocab = new Set(entries.map(([, id]) => id));
    const ownAdded = json.added_tokens.filter((t) => !inVocab.has(t.id));
    const addedBytes = ownAdded.map((t) => utf8.encode(t.content));
    // A byte-level token has one character per byte.
    const lengths = new Uint32Array(size);
    for (const [token, id] of entries) lengths[id] = token.length;
    ownAdded.forEach((t, i) => {
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
    ownAdded.forEach((t, i) => {
      this.tokenBytes.set(addedBytes[i] as Uint8Array, this.byteStarts[t.id]);
    });
    const added = json.added_tokens.map((t) => ({
      id: t.id,
      content: t.content,
      lstrip: t.lstrip === true,
      rstrip: t.rstrip === true,
      // Without a normalizer, `normalized` tokens are still matched second, in the text between the others.
      normalized: t.normalized === true,
    }));
    this.rawAdded = new AddedMatcher(added.filter((t) => !t.normalized));
    this.normalizedAdded = new AddedMatcher(added.filter((t) => t.normalized));
    this.addedTokens = new Map(json.added_tokens.map((t) => [t.content, t.id]));
    this.specialIds = new Set(json.added_tokens.filter((t) => t.special).map((t) => t.id));
    this.wholeTokens = json.model.ignore_merges ? new Map(entries) : undefined;

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

  /** Ids of `text`, with added tokens written in it recognized as those tokens (no special tokens added). */
  encode(text: string): number[] {
    const ids: number[] = [];
    this.splitAdded(text, this.rawAdded, ids, (gap) => this.encodeGap(gap, ids));
    return ids;
  }

  /**
   * Calls `between` on the text between the added tokens of `matcher` and pushes their ids, in order. lstrip
   * and rstrip take the white space beside a token into it, as `tokenizers` does.
   */
  private splitAdded(text: string, matcher: AddedMatcher, ids: number[], between: (gap: string) => void) {
    if (matcher.empty) {
      if (text.length > 0) between(text);
      return;
    }
    let start = 0;
    for (let found = matcher.next(text, 0); found !== undefined; found = matcher.next(text, start)) {
      const { token } = found;
      let from = found.at;
      let end = from + token.content.length;
      if (token.lstrip) while (from > start && WHITE_SPACE.test(text[from - 1] as string)) from--;
      if (token.rstrip) while (end < text.length && WHITE_SPACE.test(text[end] as string)) end++;
      if (from > start) between(start === 0 && from === text.length ? text : text.slice(start, from));
      ids.push(token.id);
      start = end;
    }
    if (start < text.length) between(start === 0 ? text : text.slice(start));
  }

  /** Text between raw added tokens: normalized, split on the normalized added tokens, then pre-tokenized. */
  private encodeGap(text: string, ids: number[]): void {
    const normalized = this.nfc ? text.normalize("NFC") : text;
    if (this.normalizedAdded.empty) this.encodeOrdinary(normalized, 0, ids);
    else this.splitAdded(normalized, this.normalizedAdded, ids, (gap) => this.encodeOrdinary(gap, 0, ids));
  }

  /** UTF-8 length of an id's text; the ids of `encode(text)` add up to the byte length of NFC(text). */
  byteLength(id: number): number {
    return (this.byteStarts[id + 1] as number) - (this.byteStarts[id] as number);
  }

  /**
   * Text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD, as the Hugging Face decoder does.
   * `skipSpecial` leaves out the added tokens flagged special.
   */
  decode(ids: readonly number[], options: { skipSpecial?: boolean } = {}): string {
    const kept = options.skipSpecial ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    let length = 0;
    for (const id of kept) length += this.byteLength(this.checkId(id));
    const out = new Uint8Array(length);
    let at = 0;
    for (const id of kept) {
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

  /** Normalized text without added tokens: cut by split step `step` onwards, then BPE on each pre-token. */
  private encodeOrdinary(text: string, step: number, ids: number[]): void {
    if (step === 0 && this.splits.length === 1) {
      this.encodeOneSplit(text, ids);
      return;
    }
    const split = this.splits[step];
    if (split === undefined) {
      this.encodePiece(text, ids);
      return;
    }
    const { regex, keepGaps } = split;
    const last = step + 1 === this.splits.length;
    let end = 0;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      const piece = match[0];
      if (piece.length === 0) {
        regex.lastIndex++;
        continue;
      }
      if (keepGaps && match.index > end) this.pieceOrSplit(text.slice(end, match.index), last, step, ids);
      end = match.index + piece.length;
      // The next exec starts at lastIndex, which RegExp.exec set; a later step's exec uses its own regex.
      if (last) this.encodePiece(piece, ids);
      else this.encodeOrdinary(piece, step + 1, ids);
    }
    if (keepGaps && end < text.length) this.pieceOrSplit(text.slice(end), last, step, ids);
  }

  /**
   * encodeOrdinary for the usual single split (every family here), with the pre-token cache looked up in the
   * loop: this is the hot path of tokenizing a corpus.
   */
  private encodeOneSplit(text: string, ids: number[]): void {
    const { regex, keepGaps } = this.splits[0] as SplitStep;
    const cache = this.cache;
    let end = 0;
    regex.lastIndex = 0;
    for (let match = regex.exec(text); match !== null; match = regex.exec(text)) {
      const piece = match[0];
      if (piece.length === 0) {
        regex.lastIndex++;
        continue;
      }
      if (keepGaps && match.index > end) this.encodePiece(text.slice(end, match.index), ids);
      end = match.index + piece.length;
      const cached = cache.get(piece);
      if (cached !== undefined) for (const id of cached) ids.push(id);
      else this.encodePiece(piece, ids);
    }
    if (keepGaps && end < text.length) this.encodePiece(text.slice(end), ids);
  }

  private pieceOrSplit(piece: string, last: boolean, step: number, ids: number[]): void {
    if (last) this.encodePiece(piece, ids);
    else this.encodeOrdinary(piece, step + 1, ids);
  }

  private encodePiece(piece: string, ids: number[]): void {
    const cached = this.cache.get(piece);
    if (cached !== undefined) {
      for (const id of cached) ids.push(id);
      return;
    }
    const pieceIds = this.bpe(piece);
    if (piece.length <= MAX_CACHED_PIECE) {
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, pieceIds);
    }
    for (const id of pieceIds) ids.push(id);
  }

  /** BPE of one pre-token: its UTF-8 bytes as byte tokens, then merges lowest rank first, leftmost first. */
  private bpe(piece: string): number[] {
    const symbols = this.byteSymbols(piece);
    if (this.wholeTokens !== undefined && symbols.length > 1) {
      let chars = "";
      for (const b of this.byteSequence(piece)) chars += this.byteChars[b];
      const whole = this.wholeTokens.get(chars);
      if (whole !== undefined) return [whole];
    }
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

  /** UTF-8 bytes of `piece`. */
  private byteSequence(piece: string): Uint8Array {
    return new TextEncoder().encode(piece);
  }
}

/** A step is supported only in the forms listed here; anything else is named in the refusal. */
function checkSupported(json: TokenizerJson): { nfc: boolean; splits: SplitStep[] } {
  const { model, normalizer, pre_tokenizer: pre, decoder } = json;
  const problems: string[] = [];
  if (model.type !== "BPE") problems.push(`model.type ${model.type} is not supported (only byte-level BPE)`);
  if (model.byte_fallback) problems.push("model.byte_fallback is not supported");
  if (model.dropout) problems.push("model.dropout is not supported");
  if (model.continuing_subword_prefix) problems.push("model.continuing_subword_prefix is not supported");
  if (model.end_of_word_suffix) problems.push("model.end_of_word_suffix is not supported");

  const normalizers =
    normalizer === null || normalizer === undefined
      ? []
      : normalizer.type === "Sequence"
        ? (normalizer.normalizers ?? [])
        : [normalizer];
  const nfc = normalizers.length === 1 && normalizers[0]?.type === "NFC";
  if (normalizers.length > 0 && !nfc) {
    problems.push(
      `normalizer ${normalizers.map((n) => n.type).join(" + ")} is not supported (only none or NFC)`,
    );
  }

  const steps =
    pre === null || pre === undefined ? [] : pre.type === "Sequence" ? (pre.pretokenizers ?? []) : [pre];
  const splits: SplitStep[] = [];
  let byteLevel = false;
  steps.forEach((step, i) => {
    const where = pre?.type === "Sequence" ? `pre_tokenizer.pretokenizers[${i}]` : "pre_tokenizer";
    if (step.type === "ByteLevel") {
      if (byteLevel || i !== steps.length - 1) problems.push(`${where}: ByteLevel must come last, once`);
      if (step.add_prefix_space) problems.push(`${where}: ByteLevel add_prefix_space is not supported`);
      byteLevel = true;
      if (step.use_regex !== false) splits.push({ regex: translatePattern(GPT2_PATTERN), keepGaps: true });
      return;
    }
    if (step.type !== "Split") {
      problems.push(`${where}: pre-tokenizer ${step.type} is not supported (only Split and ByteLevel)`);
      return;
    }
    const source = step.pattern?.Regex;
    if (source === undefined) {
      problems.push(`${where}: Split pattern ${JSON.stringify(step.pattern)} is not supported (only Regex)`);
      return;
    }
    // Isolated keeps matches and gaps as pieces; Removed with invert keeps matches and drops gaps.
    const isolated = step.behavior === "Isolated" && !step.invert;
    const kept = step.behavior === "Removed" && step.invert === true;
    if (!isolated && !kept) {
      problems.push(
        `${where}: Split behavior ${step.behavior}${step.invert ? " inverted" : ""} is not supported ` +
          "(only Isolated, or Removed inverted)",
      );
      return;
    }
    try {
      splits.push({ regex: translatePattern(source), keepGaps: isolated });
    } catch (error) {
      if (!(error instanceof UnsupportedTokenizerError)) throw error;
      problems.push(...error.problems.map((p) => `${where}: ${p}`));
    }
  });
  if (!byteLevel) {
    problems.push(
      `pre_tokenizer ${pre ? pre.type : "none"} is not supported (a byte-level BPE needs a ByteLevel pre-tokenizer)`,
    );
  }

  const decoders =
    decoder === null || decoder === undefined
      ? []
      : decoder.type === "Sequence"
        ? (decoder.decoders ?? [])
        : [decoder];
  if (decoders.length !== 1 || decoders[0]?.type !== "ByteLevel") {
    problems.push(
      `decoder ${decoders.map((d) => d.type).join(" + ") || "none"} is not supported (only ByteLevel)`,
    );
  }
  for (const t of json.added_tokens) {
    if (t.single_word)
      problems.push(`added token ${JSON.stringify(t.content)}: single_word is not supported`);
    if (t.content.length === 0) problems.push(`added token ${t.id} is empty`);
  }
  if (problems.length > 0) throw new UnsupportedTokenizerError(problems);
  return { nfc, splits };
}
