import { FieldMapping, SourceSpec } from "@sovereign/schemas";
import { describe, expect, it } from "vitest";

const messagesOf = (result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) => result.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];

describe("SourceSpec", () => {
  it("accepts a files source and a Hub source pinned to a commit", () => {
    expect(
      SourceSpec.safeParse({
        type: "files",
        name: "thaigov",
        paths: ["corpora/thaigov-v2/**/*.txt"],
        format: "text",
        text: { split: { pattern: "^มาตรา" } },
        mapping: { text: ["title", "body"], meta: { url: "url" } },
        priority: 2,
        split: "train",
      }).success,
    ).toBe(true);
    expect(
      SourceSpec.safeParse({
        type: "huggingface",
        name: "news",
        repo: "thai-nlp/news",
        revision: "3f1c2b7a9e8d6c5b4a3928171615141312111009",
        files: ["data/*.parquet"],
        format: "legal-sections",
      }).success,
    ).toBe(true);
  });

  it("refuses a branch as a Hub revision, asking for the commit", () => {
    const result = SourceSpec.safeParse({
      type: "huggingface",
      name: "news",
      repo: "thai-nlp/news",
      revision: "main",
      files: ["*"],
    });
    expect(messagesOf(result)).toEqual([
      'revision: revision must be a full 40-character commit sha, got "main": pin the commit (the Hub shows it in the repo\'s history) so the source reads the same data every time',
    ]);
  });

  it("refuses unknown fields, bad patterns, delimiters and split names", () => {
    const result = SourceSpec.safeParse({
      type: "files",
      name: "x",
      paths: ["a.csv"],
      csv: { delimiter: '"' },
      text: { split: { pattern: "(" } },
      split: "Train",
      extra: 1,
    });
    expect(messagesOf(result).map((m) => m.split(":")[0])).toEqual([
      "csv.delimiter",
      "text.split.pattern",
      "split",
      "",
    ]);
  });
});

describe("TextSplitRule patterns", () => {
  const patternIssues = (pattern: string) =>
    messagesOf(
      SourceSpec.safeParse({ type: "files", name: "x", paths: ["a.txt"], text: { split: { pattern } } }),
    );

  it("takes RE2 syntax, Thai letters and classes included", () => {
    for (const pattern of [
      "^มาตรา",
      "^\\s*มาตรา\\s+[๐-๙0-9]+",
      "^\\p{Thai}+\\x{0E2F}",
      "(?i)^section \\d",
      "^(a+)+$",
    ])
      expect(patternIssues(pattern), pattern).toEqual([]);
  });

  it("refuses what RE2 cannot run (backreferences, lookaround), naming the field", () => {
    for (const pattern of ["(มาตรา)\\1", "^มาตรา(?=\\s)", "(?<!ข้อ)มาตรา", "(?<=x)y"]) {
      const [issue, ...more] = patternIssues(pattern);
      expect(more, pattern).toEqual([]);
      expect(issue, pattern).toMatch(
        /^text\.split\.pattern: not a regular expression RE2 can run \(RE2 syntax: no backreferences or lookaround\): /,
      );
    }
  });

  it("refuses a pattern whose RE2 program would make reading slow", () => {
    expect(patternIssues("(?:.{0,100}a){10}$")).toEqual([
      "text.split.pattern: the pattern compiles to 2013 RE2 instructions, over the limit of 256: use smaller counted repeats ({n}) or fewer alternatives",
    ]);
  });
});

describe("FieldMapping", () => {
  it("takes chat turns from messages or turns, not both, and the RL prompt from one field kind", () => {
    expect(
      messagesOf(FieldMapping.safeParse({ messages: "m", turns: [{ role: "user", field: "q" }] })),
    ).toEqual(["turns: a mapping takes chat turns from `messages` or from `turns`, not both"]);
    expect(messagesOf(FieldMapping.safeParse({ prompt: "q", promptMessages: "p" }))).toEqual([
      "promptMessages: a mapping takes the RL prompt from `prompt` or from `promptMessages`, not both",
    ]);
  });

  it("refuses unknown keys and malformed paths", () => {
    expect(messagesOf(FieldMapping.safeParse({ txt: "a" }))).toEqual([': Unrecognized key: "txt"']);
    expect(messagesOf(FieldMapping.safeParse({ text: ["a..b"], id: "$" }))).toEqual([
      'text.0: a field path is dot-separated keys or indices ("a.b.0.c"), or "$"',
    ]);
  });
});
