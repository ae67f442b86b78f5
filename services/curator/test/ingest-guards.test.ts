/**
 * Hostile input over HTTP on both databases: Parquet uploads named and detected by their bytes, verification of
 * the manifest and card blobs, text that JSON carries but UTF-8, PostgreSQL or the hash cannot, nesting deep
 * enough to overflow recursive code, tool-call arguments that are not a JSON object, and overlong lines.
 */
import { rm, writeFile } from "node:fs/promises";
import { testDatabaseKinds } from "@sovereign/db/testing";
import type { LocalBlobStore } from "@sovereign/shards";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, postJson, type TestCurator } from "./helpers";

type ErrorBody = { error: { code: string; message: string; details?: any } };

const rows = [
  chatRow("p1", "สวัสดีครับ", "สวัสดีครับ มีอะไรให้ช่วยไหม", { source: "greetings", meta: { n: 1 } }),
  chatRow("p2", "เมืองหลวงของไทยคืออะไร", "กรุงเทพมหานครครับ", { source: "facts" }),
  {
    id: "p3",
    messages: [
      { role: "user", content: "อากาศที่กรุงเทพเป็นอย่างไร" },
      {
        role: "assistant",
        content: null,
        tool_calls: [
          { id: "c1", type: "function", function: { name: "weather", arguments: '{"city":"กรุงเทพ"}' } },
        ],
      },
      { role: "tool", content: '{"temp":33}', tool_call_id: "c1", name: "weather" },
      { role: "assistant", content: "วันนี้ 33 องศาครับ" },
    ],
    tools: [
      {
        type: "function",
        function: {
          name: "weather",
          parameters: { type: "object", properties: { city: { type: "string" } } },
        },
      },
    ],
  },
];

const DEPTH = 50_000;
const deep = `${"[".repeat(DEPTH)}${"]".repeat(DEPTH)}`;
const good = (id: string) => JSON.stringify(chatRow(id, "ดี", "ดีครับ"));
const withCall = (id: string, args: string) =>
  JSON.stringify({
    id,
    messages: [
      { role: "user", content: "ขอดูอากาศ" },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "c1", type: "function", function: { name: "weather", arguments: args } }],
      },
    ],
  });

