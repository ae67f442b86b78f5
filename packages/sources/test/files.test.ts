import { mkdir, realpath, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SourceError } from "../src/errors";
import { besideFile, resolveFiles, sourcePathProblems } from "../src/files";
import { compileGlob, matchesGlob } from "../src/glob";
import { tempDirs, writeFiles } from "./helpers";

const temp = tempDirs();
afterEach(() => temp.cleanup());

let base: string;
beforeEach(async () => {
  base = await temp.make();
  await writeFiles(base, {
    "corpora/news/ข่าว เศรษฐกิจ _1.txt": "a",
    "corpora/news/Cabinet Meeting _2.txt": "b",
    "corpora/news/2025/deep.txt": "c",
    "corpora/news/.draft.txt": "hidden",
    "corpora/.cache/x.txt": "hidden",
    "corpora/readme.md": "d",
    "legal/statutes.json": "[]",
  });
});

const labels = async (paths: string[]) =>
  (await resolveFiles({ name: "test", paths }, { baseDir: base })).map((f) => f.label);

describe("resolveFiles", () => {
  it("matches ** at any depth, skips hidden names, and sorts labels by bytes", async () => {
    expect(await labels(["corpora/**/*.txt"])).toEqual([
      "corpora/news/2025/deep.txt",
      "corpora/news/Cabinet Meeting _2.txt",
      "corpora/news/ข่าว เศรษฐกิจ _1.txt",
    ]);
  });

  it("gives each file's absolute path and its label relative to the base directory", async () => {
    const [file] = await resolveFiles(
      { name: "test", paths: ["corpora/news/ข่าว เศรษฐกิจ _1.txt"] },
      { baseDir: base },
    );
    expect(file).toEqual({
      path: join(base, "corpora/news/ข่าว เศรษฐกิจ _1.txt"),
      label: "corpora/news/ข่าว เศรษฐกิจ _1.txt",
    });
  });

  it("expands a folder to every file below it, hidden ones left out", async () => {
    expect(await labels(["corpora"])).toEqual([
      "corpora/news/2025/deep.txt",
      "corpora/news/Cabinet Meeting _2.txt",
      "corpora/news/ข่าว เศรษฐกิจ _1.txt",
      "corpora/readme.md",
    ]);
  });

  it("matches * and ? within one name only, and hidden names when the pattern spells the dot", async () => {
    expect(await labels(["corpora/*/*.txt"])).toEqual([
      "corpora/news/Cabinet Meeting _2.txt",
      "corpora/news/ข่าว เศรษฐกิจ _1.txt",
    ]);
    expect(await labels(["corpora/news/ข่าว เศรษฐกิจ _?.txt"])).toEqual(["corpora/news/ข่าว เศรษฐกิจ _1.txt"]);
    expect(await labels(["corpora/news/.*.txt", "corpora/.cache/*"])).toEqual([
      "corpora/.cache/x.txt",
      "corpora/news/.draft.txt",
    ]);
  });

  it("reads a file named by two patterns once, in the same order whatever the order of the patterns", async () => {
    const a = await labels(["legal/statutes.json", "corpora/**/*.md", "legal/*.json"]);
    const b = await labels(["legal/*.json", "corpora/readme.md"]);
    expect(a).toEqual(["corpora/readme.md", "legal/statutes.json"]);
    expect(b).toEqual(a);
  });

  it("follows a link to a file but not a link to a folder, so ** cannot loop", async () => {
    await symlink(join(base, "legal/statutes.json"), join(base, "corpora/news/linked.json"));
    await mkdir(join(base, "loop"));
    await symlink(base, join(base, "loop/back"));
    expect(await labels(["corpora/news/*.json"])).toEqual(["corpora/news/linked.json"]);
    await expect(labels(["loop/**/*.json"])).rejects.toThrow(/matches no files/);
  });

  it("fails naming a path or pattern that matches nothing", async () => {
    const missing = await labels(["corpora/**/*.txt", "corpora/news/*.csv"]).catch((e) => e);
    expect(missing).toBeInstanceOf(SourceError);
    expect(missing.code).toBe("SOURCE_NOT_FOUND");
    expect(missing.message).toBe(
      `source "test": pattern "corpora/news/*.csv" matches no files (paths are relative to ${base})`,
    );
    await expect(labels(["nowhere/file.txt"])).rejects.toThrow(
      `source "test": path "nowhere/file.txt" matches no files (paths are relative to ${base})`,
    );
  });
});

