/**
 * Access control over HTTP: every route the curator registers has a rule in its policy (and every rule a
 * route); every route but the public ones answers 401 without a token or with an unknown or revoked one, and
 * 403 to each role its rule leaves out, while the roles it names get past the check. Admins create tokens
 * (shown once, stored hashed), list and revoke them; who did what lands in the audit log.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { testDatabaseKinds } from "@sovereign/db/testing";
import { ROLES, type Role } from "@sovereign/http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curatorPolicy } from "../src/policy";
import { chatRow, createTestCurator, jsonl, type TestCurator } from "./helpers";

const HASH = "0".repeat(64);
const samples: Record<string, string> = {
  ":name": "ds-access",
  ":hash": HASH,
  ":other": HASH,
  ":id": "00000000-0000-4000-8000-000000000000",
  ":sampleId": "s1",
  ":item": "1",
  ":path{.+}": "manifest.json",
};
const concrete = (path: string) => path.replace(/:[a-zA-Z]+(\{[^}]*\})?/g, (p) => samples[p] ?? "x");

describe.each(testDatabaseKinds())("access control on %s", { timeout: 120_000 }, (kind) => {
  let curator: TestCurator;
  const tokens = {} as Record<Role, string>;

  beforeAll(async () => {
    curator = await createTestCurator(kind, { auth: true });
    for (const role of ROLES)
      tokens[role] = (await curator.access.createToken({ name: `${role}-token`, role })).token;
  });
  afterAll(async () => {
    await curator?.cleanup();
  });

  const call = (key: string, token?: string) => {
    const [method = "GET", path = "/"] = key.split(" ");
    // Pages take form posts only from their own origin, as a browser sends it.
    const headers: Record<string, string> = token
      ? { authorization: `Bearer ${token}`, origin: "http://localhost" }
      : { origin: "http://localhost" };
    if (method === "POST" || method === "DELETE") headers["content-type"] = "application/json";
    return curator.app.request(concrete(path), {
      method,
      headers,
      ...(method === "POST" ? { body: "{}" } : {}),
    });
  };
  /** The error of a JSON answer, or of a review page's HTML error page. */
  const errorOf = async (res: Response) => {
    if (!res.headers.get("content-type")?.includes("text/html"))
      return ((await res.json()) as { error: { code: string; message: string } }).error;
    const html = await res.text();
    const m = /data-error="([A-Z_]+)">([^<]*)</.exec(html);
    return { code: m?.[1] ?? "", message: (m?.[2] ?? "").replaceAll("&#39;", "'").replaceAll("&quot;", '"') };
  };

  it("has a rule for every route it registers, and no rule without a route", () => {
    const routes = new Set(
      curator.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    );
    expect([...routes].filter((k) => !curatorPolicy[k])).toEqual([]);
    expect(Object.keys(curatorPolicy).filter((k) => !routes.has(k))).toEqual([]);
  });

  it("refuses every non-public route without a valid token (401) and to the roles its rule leaves out (403)", async () => {
    let checked = 0;
    for (const [key, rule] of Object.entries(curatorPolicy)) {
      if (rule.roles === "public") {
        expect((await call(key)).status, key).not.toBe(401);
        continue;
      }
      const head = key.startsWith("HEAD "); // answers without a body
      const anonymous = await call(key);
      if (rule.page) {
        // A page sends whoever has no valid token to sign in.
        for (const res of [anonymous, await call(key, "sv_not-a-token")]) {
          expect(res.status, key).toBe(303);
          expect(res.headers.get("location"), key).toMatch(/^\/review\/sign-in/);
        }
      } else expect(anonymous.status, key).toBe(401);
      if (!head && !rule.page) {
        const missing = await errorOf(anonymous);
        expect(missing.code).toBe("UNAUTHORIZED");
        expect(missing.message).toContain(`${key} needs an API token`);
      }
      if (!rule.page) expect((await call(key, "sv_not-a-token")).status, key).toBe(401);
      for (const role of ROLES) {
        const res = await call(key, tokens[role]);
        if (rule.roles.includes(role)) {
          expect([401, 403], `${key} as ${role}`).not.toContain(res.status);
        } else {
          expect(res.status, `${key} as ${role}`).toBe(403);
          if (head) continue;
          const denied = await errorOf(res);
          expect(denied.code).toBe("FORBIDDEN");
          expect(denied.message).toBe(
            `a ${role} token may not call ${key}; it needs ${rule.roles.join(", ")}`,
          );
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("serves health and the API reference to anyone, the reference declaring bearer tokens", async () => {
    expect((await curator.app.request("/health")).status).toBe(200);
    const doc = (await (await curator.app.request("/openapi.json")).json()) as Record<string, any>;
    expect(doc.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearer: [] }]);
  });

  it("lets an admin create (shown once), list and revoke tokens; a revoked token is refused at once", async () => {
    const admin = { authorization: `Bearer ${tokens.admin}`, "content-type": "application/json" };
    const created = await curator.app.request("/v1/tokens", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "ci-reviewer", role: "reviewer" }),
    });
    expect(created.status).toBe(201);
    const token = (await created.json()) as { id: string; token: string; role: string; createdBy: string };
    expect(token.token).toMatch(/^sv_[A-Za-z0-9_-]{43}$/);
    expect(token.role).toBe("reviewer");
    const reviewer = { authorization: `Bearer ${token.token}` };
    expect((await curator.app.request("/v1/datasets", { headers: reviewer })).status).toBe(200);

    const listed = (await (await curator.app.request("/v1/tokens", { headers: admin })).json()) as {
      items: Record<string, unknown>[];
    };
    const entry = listed.items.find((t) => t.id === token.id);
    expect(entry).toMatchObject({ name: "ci-reviewer", role: "reviewer", revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(token.token);
    const stored = await curator.access.listTokens();
    expect(JSON.stringify(stored)).not.toContain(token.token);

    const bad = await curator.app.request("/v1/tokens", {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "x", role: "superuser" }),
    });
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/^body\.role: /);

    const revoked = await curator.app.request(`/v1/tokens/${token.id}`, { method: "DELETE", headers: admin });
    expect(revoked.status).toBe(200);
    expect(((await revoked.json()) as { revokedAt: string | null }).revokedAt).not.toBeNull();
    const after = await curator.app.request("/v1/datasets", { headers: reviewer });
    expect(after.status).toBe(401);
    expect((await errorOf(after)).message).toBe("the API token is not valid: unknown or revoked");
    const unknown = await curator.app.request(`/v1/tokens/${samples[":id"]}`, {
      method: "DELETE",
      headers: admin,
    });
    expect(unknown.status).toBe(404);
  });

  it("records who did what: the token, the action and its target", async () => {
    const curatorToken = { authorization: `Bearer ${tokens.curator}`, "content-type": "application/json" };
    const created = await curator.app.request("/v1/datasets", {
      method: "POST",
      headers: curatorToken,
      body: JSON.stringify({ name: "audited", kind: "chat", description: "บันทึก" }),
    });
    expect(created.status).toBe(201);
    // A refused call is not an action taken.
    await curator.app.request("/v1/datasets", {
      method: "POST",
      headers: { authorization: `Bearer ${tokens.reviewer}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "refused", kind: "chat" }),
    });
    const missing = await curator.app.request(`/v1/versions/${HASH}/commit`, {
      method: "POST",
      headers: curatorToken,
    });
    expect(missing.status).toBe(404);

    const res = await curator.app.request("/v1/audit?action=dataset.create", {
      headers: { authorization: `Bearer ${tokens.admin}` },
    });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Record<string, unknown>[] };
    const [principal] = await curator.access
      .listTokens()
      .then((all) => all.filter((t) => t.name === "curator-token"));
    expect(items).toEqual([
      expect.objectContaining({ tokenId: principal?.id, actor: "curator-token", action: "dataset.create" }),
    ]);
    let all = await curator.access.audit({ limit: 1000 });
    expect(all.some((e) => e.action === "version.commit")).toBe(false);

    // A version committed over HTTP: the entry names its hash.
    await writeFile(join(curator.dir, "audited.jsonl"), jsonl([chatRow("a1", "สวัสดี", "สวัสดีครับ")]));
    const { version } = await curator.registry.buildVersion("audited", {
      inputs: [{ path: join(curator.dir, "audited.jsonl"), split: "train" }],
    });
    const commit = await curator.app.request(`/v1/versions/${version.hash}/commit`, {
      method: "POST",
      headers: curatorToken,
    });
    expect(commit.status).toBe(200);
    all = await curator.access.audit({ limit: 1000 });
    expect(all.find((e) => e.action === "version.commit")).toMatchObject({
      actor: "curator-token",
      target: { hash: version.hash },
    });
    expect(all.filter((e) => e.action === "token.create").length).toBeGreaterThanOrEqual(ROLES.length + 1);
    const revoke = all.find((e) => e.action === "token.revoke");
    expect(revoke?.actor).toBe("admin-token");
  });
});