describe.each(testDatabaseKinds())("ingest guards on %s", (kind) => {
  let curator: TestCurator;
  const request = (path: string, init?: RequestInit) => curator.app.request(path, init);
  const post = (path: string, body: unknown) => postJson(curator.app, path, body);

  beforeAll(async () => {
    curator = await createTestCurator(kind, { maxLineBytes: 256 * 1024 });
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  async function upload(filename: string, content: string | Uint8Array): Promise<Response> {
    return request(`/v1/uploads?filename=${encodeURIComponent(filename)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: content,
    });
  }
  async function uploaded(filename: string, content: string | Uint8Array): Promise<string> {
    const res = await upload(filename, content);
    expect(res.status).toBe(201);
    return ((await res.json()) as { upload: string }).upload;
  }
  async function dataset(name: string) {
    expect((await post("/v1/datasets", { name, kind: "chat" })).status).toBe(201);
  }
  async function build(name: string, filename: string, content: string | Uint8Array, maxRejected = 0) {
    const res = await post(`/v1/datasets/${name}/versions`, {
      inputs: [{ upload: await uploaded(filename, content), split: "train" }],
      maxRejected,
    });
    return { res, body: (await res.json()) as any };
  }
  const samplesOf = async (hash: string) =>
    (
      (await (await request(`/v1/versions/${hash}/samples?limit=100`)).json()) as {
        items: { sampleId: string; contentHash: string; source: string; sample: unknown }[];
      }
    ).items;

  it("builds a version from a shard downloaded from another version: same samples", async () => {
    await dataset("pq-origin");
    const origin = await build("pq-origin", "rows.jsonl", jsonl(rows));
    expect(origin.res.status).toBe(201);
    const shard = await request(`/v1/versions/${origin.body.hash}/files/data/train-00000-of-00001.parquet`);
    expect(shard.status).toBe(200);
    const bytes = new Uint8Array(await shard.arrayBuffer());

    const stored = await upload("train-00000-of-00001.parquet", bytes);
    expect(stored.status).toBe(201);
    expect(await stored.json()).toMatchObject({
      filename: "train-00000-of-00001.parquet",
      format: "parquet",
    });

    await dataset("pq-copy");
    const copy = await build("pq-copy", "train-00000-of-00001.parquet", bytes);
    expect(copy.res.status).toBe(201);
    expect(copy.body.stats).toMatchObject({ rows: 3, rejected: 0 });
    const strip = (items: Awaited<ReturnType<typeof samplesOf>>) =>
      items.map(({ sampleId, contentHash, source, sample }) => ({ sampleId, contentHash, source, sample }));
    expect(strip(await samplesOf(copy.body.hash))).toEqual(strip(await samplesOf(origin.body.hash)));
  });

  it("refuses an upload whose bytes do not match its name, naming both", async () => {
    const notParquet = await upload("rows.parquet", jsonl(rows));
    expect(notParquet.status).toBe(400);
    const a = ((await notParquet.json()) as ErrorBody).error;
    expect(a.code).toBe("BAD_REQUEST");
    expect(a.message).toContain("rows.parquet");
    expect(a.message).toMatch(/not Parquet/);

    await dataset("pq-names");
    const origin = await build("pq-names", "rows.jsonl", jsonl(rows));
    const bytes = new Uint8Array(
      await (
        await request(`/v1/versions/${origin.body.hash}/files/data/train-00000-of-00001.parquet`)
      ).arrayBuffer(),
    );
    const misnamed = await upload("rows.jsonl", bytes);
    expect(misnamed.status).toBe(400);
    const b = ((await misnamed.json()) as ErrorBody).error;
    expect(b.message).toContain("rows.jsonl");
    expect(b.message).toMatch(/is Parquet/);
  });

  it("verify re-hashes the manifest and the card, telling a corrupt blob from a missing one", async () => {
    await dataset("verify-files");
    const { body: v } = await build("verify-files", "rows.jsonl", jsonl(rows));
    const detail = (await (await request(`/v1/versions/${v.hash}`)).json()) as any;
    const store = curator.registry.store as LocalBlobStore;
    const cardSha = (await curator.registry.versionFile(v.hash, "README.md")).sha256;
    const report = async () => (await (await post(`/v1/versions/${v.hash}/verify`, {})).json()) as any;
    const entry = (r: any, path: string) => r.shards.find((s: { path: string }) => s.path === path);

    const intact = await report();
    expect(intact.ok).toBe(true);
    expect(entry(intact, "manifest.json")).toMatchObject({ ok: true, status: "ok", sha256: v.hash });
    expect(entry(intact, "README.md")).toMatchObject({ ok: true, status: "ok", sha256: cardSha });

    for (const [path, sha] of [
      ["manifest.json", v.hash],
      ["README.md", cardSha],
    ] as const) {
      const { readFile } = await import("node:fs/promises");
      const original = await readFile(store.pathOf(sha));
      await writeFile(store.pathOf(sha), Buffer.concat([original, Buffer.from(" ")]));
      const corrupt = await report();
      expect(corrupt.ok).toBe(false);
      expect(entry(corrupt, path)).toMatchObject({ ok: false, status: "corrupt" });
      expect(entry(corrupt, path).error).toContain(path);

      await rm(store.pathOf(sha));
      const missing = await report();
      expect(missing.ok).toBe(false);
      expect(entry(missing, path)).toMatchObject({ ok: false, status: "missing" });
      expect(entry(missing, path).error).toMatch(/missing/);
      await writeFile(store.pathOf(sha), original);
    }
    expect((await report()).ok).toBe(true);
    expect(detail.manifest.shards).toHaveLength(1);
  });

  it("refuses what JSON carries but the hash, UTF-8 or PostgreSQL cannot, naming the line and field", async () => {
    const lines = [
      good("g1"),
      JSON.stringify(chatRow("s1", "a\ud800b", "ครับ")),
      JSON.stringify(chatRow("n\u0000id", "ดี", "ครับ")),
      JSON.stringify(chatRow("n2", "ดี", "ครับ", { source: "a\u0000b" })),
      '{"id":"big","messages":[{"role":"user","content":"x"}],"meta":{"n":1e400}}',
      `{broken \u0000 line`,
      JSON.stringify(chatRow("k1", "ดี", "ครับ", { meta: { "bad\udc00key": 1 } })),
      good("g2"),
    ];
    await dataset("text-guards");
    const refused = await build("text-guards", "text.jsonl", `${lines.join("\n")}\n`);
    expect(refused.res.status).toBe(422);
    const records = refused.body.error.details.records as {
      location: string;
      reason: string;
      message: string;
    }[];
    expect(records.map((r) => [r.location, r.reason])).toEqual([
      ["text.jsonl:2", "invalid"],
      ["text.jsonl:3", "invalid"],
      ["text.jsonl:4", "invalid"],
      ["text.jsonl:5", "invalid"],
      ["text.jsonl:6", "malformed"],
      ["text.jsonl:7", "invalid"],
    ]);
    expect(records[0]?.message).toMatch(/^messages\.0\.content: .*unpaired UTF-16 surrogate/);
    expect(records[1]?.message).toMatch(/^id: .*NUL/);
    expect(records[2]?.message).toMatch(/^source: .*NUL/);
    expect(records[3]?.message).toMatch(/^meta\.n: .*finite/);
    expect(records[5]?.message).toMatch(/^meta: .*key .*unpaired UTF-16 surrogate/);

    // Within a budget the version is built, and every refused record is kept and browsable: the index holds
    // what PostgreSQL cannot store as escapes, the rejected file holds the records as they were.
    const kept = await build("text-guards", "text.jsonl", `${lines.join("\n")}\n`, 6);
    expect(kept.res.status).toBe(201);
    expect(kept.body.stats).toMatchObject({ rows: 2, rejected: 6 });
    const page = (await (await request(`/v1/versions/${kept.body.hash}/rejected`)).json()) as {
      items: { location: string; record: any }[];
    };
    expect(page.items.map((r) => r.location)).toEqual(records.map((r) => r.location));
    expect(page.items[1]?.record.id).toBe("n\\u0000id");
    expect(page.items[0]?.record.messages[0].content).toBe("a\\ud800b");
    expect(page.items[4]?.record).toBe("{broken \\u0000 line");
    const file = await (await request(`/v1/versions/${kept.body.hash}/files/rejected/input.jsonl`)).text();
    const exact = file
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { record: any });
    expect(exact[1]?.record.id).toBe("n\u0000id");
    expect(exact[0]?.record.messages[0].content).toBe("a\ud800b");
    expect(exact[4]?.record).toBe("{broken \u0000 line");
    // The number out of range is kept as the record's text, which JSON.parse in Python reads back.
    expect(exact[3]?.record).toContain('"n":Infinity');
  });

  it("refuses nesting past the limit in meta and tool parameters, counted against the budget", async () => {
    const lines = [
      good("d0"),
      `{"id":"d1","messages":[{"role":"user","content":"x"}],"meta":{"a":${deep}}}`,
      `{"id":"d2","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","x":${deep}}}}]}`,
      withCall("d3", `{"a":${deep}}`),
      good("d4"),
    ];
    await dataset("deep-guards");
    const refused = await build("deep-guards", "deep.jsonl", `${lines.join("\n")}\n`, 2);
    expect(refused.res.status).toBe(422);
    const records = refused.body.error.details.records as {
      location: string;
      reason: string;
      message: string;
    }[];
    expect(records.map((r) => [r.location, r.reason])).toEqual([
      ["deep.jsonl:2", "invalid"],
      ["deep.jsonl:3", "invalid"],
      ["deep.jsonl:4", "invalid"],
    ]);
    expect(records[0]?.message).toMatch(/^meta\.a[.\d]*: nested more than \d+ levels deep/);
    expect(records[1]?.message).toMatch(/^tools\.0\.function\.parameters[.\w]*: nested more than/);
    expect(records[2]?.message).toMatch(
      /^messages\.1\.tool_calls\.0\.function\.arguments: .*nested more than/,
    );

    const kept = await build("deep-guards", "deep.jsonl", `${lines.join("\n")}\n`, 3);
    expect(kept.res.status).toBe(201);
    expect(kept.body.stats).toMatchObject({ rows: 2, rejected: 3 });
    const page = (await (await request(`/v1/versions/${kept.body.hash}/rejected`)).json()) as {
      items: { location: string; record: unknown }[];
    };
    expect(page.items.map((r) => r.location)).toEqual(["deep.jsonl:2", "deep.jsonl:3", "deep.jsonl:4"]);
    // Too deep to store as JSON anywhere: kept as its canonical JSON text, nothing lost.
    const text = page.items[0]?.record as string;
    expect(text.startsWith('{"id":"d1","messages":[{"content":"x","role":"user"}],"meta":{"a":[[[')).toBe(
      true,
    );
    expect(text).toHaveLength(lines[1]?.length ?? 0);
  });

  it("refuses tool-call arguments that are not the JSON text of an object", async () => {
    await dataset("args-guards");
    const lines = [
      withCall("a1", '{"city":"เชียงใหม่"}'),
      withCall("a2", "{not json"),
      withCall("a3", "[1,2]"),
    ];
    const refused = await build("args-guards", "args.jsonl", `${lines.join("\n")}\n`);
    expect(refused.res.status).toBe(422);
    const records = refused.body.error.details.records as { location: string; message: string }[];
    expect(records.map((r) => r.location)).toEqual(["args.jsonl:2", "args.jsonl:3"]);
    expect(records[0]?.message).toMatch(/^messages\.1\.tool_calls\.0\.function\.arguments: not JSON/);
    expect(records[1]?.message).toMatch(
      /^messages\.1\.tool_calls\.0\.function\.arguments: .*must be .*JSON object/,
    );
  });

  it("refuses an overlong line at its line number and goes on with the next", async () => {
    await dataset("long-lines");
    const long = JSON.stringify(chatRow("l2", "ยาว", "ก".repeat(300 * 1024)));
    const content = `${good("l1")}\n${long}\n${good("l3")}\n`;
    const refused = await build("long-lines", "long.jsonl", content);
    expect(refused.res.status).toBe(422);
    const records = refused.body.error.details.records as {
      location: string;
      reason: string;
      message: string;
    }[];
    expect(records).toEqual([
      {
        location: "long.jsonl:2",
        reason: "too-long",
        message: expect.stringMatching(
          /line is \d+ bytes, over the 262144-byte limit \(CURATOR_MAX_LINE_BYTES\)/,
        ),
      },
    ]);
    const kept = await build("long-lines", "long.jsonl", content, 1);
    expect(kept.res.status).toBe(201);
    expect((await samplesOf(kept.body.hash)).map((s) => s.sampleId)).toEqual(["l1", "l3"]);
  });

  it("refuses a NUL in a query or path parameter or a JSON body with 400 naming it", async () => {
    await dataset("nul-params");
    const { body: v } = await build("nul-params", "rows.jsonl", jsonl(rows));
    for (const [path, name] of [
      [`/v1/versions/${v.hash}/samples?source=a%00b`, "query parameter source"],
      [`/v1/versions/${v.hash}/rejected?reason=%00`, "query parameter reason"],
      [`/v1/versions/${v.hash}/samples/p%001`, "path parameter sampleId"],
    ] as const) {
      const res = await request(path);
      expect(res.status).toBe(400);
      const error = ((await res.json()) as ErrorBody).error;
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toContain(name);
    }
    const body = await post("/v1/datasets", { name: "nul-body", kind: "chat", description: "a\u0000b" });
    expect(body.status).toBe(400);
    expect(((await body.json()) as ErrorBody).error.message).toContain("body.description");
    const form = await request("/review/sign-in", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" },
      body: "token=a%00b",
    });
    expect(form.status).toBe(400);
    expect(await form.text()).toContain("form field token");
  });
});