describe("resolveFiles under a confinement", () => {
  let outside: string;
  beforeEach(async () => {
    outside = await temp.make();
    await writeFiles(outside, { "secret.txt": "s", "more/inner.txt": "i" });
  });

  const confined = (paths: string[], roots = [base]) =>
    resolveFiles({ name: "test", paths }, { baseDir: base, roots });
  const refusal = (paths: string[], roots = [base]) =>
    confined(paths, roots).then(
      () => undefined,
      (error: SourceError) => `${error.code}: ${error.message}`,
    );

  it("labels files by the path the spec names and reads them at their real path, in any root", async () => {
    await writeFiles(outside, { "allowed.txt": "a" });
    await symlink(join(outside, "allowed.txt"), join(base, "legal/allowed.txt"));
    const files = await confined(["legal"], [base, outside]);
    expect(files).toEqual([
      { path: join(await realpath(outside), "allowed.txt"), label: "legal/allowed.txt" },
      { path: join(await realpath(base), "legal/statutes.json"), label: "legal/statutes.json" },
    ]);
  });

  it("refuses paths and glob starts outside the roots, /proc, /sys and /dev, and globs climbing out", () => {
    const problems = sourcePathProblems(
      {
        name: "test",
        paths: [
          "legal/statutes.json",
          "../x.txt",
          join(outside, "secret.txt"),
          "/proc/self/environ",
          "/dev/*",
          "*/../../*",
        ],
      },
      { baseDir: base, roots: [base, "/"] },
    );
    expect(problems.map((p) => `${p.index}: ${p.message}`)).toEqual([
      '3: source "test": path "/proc/self/environ" is under /proc, where no source submitted to this server may read',
      '4: source "test": pattern "/dev/*" starts at /dev, under /dev, where no source submitted to this server may read',
      '5: source "test": pattern "*/../../*" climbs out of the folder it matches in ("..")',
    ]);
    expect(
      sourcePathProblems(
        { name: "test", paths: ["../x.txt", "*/../../*", "/sys/**"] },
        { baseDir: base, roots: [base] },
      ).map((p) => p.index),
    ).toEqual([0, 1, 2]);
    expect(sourcePathProblems({ name: "test", paths: ["/proc/self/environ"] }, { baseDir: base })).toEqual(
      [],
    );
  });

  it("refuses a link leading outside, to a file or a folder, however the source reaches it", async () => {
    await symlink(join(outside, "secret.txt"), join(base, "corpora/news/leak.txt"));
    await symlink(join(outside, "more"), join(base, "corpora/elsewhere"));
    await symlink(outside, join(base, "out"));
    const leads = `leads outside the folders this source may read (${base})`;
    expect(await refusal(["corpora/news/leak.txt"])).toBe(
      `SOURCE_FORBIDDEN: source "test": "corpora/news/leak.txt" ${leads}`,
    );
    expect(await refusal(["corpora/news"])).toBe(
      `SOURCE_FORBIDDEN: source "test": "corpora/news/leak.txt" (from "corpora/news") ${leads}`,
    );
    expect(await refusal(["corpora/**/*.txt"])).toMatch(
      /"corpora\/(news\/leak\.txt|elsewhere)" \(from "corpora\/\*\*\/\*\.txt"\) leads outside/,
    );
    expect(await refusal(["out/*.txt"])).toBe(
      `SOURCE_FORBIDDEN: source "test": "out" (from "out/*.txt") ${leads}`,
    );
    expect(await refusal(["out/secret.txt"])).toBe(
      `SOURCE_FORBIDDEN: source "test": "out/secret.txt" ${leads}`,
    );
    // Hidden names are not read, so they are not judged either; unconfined, the same links are followed.
    await symlink(outside, join(base, "legal/.hidden"));
    expect(await labels(["corpora/news/leak.txt", "legal"])).toEqual([
      "corpora/news/leak.txt",
      "legal/statutes.json",
    ]);
    expect((await confined(["legal"])).map((f) => f.label)).toEqual(["legal/statutes.json"]);
  });

  it("skips a link to a folder inside the roots and a dangling link, as an unconfined walk does", async () => {
    await symlink(join(base, "legal"), join(base, "corpora/legal-again"));
    await symlink(join(base, "nowhere.txt"), join(base, "corpora/dangling.txt"));
    expect((await confined(["corpora/*"])).map((f) => f.label)).toEqual(["corpora/readme.md"]);
  });

  it("opens a file beside a source file only within the roots", async () => {
    await symlink(join(outside, "secret.txt"), join(base, "legal/index.csv"));
    const roots = { roots: [base] };
    await expect(besideFile(join(base, "legal/index.csv"), roots)).rejects.toThrow(
      `${join(base, "legal/index.csv")} leads outside the folders this source may read (${base})`,
    );
    expect(await besideFile(join(base, "legal/statutes.json"), roots)).toBe(
      join(await realpath(base), "legal/statutes.json"),
    );
    expect(await besideFile(join(base, "legal/absent.csv"), roots)).toBeUndefined();
    expect(await besideFile(join(base, "legal/index.csv"), {})).toBe(join(base, "legal/index.csv"));
  });
});

