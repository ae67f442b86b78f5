/**
 * @module Word-level diffs for the review page's edit view. Text is cut into words with `Intl.Segmenter`, which
 * finds the word breaks of Thai (written without spaces) as well as those of English, so an edit inside a Thai
 * sentence shows as the words it changed rather than the whole line. The common head and tail are trimmed
 * first and the rest is diffed by longest common subsequence; a middle too large for that is shown as
 * removed-then-added.
 */

export type DiffPart = { op: "same" | "del" | "add"; text: string };

/** Cells of the LCS table above which the middle is shown as one removal and one addition. */
const MAX_CELLS = 4_000_000;

const segmenter = new Intl.Segmenter("th", { granularity: "word" });

/** Words, spaces and punctuation of `text`, in order; joined they give `text` back. */
export function words(text: string): string[] {
  const out: string[] = [];
  for (const { segment } of segmenter.segment(text)) {
    // Line breaks stand alone, so a changed line does not pull its neighbours into the change.
    const parts = segment.split(/(\n)/);
    for (const p of parts) if (p) out.push(p);
  }
  return out;
}

/** The changes that turn `before` into `after`, adjacent parts of one kind merged. */
export function diffWords(before: string, after: string): DiffPart[] {
  const a = words(before);
  const b = words(after);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (
    tail < a.length - head &&
    tail < b.length - head &&
    a[a.length - 1 - tail] === b[b.length - 1 - tail]
  )
    tail++;
  const parts: DiffPart[] = [];
  const push = (op: DiffPart["op"], text: string) => {
    if (!text) return;
    const last = parts.at(-1);
    if (last?.op === op) last.text += text;
    else parts.push({ op, text });
  };
  push("same", a.slice(0, head).join(""));
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  if (midA.length * midB.length > MAX_CELLS) {
    push("del", midA.join(""));
    push("add", midB.join(""));
  } else {
    for (const part of lcsDiff(midA, midB)) push(part.op, part.text);
  }
  push("same", a.slice(a.length - tail).join(""));
  return parts;
}

function lcsDiff(a: string[], b: string[]): DiffPart[] {
  const n = a.length;
  const m = b.length;
  // lengths[i][j]: LCS of a[i..] and b[j..], in one flat array.
  const lengths = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lengths[at(i, j)] =
        a[i] === b[j]
          ? (lengths[at(i + 1, j + 1)] as number) + 1
          : Math.max(lengths[at(i + 1, j)] as number, lengths[at(i, j + 1)] as number);
  const out: DiffPart[] = [];
  let i = 0;
  let j = 0;
  // On a tie the removal goes first, so a replacement reads "old → new".
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push({ op: "same", text: a[i] as string });
      i++;
      j++;
    } else if (j >= m || (i < n && (lengths[at(i + 1, j)] as number) >= (lengths[at(i, j + 1)] as number))) {
      out.push({ op: "del", text: a[i] as string });
      i++;
    } else {
      out.push({ op: "add", text: b[j] as string });
      j++;
    }
  }
  return out;
}
