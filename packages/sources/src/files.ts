/**
 * @module Local source paths → the sorted list of files to read. The order is the byte order of the labels
 * (paths relative to the base directory), so a source reads the same records in the same order on every
 * machine, whatever order the file system lists them in.
 *
 * A confined source (a spec someone sent over HTTP, run with the server's rights) reads only below its roots:
 * every path, glob start, link and folder it reaches is judged at its real path (links followed), files under
 * `/proc`, `/sys` and `/dev` never, and its files are read at the real path that was judged.
 */
import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { FilesSource } from "@sovereign/schemas";
import { SourceError } from "./errors";
import { compileGlob, type GlobSegment, hasWildcard, segmentMatches } from "./glob";

/** A file to read: where it is, and the name records and errors use for it. */
export type SourceFile = { path: string; label: string };

export type ResolveContext = {
  baseDir: string;
  /**
   * The folders a confined source may read below. Absent: whatever this process may read (a spec its own
   * operator runs).
   */
  roots?: readonly string[];
};

/** Byte order of the UTF-8 labels (not UTF-16 order), the same in every runtime. */
export function compareLabels(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function sortFiles<T extends { label: string }>(files: T[]): T[] {
  return files.sort((a, b) => compareLabels(a.label, b.label));
}

/** The kernel's views of processes, devices and settings: never a source, whatever the roots. */
const SYSTEM_DIRS = ["/proc", "/sys", "/dev"];

function isWithin(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Where `path` lies when a confined source may not read there (judged as written); undefined when it may. */
function placeProblem(path: string, roots: readonly string[]): string | undefined {
  const system = SYSTEM_DIRS.find((dir) => isWithin(path, dir));
  if (system) return `under ${system}, where no source submitted to this server may read`;
  if (!roots.some((root) => isWithin(path, root)))
    return `outside the folders this source may read (${roots.join(", ")})`;
  return undefined;
}

/** Where a glob's walk starts (its path up to the first wildcard) and the pattern below that. */
function globStart(pattern: string, baseDir: string): { dir: string; rest: string[] } {
  const parts = pattern.split("/").filter((part) => part !== "" && part !== ".");
  const first = parts.findIndex(hasWildcard);
  return {
    dir: resolve(isAbsolute(pattern) ? "/" : baseDir, ...parts.slice(0, first)),
    rest: parts.slice(first),
  };
}

/**
 * The paths of a confined source that name a place outside its roots, judged on the spec alone (so a server can
 * refuse them before queueing a run): a path, or the folder a glob starts from, outside every root or under
 * `/proc`, `/sys` or `/dev`, and a glob that climbs (`..`) after a wildcard. Links are judged when the files are
 * resolved. Empty when the source is not confined.
 */
export function sourcePathProblems(
  spec: Pick<FilesSource, "name" | "paths">,
  ctx: ResolveContext,
): { index: number; message: string }[] {
  if (!ctx.roots) return [];
  const roots = [...new Set(ctx.roots.map((root) => resolve(root)))];
  const baseDir = resolve(ctx.baseDir);
  const problems: { index: number; message: string }[] = [];
  spec.paths.forEach((entry, index) => {
    const what = `source "${spec.name}": ${hasWildcard(entry) ? "pattern" : "path"} "${entry}"`;
    if (entry.includes("\0")) {
      problems.push({ index, message: `${what} contains a NUL byte` });
      return;
    }
    if (!hasWildcard(entry)) {
      const problem = placeProblem(resolve(baseDir, entry), roots);
      if (problem) problems.push({ index, message: `${what} is ${problem}` });
      return;
    }
    const { dir, rest } = globStart(entry, baseDir);
    const problem = placeProblem(dir, roots);
    if (problem) problems.push({ index, message: `${what} starts at ${dir}, ${problem}` });
    else if (rest.includes(".."))
      problems.push({ index, message: `${what} climbs out of the folder it matches in ("..")` });
  });
  return problems;
}

/** Files, folders and globs of a `files` source → its files, sorted by label; a path matching nothing fails. */
export async function resolveFiles(
  spec: Pick<FilesSource, "name" | "paths">,
  ctx: ResolveContext,
): Promise<SourceFile[]> {
  const [problem] = sourcePathProblems(spec, ctx);
  if (problem) throw new SourceError("SOURCE_FORBIDDEN", problem.message);
  const baseDir = resolve(ctx.baseDir);
  const confinement = ctx.roots && (await Confinement.open(ctx.roots));
  const found = new Map<string, string>();
  for (const entry of spec.paths) {
    const walker = new Walker(spec.name, entry, baseDir, confinement, found);
    const matched = hasWildcard(entry) ? await walker.glob() : await walker.path();
    if (matched === 0) {
      throw new SourceError(
        "SOURCE_NOT_FOUND",
        `source "${spec.name}": ${hasWildcard(entry) ? "pattern" : "path"} "${entry}" matches no files ` +
          `(paths are relative to ${baseDir})`,
      );
    }
  }
  return sortFiles(
    Array.from(found, ([path, real]) => ({
      path: real,
      label: relative(baseDir, path).split(sep).join("/"),
    })),
  );
}

/** The roots of a confined source at their real paths; a root that does not exist holds nothing. */
class Confinement {
  private constructor(
    readonly named: readonly string[],
    private readonly real: readonly string[],
  ) {}

  static async open(roots: readonly string[]): Promise<Confinement> {
    const named = [...new Set(roots.map((root) => resolve(root)))];
    const real = await Promise.all(named.map((root) => realpath(root).catch(() => undefined)));
    return new Confinement(
      named,
      real.filter((root) => root !== undefined),
    );
  }

  /** Why the source may not read at this real path; undefined when it may. */
  problem(real: string): string | undefined {
    const system = SYSTEM_DIRS.find((dir) => isWithin(real, dir));
    if (system) return `leads into ${system}, where no source submitted to this server may read`;
    if (!this.real.some((root) => isWithin(real, root)))
      return `leads outside the folders this source may read (${this.named.join(", ")})`;
    return undefined;
  }
}

/**
 * A path as the spec reaches it (the label comes from it) and where it really is (the file read is there).
 * Outside a confinement the two are the same path, and links are followed when the file is opened.
 */
type Place = { path: string; real: string };

/** Walks one path or glob of a source, adding the files it matches to `found` (path → real path). */
class Walker {
  private count = 0;

  constructor(
    private readonly source: string,
    private readonly entry: string,
    private readonly baseDir: string,
    private readonly confinement: Confinement | undefined,
    private readonly found: Map<string, string>,
  ) {}

  /** A file, or every file below a folder; returns how many files the path matched. */
  async path(): Promise<number> {
    const place = await this.follow(resolve(this.baseDir, this.entry));
    const kind = place && (await kindAt(place.real));
    if (place && kind === "file") this.add(place);
    else if (place && kind === "dir") await this.walkFolder(place);
    return this.count;
  }

  /**
   * Files matching the glob, reading only the folders the pattern can reach. Literal segments are joined
   * without listing, so names the pattern spells out work as they do in a shell.
   */
  async glob(): Promise<number> {
    const { dir, rest } = globStart(this.entry, this.baseDir);
    const segments = compileGlob(rest.join("/"));
    const start = await this.follow(dir);
    if (!start || segments.length === 0) return 0;
    // Several `**` can reach one folder at one segment by different routes: it is walked once.
    const visited = new Set<string>();
    const walk = async (at: Place, s: number): Promise<void> => {
      const key = `${s}\0${at.path}`;
      if (visited.has(key)) return;
      visited.add(key);
      const segment = segments[s] as GlobSegment;
      const last = s === segments.length - 1;
      if (segment.kind === "literal") {
        const place = await this.follow(join(at.path, segment.name), join(at.real, segment.name));
        const kind = place && (await kindAt(place.real));
        if (place && kind === (last ? "file" : "dir")) {
          if (last) this.add(place);
          else await walk(place, s + 1);
        }
        return;
      }
      if (segment.kind === "globstar" && !last) await walk(at, s + 1);
      for (const entry of await listDir(at.real)) {
        if (!segmentMatches(segment, entry.name)) continue;
        const child = await this.entryAt(at, entry);
        if (!child) continue;
        if (segment.kind === "globstar") {
          if (child.kind === "dir") await walk(child.place, s);
          else if (last) this.add(child.place);
        } else if (child.kind === (last ? "file" : "dir")) {
          if (last) this.add(child.place);
          else await walk(child.place, s + 1);
        }
      }
    };
    await walk(start, 0);
    return this.count;
  }

  private add(place: Place): void {
    if (!this.found.has(place.path)) this.found.set(place.path, place.real);
    this.count++;
  }

  /** Every file below a folder, leaving out hidden names (`.git`, `.DS_Store`). */
  private async walkFolder(dir: Place): Promise<void> {
    for (const entry of await listDir(dir.real)) {
      if (entry.name.startsWith(".")) continue;
      const child = await this.entryAt(dir, entry);
      if (child?.kind === "file") this.add(child.place);
      else if (child?.kind === "dir") await this.walkFolder(child.place);
    }
  }

  /**
   * An entry of a folder: a file, a folder, or a link to a file; links to folders count as neither, so walking a
   * folder or `**` cannot loop.
   */
  private async entryAt(
    dir: Place,
    entry: Dirent,
  ): Promise<{ place: Place; kind: "file" | "dir" } | undefined> {
    const path = join(dir.path, entry.name);
    const real = join(dir.real, entry.name);
    if (entry.isFile()) return { place: { path, real }, kind: "file" };
    if (entry.isDirectory()) return { place: { path, real }, kind: "dir" };
    if (!entry.isSymbolicLink()) return undefined;
    const place = await this.follow(path, real);
    return place && (await kindAt(place.real)) === "file" ? { place, kind: "file" } : undefined;
  }

  /**
   * The place a path leads to: under a confinement its real path, refused when that is outside the roots;
   * undefined when it leads nowhere.
   */
  private async follow(path: string, real = path): Promise<Place | undefined> {
    if (!this.confinement) return { path, real };
    const target = await realpath(real).catch(() => undefined);
    if (target === undefined) return undefined;
    const problem = this.confinement.problem(target);
    if (problem) {
      const rel = relative(this.baseDir, path);
      const shown = isWithin(path, this.baseDir) ? rel.split(sep).join("/") || "." : path;
      const via = shown === this.entry ? "" : ` (from "${this.entry}")`;
      throw new SourceError("SOURCE_FORBIDDEN", `source "${this.source}": "${shown}"${via} ${problem}`);
    }
    return { path, real: target };
  }
}

async function listDir(dir: string): Promise<Dirent[]> {
  return readdir(dir, { withFileTypes: true }).catch(() => []);
}

async function kindAt(path: string): Promise<"file" | "dir" | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? "file" : info?.isDirectory() ? "dir" : undefined;
}

/**
 * A file a reader opens beside the one it reads (an index, an answers file), or undefined when there is no such
 * file. Under a confinement (`roots`) it is read at its real path, and one leading outside the roots is refused
 * as the source's own files are.
 */
export async function besideFile(
  path: string,
  options: { roots?: readonly string[] | undefined },
): Promise<string | undefined> {
  let real = path;
  if (options.roots) {
    const target = await realpath(path).catch(() => undefined);
    if (target === undefined) return undefined;
    const problem = (await Confinement.open(options.roots)).problem(target);
    if (problem) throw new SourceError("SOURCE_FORBIDDEN", `${path} ${problem}`);
    real = target;
  }
  return (await kindAt(real)) === "file" ? real : undefined;
}
