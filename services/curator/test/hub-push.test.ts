/**
 * Pushing a version to a Hugging Face Hub dataset repo, against the Hub test server on loopback (the
 * `@huggingface/hub` client's create-repo, preupload, LFS batch, upload and NDJSON commit calls): one commit with
 * the shards, manifest and card, byte for byte; the commit recorded on the version; a second push answered from
 * the record; a forced one re-sending no LFS object the repo holds; drafts, unpublished versions, bad tokens,
 * missing repos and damaged blobs refused with what to do, and nothing recorded for them.
 */
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { downloadFile } from "@huggingface/hub";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { LocalBlobStore } from "@sovereign/shards";
import { type HubTestServer, startHubTestServer } from "@sovereign/sources/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CuratorError } from "../src/errors";
import { hubPushesOf, pushVersionToHub } from "../src/hub-push";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

const TOKEN = "hf_test_write_token";
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe.each(testDatabaseKinds())("pushing a version to the Hub on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  let hub: HubTestServer;
  let committed: string;
  let draft: string;

  const build = async (name: string, rows: unknown[], test: unknown[]) => {
    await curator.registry.ensureDataset({ name, kind: "chat" });
    await writeFile(join(curator.dir, `${name}-train.jsonl`), jsonl(rows));
    await writeFile(join(curator.dir, `${name}-test.jsonl`), jsonl(test));
    const { version } = await curator.registry.buildVersion(name, {
      inputs: [
        { path: join(curator.dir, `${name}-train.jsonl`), split: "train" },
        { path: join(curator.dir, `${name}-test.jsonl`), split: "test" },
      ],
      maxRejected: 5,
    });
    return version.hash;
  };

  beforeAll(async () => {
    curator = await createTestCurator(kind);
    hub = await startHubTestServer({ writeToken: TOKEN });
    // One bad line, so the version has rejected records: they stay home.
    const rows = [chatRow("a", "สวัสดี", "สวัสดีครับ"), chatRow("b", "ขอบคุณ", "ยินดีครับ"), { id: "bad" }];
    committed = await build("hub-ds", rows, [chatRow("t", "ลาก่อน", "ลาก่อนครับ")]);
    await curator.registry.commitVersion(committed);
    draft = await build("hub-draft", [chatRow("d", "ดี", "ดีครับ")], [chatRow("e", "ไป", "ไปครับ")]);
  });
  afterAll(async () => {
    await hub?.close();
    await curator?.cleanup();
  });

  const push = (hash: string, options: Partial<Parameters<typeof pushVersionToHub>[2]> = {}) =>
    pushVersionToHub(curator.registry, hash, {
      repo: "thai-lab/hub-ds",
      endpoint: hub.url,
      token: TOKEN,
      allowCommitted: true,
      ...options,
    });
  const refusal = async (promise: Promise<unknown>) => {
    const error = await promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CuratorError);
    return error as CuratorError;
  };

  it("refuses drafts, unpublished versions without allowCommitted, and bad settings, naming what to do", async () => {
    const d = await refusal(push(draft, { create: true }));
    expect([d.code, d.message]).toEqual(["CONFLICT", expect.stringContaining("is a draft")]);
    const c = await refusal(push(committed, { allowCommitted: false, create: true }));
    expect(c.code).toBe("CONFLICT");
    expect(c.message).toMatch(/is committed, not published: publish it after review, or allow committed/);
    expect((await refusal(push(committed, { token: "" }))).message).toMatch(/set HF_TOKEN/);
    expect((await refusal(push(committed, { token: "secret" }))).message).toMatch(/start with "hf_"/);
    expect((await refusal(push(committed, { repo: "no-owner" }))).message).toMatch(/not an owner\/name/);
    expect(hub.requests).toHaveLength(0);
  });

  it("reports a refused token and a missing repo from the Hub, recording nothing", async () => {
    const denied = await refusal(push(committed, { token: "hf_not_the_token", create: true }));
    expect(denied.code).toBe("UPSTREAM_ERROR");
    expect(denied.status).toBe(502);
    expect(denied.message).toMatch(
      /refused HF_TOKEN for dataset repo thai-lab\/hub-ds .*\(401.*write access/,
    );
    const missing = await refusal(push(committed));
    expect(missing.message).toMatch(/thai-lab\/hub-ds on .* was not found \(404.*create the repo/);
    expect(await hubPushesOf(curator.registry, committed)).toEqual([]);
  });

  it("pushes the shards, manifest and card in one commit, byte for byte, and records the commit", async () => {
    const phases: string[] = [];
    const pushed = await push(committed, { create: true, onProgress: (e) => phases.push(e.phase) });
    expect(pushed.alreadyPushed).toBe(false);
    expect(phases).toEqual(
      expect.arrayContaining(["created", "preuploading", "uploadingLargeFiles", "committing"]),
    );

    const repo = hub.getRepo("thai-lab/hub-ds");
    const head = repo?.branches?.main;
    expect(head).toBe(pushed.commit);
    expect(Object.keys(repo?.commits ?? {})).toHaveLength(2); // the repo's first commit, and the push
    const files = repo?.commits[pushed.commit] ?? {};
    const manifest = await curator.registry.getManifest(committed);
    const expected = ["README.md", "manifest.json", ...manifest.shards.map((s) => s.path)];
    expect(Object.keys(files).sort()).toEqual([".gitattributes", ...expected].sort());
    expect(manifest.rejected.length).toBeGreaterThan(0);
    for (const path of expected) {
      const file = await curator.registry.versionFile(committed, path);
      expect(sha256(files[path] as Uint8Array), path).toBe(file.sha256);
    }
    // Parquet went through LFS, one upload per shard; the card and manifest inline in the commit.
    const uploads = hub.requests.filter((r) => r.route === "lfs-upload");
    expect(uploads).toHaveLength(manifest.shards.length);
    expect(hub.requests.filter((r) => r.route === "commit" && r.status === 200)).toHaveLength(1);

    const recorded = await hubPushesOf(curator.registry, committed);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({
      version: committed,
      endpoint: hub.url,
      repo: "thai-lab/hub-ds",
      branch: "main",
      commit: pushed.commit,
    });
    expect(recorded[0]?.files.map((f) => f.path).sort()).toEqual([...expected].sort());

    // Readable back from the Hub at that commit, as the Hub client downloads it.
    const download = await downloadFile({
      repo: { type: "dataset", name: "thai-lab/hub-ds" },
      path: "manifest.json",
      revision: pushed.commit,
      hubUrl: hub.url,
    });
    expect(sha256(new Uint8Array(await (download as Blob).arrayBuffer()))).toBe(committed);
    // And listed through the API.
    const listed = await curator.app.request(`/v1/versions/${committed}/hub-pushes`);
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { items: { commit: string }[] }).items.map((p) => p.commit)).toEqual([
      pushed.commit,
    ]);
    expect((await curator.app.request(`/v1/versions/${"0".repeat(64)}/hub-pushes`)).status).toBe(404);
  });

  it("answers a second push from the record, and a forced one re-sends no LFS object the repo holds", async () => {
    const before = hub.requests.length;
    const again = await push(committed);
    expect(again.alreadyPushed).toBe(true);
    expect(hub.requests.length).toBe(before);

    const forced = await push(committed, { force: true });
    expect(forced.alreadyPushed).toBe(false);
    expect(forced.commit).not.toBe(again.commit);
    const since = hub.requests.slice(before);
    expect(since.filter((r) => r.route === "lfs-batch")).toHaveLength(1);
    expect(since.filter((r) => r.route === "lfs-upload")).toHaveLength(0);
    expect((await hubPushesOf(curator.registry, committed)).map((p) => p.commit)).toEqual([
      forced.commit,
      again.commit,
    ]);
  });

  it("refuses to push a version whose stored shard was damaged, before sending anything", async () => {
    const manifest = await curator.registry.getManifest(committed);
    const shard = manifest.shards[0];
    if (!shard) throw new Error("the version has no shard");
    const path = new LocalBlobStore(curator.config.blobDir).pathOf(shard.sha256);
    const original = await readFile(path);
    const damaged = Buffer.from(original);
    damaged[damaged.length >> 1] = (damaged[damaged.length >> 1] as number) ^ 0xff;
    await writeFile(path, damaged);
    try {
      const before = hub.requests.length;
      const error = await refusal(push(committed, { force: true }));
      expect(error.code).toBe("INTEGRITY_ERROR");
      expect(error.message).toContain(shard.path);
      expect(hub.requests.length).toBe(before);
    } finally {
      await writeFile(path, original);
    }
  });
});
