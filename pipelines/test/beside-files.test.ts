/**
 * The formats that open a second file beside the one they read (the Krisdika index, BFCL's answers): under a
 * confined source (a spec queued over HTTP) that file must lie within the source's roots too, and one linking
 * outside fails the read instead of being read.
 */
import { mkdir, symlink } from "node:fs/promises";
import { join } from "node:path";
import type { RawRecord } from "@sovereign/shards";
import { SourceError } from "@sovereign/sources";
import { afterEach, describe, expect, it } from "vitest";
import { krisdikaText, lawNameFromIndex } from "../src/legal";
import { bfclFormat } from "../src/tool-use";
import { collect, KRISDIKA_LINES, SAMPLE_CODE, tempDirs, writeFixture } from "./legal/fixtures";

const dirs = tempDirs();
afterEach(() => dirs.cleanup());

const INDEX = [
  "title,law_url,sub_law_url,sysid,law_group,law_type",
  `${SAMPLE_CODE} (ฉบับ Update ล่าสุด),https://example.invalid/a,https://example.invalid/b,900001,กลุ่ม,ประมวลกฎหมาย`,
].join("\n");

const BFCL_RECORD = {
  id: "simple_0",
  question: [[{ role: "user", content: "บวก 1 กับ 2 ให้หน่อย" }]],
  function: [
    {
      name: "math.add",
      description: "Add two integers.",
      parameters: {
        type: "dict",
        properties: { a: { type: "integer", description: "a" }, b: { type: "integer", description: "b" } },
        required: ["a", "b"],
      },
    },
  ],
};
const BFCL_ANSWER = { id: "simple_0", ground_truth: [{ "math.add": { a: [1], b: [2] } }] };

describe("files beside a source file", () => {
  it("reads the Krisdika index only within a confined source's roots", async () => {
    const dir = await dirs.make();
    const elsewhere = await dirs.make();
    await writeFixture(elsewhere, "law_url_df.csv", INDEX);
    await symlink(join(elsewhere, "law_url_df.csv"), join(dir, "law_url_df.csv"));
    const text = await writeFixture(dir, "900001.txt", KRISDIKA_LINES.join("\n"));

    expect(await lawNameFromIndex(text)).toBe(SAMPLE_CODE);
    expect(await lawNameFromIndex(text, { roots: [dir, elsewhere] })).toBe(SAMPLE_CODE);
    const refused = await lawNameFromIndex(text, { roots: [dir] }).catch((error: SourceError) => error);
    expect(refused).toBeInstanceOf(SourceError);
    expect((refused as SourceError).code).toBe("SOURCE_FORBIDDEN");
    expect((refused as SourceError).message).toBe(
      `${join(dir, "law_url_df.csv")} leads outside the folders this source may read (${dir})`,
    );
    await expect(collect(krisdikaText, text, "900001.txt", { roots: [dir] })).rejects.toThrow(
      "law_url_df.csv leads outside the folders this source may read",
    );
  });

  it("reads BFCL's answers only within a confined source's roots", async () => {
    const dir = await dirs.make();
    const elsewhere = await dirs.make();
    await mkdir(join(dir, "possible_answer"));
    await writeFixture(elsewhere, "answers.json", `${JSON.stringify(BFCL_ANSWER)}\n`);
    await symlink(join(elsewhere, "answers.json"), join(dir, "possible_answer", "BFCL_v4_simple.json"));
    const path = await writeFixture(dir, "BFCL_v4_simple.json", `${JSON.stringify(BFCL_RECORD)}\n`);
    const read = async (roots?: string[]) => {
      const records: RawRecord[] = [];
      for await (const record of bfclFormat({ path, label: "BFCL_v4_simple.json" }, roots ? { roots } : {}))
        records.push(record);
      return records;
    };

    const [answered] = await read([dir, elsewhere]);
    expect(answered?.ok && JSON.stringify(answered.value)).toContain('"name":"math.add"');
    expect(answered?.ok && JSON.stringify(answered.value)).toContain("tool_calls");
    expect((await read())[0]?.ok).toBe(true);
    await expect(read([dir])).rejects.toThrow(
      `${join(dir, "possible_answer", "BFCL_v4_simple.json")} leads outside the folders this source may read (${dir})`,
    );
  });
});
