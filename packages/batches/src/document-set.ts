/**
 * @module The documents of several versions as one list: global document indices in version-hash order,
 * each read from its version's cache file.
 */
import type { DocumentFile } from "./cache-file";
import type { TokenDocument } from "./documents";

/** The documents of every version as one list, each read from its version's cache file. */
export class DocumentSet {
  readonly lengths: Uint32Array;
  /** Global index of each file's first document, and the total at the end. */
  private readonly starts: number[] = [0];

  constructor(
    readonly files: DocumentFile[],
    readonly versions: string[],
  ) {
    for (const f of files) this.starts.push((this.starts.at(-1) as number) + f.count);
    this.lengths = new Uint32Array(this.count);
    files.forEach((f, i) => {
      this.lengths.set(f.lengths, this.starts[i]);
    });
  }

  get count(): number {
    return this.starts.at(-1) as number;
  }

  /** The data's identity for the shuffle: the version hashes in order. */
  get identity(): string {
    return this.versions.join(",");
  }

  locate(index: number): { file: number; local: number } {
    let file = 0;
    while (index >= (this.starts[file + 1] as number)) file++;
    return { file, local: index - (this.starts[file] as number) };
  }

  read(index: number): TokenDocument {
    const { file, local } = this.locate(index);
    return (this.files[file] as DocumentFile).read(local);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}
