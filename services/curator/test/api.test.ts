import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { tables } from "@sovereign/schemas";
import { sha256Hex } from "@sovereign/shards";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

const trainRows = [
  chatRow("a1", "สวัสดีครับ", "สวัสดีครับ มีอะไรให้ช่วยไหม", { source: "greetings" }),
  chatRow("a2", "เมืองหลวงของไทยคืออะไร", "กรุงเทพมหานครครับ", { source: "facts" }),
  chatRow("a3", "๒ บวก ๒ เท่ากับเท่าไร", "๔ ครับ", { source: "facts" }),
  chatRow("a4", "Say hi in Thai", "สวัสดี", { source: "greetings" }),
  chatRow("a5", "อธิบายมาตรา ๔๒๐", "ผู้ใดจงใจหรือประมาทเลินเล่อทำต่อบุคคลอื่นโดยผิดกฎหมาย…", { source: "law" }),
];
const testRows = [chatRow("t1", "ขอบคุณ", "ยินดีครับ", { source: "greetings" })];

describe.each(testDatabaseKinds())("curator API on %s", (kind) => {
  let curator: TestCurator;
  let request: (path: string, init?: RequestInit) => Promise<Response>;

  beforeAll(async () => {
    curator = await createTestCurator(kind, { maxUploadBytes: 64 * 1024 });
    request = async (path, init) => curator.app.request(path, init);
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const post = (path: string, body: unknown) =>
    request(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  async function upload(filename: string, content: string | Uint8Array): Promise<string> {
    const res = await request(`/v1/uploads?filename=${encodeURIComponent(filename)}`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream" },
      body: content,
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { upload: string }).upload;
  }

  async function dataset(name: string) {
    const res = await post("/v1/datasets", { name, kind: "chat", description: "ชุดทดสอบ" });
    expect(res.status).toBe(201);
  }

  async function buildVersion(name: string, rows = trainRows, extra: Record<string, unknown> = {}) {
    const res = await post(`/v1/datasets/${name}/versions`, {
      inputs: [
        { upload: await upload("train.jsonl", jsonl(rows)), split: "train" },
        { upload: await upload("test.jsonl", jsonl(testRows)), split: "test" },
      ],
      ...extra,
    });
    return { res, body: (await res.json()) as Record<string, any> };
  }

  it("reports health without saying which database it runs on, and 503 once the database does not answer", async () => {
    const res = await request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });

    const down = await createTestCurator(kind);
    try {
      await down.database.close();
      const gone = await down.app.request("/health");
      expect(gone.status).toBe(503);
      const body = (await gone.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("UNAVAILABLE");
      expect(body.error.message).toBe("the service cannot serve: its database does not answer");
    } finally {
      // Its database is closed already: closing it again fails, and the folder goes anyway.
      await down.cleanup().catch(() => rm(down.dir, { recursive: true, force: true }));
    }
  });

  it("creates, lists and gets datasets, refusing duplicates and bad names", async () => {
    await dataset("ds-basic");
    expect((await post("/v1/datasets", { name: "ds-basic", kind: "chat" })).status).toBe(409);
    const list = (await (await request("/v1/datasets")).json()) as { items: { name: string }[] };
    expect(list.items.map((d) => d.name)).toContain("ds-basic");
    const got = await request("/v1/datasets/ds-basic");
    expect(await got.json()).toMatchObject({
      name: "ds-basic",
      kind: "chat",
      versions: 0,
      description: "ชุดทดสอบ",
    });

    const bad = await post("/v1/datasets", { name: "../etc", kind: "chat" });
    expect(bad.status).toBe(400);
    const badBody = (await bad.json()) as { error: { code: string; message: string; requestId: string } };
    expect(badBody.error.code).toBe("BAD_REQUEST");
    expect(badBody.error.message).toContain("body.name");
    expect(badBody.error.requestId).toBe(bad.headers.get("x-request-id"));

    const badKind = await post("/v1/datasets", { name: "x1", kind: "pictures" });
    expect(((await badKind.json()) as { error: { message: string } }).error.message).toContain("body.kind");
    expect((await request("/v1/datasets/nope")).status).toBe(404);
  });

  it("refuses malformed JSON and unknown fields with 400", async () => {
    const res = await request("/v1/datasets", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("BAD_REQUEST");
    const extra = await post("/v1/datasets", { name: "x2", kind: "chat", colour: "red" });
    expect(extra.status).toBe(400);
  });

  it("builds a draft deterministically, commits it, and keeps committed versions immutable", async () => {
    await dataset("ds-versions");
    const first = await buildVersion("ds-versions");
    expect(first.res.status).toBe(201);
    expect(first.body).toMatchObject({
      dataset: "ds-versions",
      status: "draft",
      stats: { rows: 6, shards: 2, rejected: 0, splits: { train: { rows: 5 }, test: { rows: 1 } } },
    });
    const again = await buildVersion("ds-versions");
    expect(again.res.status).toBe(200);
    expect(again.body.hash).toBe(first.body.hash);

    const detail = (await (await request(`/v1/versions/${first.body.hash}`)).json()) as Record<string, any>;
    expect(detail.manifest.shards.map((s: { path: string }) => s.path)).toEqual([
      "data/test-00000-of-00001.parquet",
      "data/train-00000-of-00001.parquet",
    ]);
    const manifestRes = await request(`/v1/versions/${first.body.hash}/files/manifest.json`);
    expect(sha256Hex(new Uint8Array(await manifestRes.arrayBuffer()))).toBe(first.body.hash);

    const committed = await post(`/v1/versions/${first.body.hash}/commit`, {});
    expect(await committed.json()).toMatchObject({ status: "committed" });
    const del = await request(`/v1/versions/${first.body.hash}`, { method: "DELETE" });
    expect(del.status).toBe(409);

    // The database itself refuses to change a committed version, whatever code path tries.
    await expect(
      curator.database.db
        .update(tables.datasetVersions)
        .set({ pipelineName: "tampered" })
        .where(eq(tables.datasetVersions.hash, first.body.hash)),
    ).rejects.toThrow();
    await expect(
      curator.database.db.delete(tables.samples).where(eq(tables.samples.versionHash, first.body.hash)),
    ).rejects.toThrow();

    const draft = await buildVersion("ds-versions", trainRows.slice(0, 3));
    expect(draft.res.status).toBe(201);
    expect((await request(`/v1/versions/${draft.body.hash}`, { method: "DELETE" })).status).toBe(204);
    expect((await request(`/v1/versions/${draft.body.hash}`)).status).toBe(404);

    const versions = (await (await request("/v1/datasets/ds-versions/versions")).json()) as {
      items: unknown[];
    };
    expect(versions.items).toHaveLength(1);
  });

  it("reports every bad JSONL line with file:line, and keeps good ones only within the budget", async () => {
    await dataset("ds-bad");
    const content = [
      JSON.stringify(chatRow("g1", "ดี", "ดีครับ")),
      "{broken json",
      JSON.stringify({ id: "g2", messages: [{ role: "wizard", content: "x" }] }),
      JSON.stringify(chatRow("g3", "สอง", "สองครับ")),
      JSON.stringify({ id: "g4" }),
    ].join("\n");
    const refused = await post("/v1/datasets/ds-bad/versions", {
      inputs: [{ upload: await upload("mixed.jsonl", content) }],
    });
    expect(refused.status).toBe(422);
    const body = (await refused.json()) as { error: { code: string; message: string; details: any } };
    expect(body.error.code).toBe("INPUT_REJECTED");
    expect(body.error.details.records.map((r: { location: string }) => r.location)).toEqual([
      "mixed.jsonl:2",
      "mixed.jsonl:3",
      "mixed.jsonl:5",
    ]);
    expect(body.error.details.records[1].message).toContain("messages.0.role");

    const kept = await post("/v1/datasets/ds-bad/versions", {
      inputs: [{ upload: await upload("mixed.jsonl", content) }],
      maxRejected: 3,
    });
    expect(kept.status).toBe(201);
    const version = (await kept.json()) as Record<string, any>;
    expect(version.stats).toMatchObject({ rows: 2, rejected: 3 });
    const rejected = await request(`/v1/versions/${version.hash}/files/rejected/input.jsonl`);
    expect(rejected.status).toBe(200);
    const lines = (await rejected.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.location, l.reason])).toEqual([
      ["mixed.jsonl:2", "malformed"],
      ["mixed.jsonl:3", "invalid"],
      ["mixed.jsonl:5", "invalid"],
    ]);
  });

  it("refuses oversized uploads with 413 and unsafe file names with 400", async () => {
    const big = new Uint8Array(70 * 1024).fill(0x61);
    const res = await request("/v1/uploads?filename=big.jsonl", { method: "POST", body: big });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    for (const name of ["../x.jsonl", "a/b.jsonl", ".."]) {
      const r = await request(`/v1/uploads?filename=${encodeURIComponent(name)}`, {
        method: "POST",
        body: "{}",
      });
      expect(r.status).toBe(400);
    }
  });

  it("builds from located files inside the import directory only", async () => {
    await dataset("ds-located");
    const { mkdir } = await import("node:fs/promises");
    await mkdir(curator.config.importDir, { recursive: true });
    await writeFile(join(curator.config.importDir, "ok.jsonl"), jsonl(trainRows));
    await writeFile(join(curator.dir, "secret.jsonl"), jsonl(trainRows));
    const ok = await post("/v1/datasets/ds-located/versions", { inputs: [{ path: "ok.jsonl" }] });
    expect(ok.status).toBe(201);
    for (const path of ["../secret.jsonl", join(curator.dir, "secret.jsonl"), "missing.jsonl"]) {
      const res = await post("/v1/datasets/ds-located/versions", { inputs: [{ path }] });
      expect([400, 404]).toContain(res.status);
      expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
        /import directory/,
      );
    }
  });

  it("serves shard files with ETag, conditional requests and ranges", async () => {
    await dataset("ds-files");
    const { body: v } = await buildVersion("ds-files");
    const path = `/v1/versions/${v.hash}/files/data/train-00000-of-00001.parquet`;
    const whole = await request(path);
    expect(whole.status).toBe(200);
    const bytes = new Uint8Array(await whole.arrayBuffer());
    const sha = sha256Hex(bytes);
    expect(whole.headers.get("etag")).toBe(`"${sha}"`);
    expect(v.stats.bytes).toBeGreaterThan(bytes.length);

    expect((await request(path, { headers: { "if-none-match": `"${sha}"` } })).status).toBe(304);
    const part = await request(path, { headers: { range: "bytes=4-11" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 4-11/${bytes.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(4, 12));
    const tail = await request(path, { headers: { range: "bytes=-4" } });
    expect(new TextDecoder().decode(await tail.arrayBuffer())).toBe("PAR1");
    const beyond = await request(path, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe(`bytes */${bytes.length}`);

    expect((await request(`/v1/versions/${v.hash}/files/data/nope.parquet`)).status).toBe(404);
    expect((await request(`/v1/versions/${v.hash}/files/data%2F..%2Fmanifest.json`)).status).toBe(400);
    expect((await request(`/v1/versions/not-a-hash/files/manifest.json`)).status).toBe(400);
  });

  it("catches a flipped byte in a stored shard on download, sample read and verify", async () => {
    await dataset("ds-corrupt");
    const { body: v } = await buildVersion("ds-corrupt");
    const shard =
      v.hash && ((await (await request(`/v1/versions/${v.hash}`)).json()) as any).manifest.shards[1];
    const blobPath = (curator.registry.store as import("@sovereign/shards").LocalBlobStore).pathOf(
      shard.sha256,
    );
    const original = await readFile(blobPath);
    const flipped = Buffer.from(original);
    flipped[100] = (flipped[100] ?? 0) ^ 0x01;
    await writeFile(blobPath, flipped);
    try {
      const download = await request(`/v1/versions/${v.hash}/files/${shard.path}`);
      expect(download.status).toBe(500);
      const err = ((await download.json()) as { error: { code: string; message: string } }).error;
      expect(err.code).toBe("INTEGRITY_ERROR");
      expect(err.message).toContain(shard.path);
      expect(err.message).toContain(v.hash);

      const sample = await request(`/v1/versions/${v.hash}/samples/a1`);
      expect(sample.status).toBe(500);

      const report = (await (await post(`/v1/versions/${v.hash}/verify`, {})).json()) as any;
      expect(report.ok).toBe(false);
      expect(
        report.shards.filter((s: { ok: boolean }) => !s.ok).map((s: { path: string }) => s.path),
      ).toEqual([shard.path]);
    } finally {
      await writeFile(blobPath, original);
    }
    const healed = (await (await post(`/v1/versions/${v.hash}/verify`, {})).json()) as any;
    expect(healed.ok).toBe(true);
  });

  it("browses samples by page, split and source, and gets one with its content", async () => {
    await dataset("ds-browse");
    const { body: v } = await buildVersion("ds-browse");
    const seen: string[] = [];
    let cursor: number | null = -1;
    while (cursor !== null) {
      const page = (await (
        await request(`/v1/versions/${v.hash}/samples?limit=2&cursor=${cursor}&content=false`)
      ).json()) as { items: { sampleId: string; sample?: unknown }[]; nextCursor: number | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      for (const item of page.items) {
        expect(item.sample).toBeUndefined();
        seen.push(item.sampleId);
      }
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(["t1", "a1", "a2", "a3", "a4", "a5"]);

    const facts = (await (await request(`/v1/versions/${v.hash}/samples?source=facts`)).json()) as any;
    expect(facts.items.map((i: { sampleId: string }) => i.sampleId)).toEqual(["a2", "a3"]);
    expect(facts.items[0].sample.messages[1].content).toBe("กรุงเทพมหานครครับ");
    const test = (await (await request(`/v1/versions/${v.hash}/samples?split=test`)).json()) as any;
    expect(test.items.map((i: { sampleId: string }) => i.sampleId)).toEqual(["t1"]);

    const one = (await (await request(`/v1/versions/${v.hash}/samples/a3`)).json()) as any;
    expect(one).toMatchObject({
      sampleId: "a3",
      split: "train",
      shard: "data/train-00000-of-00001.parquet",
      row: 2,
    });
    expect(one.sample.messages[0].content).toBe("๒ บวก ๒ เท่ากับเท่าไร");
    expect((await request(`/v1/versions/${v.hash}/samples/zzz`)).status).toBe(404);
    expect((await request(`/v1/versions/${v.hash}/samples?limit=9999`)).status).toBe(400);
  });

  it("diffs two versions by content hash", async () => {
    await dataset("ds-diff");
    const { body: a } = await buildVersion("ds-diff");
    const changed = [
      ...trainRows.slice(0, 4),
      chatRow("a5", "อธิบายมาตรา ๔๒๐", "ตอบใหม่"),
      chatRow("a6", "ใหม่", "ใหม่ครับ"),
    ];
    const { body: b } = await buildVersion("ds-diff", changed, { parents: [a.hash] });
    expect(b.parents).toEqual([a.hash]);
    const diff = (await (await request(`/v1/versions/${a.hash}/diff/${b.hash}`)).json()) as any;
    expect(diff).toMatchObject({ added: 2, removed: 1, unchanged: 5, sizes: { from: 6, to: 7 } });
    expect(diff.addedSamples.map((s: { sampleId: string }) => s.sampleId).sort()).toEqual(["a5", "a6"]);
    expect(diff.removedSamples.map((s: { sampleId: string }) => s.sampleId)).toEqual(["a5"]);
    const unknownParent = await post("/v1/datasets/ds-diff/versions", {
      inputs: [{ upload: await upload("x.jsonl", jsonl(trainRows)) }],
      parents: ["0".repeat(64)],
    });
    expect(unknownParent.status).toBe(404);
  });

  it("publishes its OpenAPI document and reference page", async () => {
    const doc = (await (await request("/openapi.json")).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/health",
        "/v1/datasets",
        "/v1/datasets/{name}/versions",
        "/v1/versions/{hash}/files/{path}",
        "/v1/versions/{hash}/samples",
      ]),
    );
    const page = await request("/docs");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("/openapi.json");
    const missing = await request("/v1/nothing-here");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
  });
});