describe("matchesGlob", () => {
  it("matches repo paths as the folder walk does", () => {
    const glob = compileGlob("data/**/train-*.parquet");
    expect(matchesGlob(glob, "data/train-0.parquet")).toBe(true);
    expect(matchesGlob(glob, "data/th/2024/train-1.parquet")).toBe(true);
    expect(matchesGlob(glob, "data/.hidden/train-1.parquet")).toBe(false);
    expect(matchesGlob(glob, "data/test-0.parquet")).toBe(false);
    expect(matchesGlob(compileGlob("*.jsonl"), "sub/a.jsonl")).toBe(false);
    expect(matchesGlob(compileGlob("**"), "a/b/c.txt")).toBe(true);
    expect(matchesGlob(compileGlob("a+b(?).txt"), "a+b(1).txt")).toBe(true);
    expect(matchesGlob(compileGlob("a+b(?).txt"), "aab(1).txt")).toBe(false);
  });

  it("matches names as the regular expressions it replaced did: * and ? over code points, dots hidden", () => {
    const reference = (pattern: string, name: string) =>
      (pattern.startsWith(".") || !name.startsWith(".")) &&
      new RegExp(
        `^${Array.from(pattern, (ch) => (ch === "*" ? "[^/]*" : ch === "?" ? "[^/]" : ch.replace(/[.+()]/g, "\\$&"))).join("")}$`,
        "u",
      ).test(name);
    const alphabet = ["a", "b", ".", "ก", "😀"];
    let seed = 11;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    const pick = (items: string[], max: number) =>
      Array.from({ length: next() % (max + 1) }, () => items[next() % items.length]).join("");
    for (let i = 0; i < 3_000; i++) {
      const pattern = pick([...alphabet, "*", "?"], 6) || "*";
      const name = pick(alphabet, 7) || "a";
      expect(matchesGlob(compileGlob(pattern), name), `${pattern} ~ ${name}`).toBe(reference(pattern, name));
    }
  });

  it("matches a name without backtracking, where the regular expressions it replaced never finished", () => {
    // As `^[^/]*a[^/]*a…b$`, each of these backtracks through about 255^k splits of the name (k stars): the
    // old matcher did not return; this one walks pattern × name once.
    const name = "a".repeat(255);
    expect(matchesGlob(compileGlob(`${"*a".repeat(8)}*b`), name)).toBe(false);
    expect(matchesGlob(compileGlob(`${"*a".repeat(40)}*`), name)).toBe(true);
    expect(matchesGlob(compileGlob(`${"**/a/".repeat(6)}x`), `${"a/".repeat(30)}y`)).toBe(false);
  });
});
