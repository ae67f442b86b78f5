/**
 * @module A test server that answers like the Hugging Face Hub, for tests only: a real HTTP server on
 * 127.0.0.1 serving repos from files in memory or on disk, for the calls `@huggingface/hub` makes to read a
 * dataset (the tree listing, paged with `Link` headers, and `resolve` with ranges, `ETag` and
 * `X-Repo-Commit`), with the Hub's 401 and 404 answers and their `X-Error-Code`; and for the calls it makes to
 * write one (`createRepo`, and `commit`/`uploadFiles` without Xet: `preupload`, the LFS batch API with basic
 * transfers, the uploads themselves, and the NDJSON commit). Requests are logged so tests can count them.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** A file's content: text (UTF-8), bytes, or a file on disk read when asked for. */
export type HubTestContent = string | Uint8Array | { file: string };

export type HubTestRepo = {
  /** `owner/name`. */
  name: string;
  /** `dataset` unless given. */
  type?: "dataset" | "model";
  /** Commits by their 40-hex sha, each a map of repo paths to contents. */
  commits: Record<string, Record<string, HubTestContent>>;
  /** Branch names → commit shas (`main`, say); a revision may name either. */
  branches?: Record<string, string>;
  /** When set, the repo is private: requests need `Authorization: Bearer <token>`. */
  token?: string;
};

/** One request as the test server saw it. */
export type HubTestRequest = {
  method: string;
  /** The route that answered (`tree`, `resolve`), or `unknown`. */
  route: string;
  /** Decoded path, without the query. */
  path: string;
  status: number;
  range?: string;
};

export type HubTestServerOptions = {
  repos?: HubTestRepo[];
  /**
   * The token writes need (`Authorization: Bearer <token>`): creating repos, uploads and commits. Without one,
   * writes are refused with 401, as the Hub refuses anonymous writes.
   */
  writeToken?: string;
  /** Tree entries per page, before a `Link: rel="next"` header; the Hub uses 1000. */
  pageSize?: number;
};

export type HubTestServer = {
  /** Base URL, for `HF_ENDPOINT` or `hubUrl`. */
  url: string;
  /** Every request so far, in order. */
  requests: HubTestRequest[];
  /** Add or replace a repo, e.g. to push a new commit between two reads. */
  setRepo(repo: HubTestRepo): void;
  /** A repo as it stands, commits pushed to it included. */
  getRepo(name: string, type?: "dataset" | "model"): HubTestRepo | undefined;
  close(): Promise<void>;
};

/** What a route handler gets: the request, its URL, and the server's repos. */
export type HubRouteContext = {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  /** Groups of the route's pattern, percent-decoded. */
  params: string[];
  store: HubTestStore;
  baseUrl: string;
  pageSize: number;
  writeToken: string | undefined;
};

export type HubRoute = {
  name: string;
  methods: readonly string[];
  pattern: RegExp;
  handle(context: HubRouteContext): Promise<number>;
};

/** A file ready to serve: its size, git blob id, and a way to read a byte range. */
type StoredFile = { size: number; oid(): Promise<string>; bytes(): Promise<Buffer>; path?: string };

/** The repos a test server serves, keyed by `<type>s/<owner>/<name>`. */
export class HubTestStore {
  private readonly repos = new Map<string, HubTestRepo>();
  /** LFS objects uploaded, by sha256. */
  readonly lfs = new Map<string, Buffer>();

  set(repo: HubTestRepo): void {
    this.repos.set(`${repo.type ?? "dataset"}s/${repo.name}`, repo);
  }

  get(type: string, name: string): HubTestRepo | undefined {
    return this.repos.get(`${type}/${name}`);
  }

  /** The commit sha a revision names (a sha or a branch), if the repo has it. */
  commitOf(repo: HubTestRepo, revision: string): string | undefined {
    if (Object.hasOwn(repo.commits, revision)) return revision;
    const branch = repo.branches?.[revision];
    return branch !== undefined && Object.hasOwn(repo.commits, branch) ? branch : undefined;
  }

  async file(repo: HubTestRepo, commit: string, path: string): Promise<StoredFile | undefined> {
    const files = repo.commits[commit] ?? {};
    if (!Object.hasOwn(files, path)) return undefined;
    return storedFile(files[path] as HubTestContent);
  }
}

async function storedFile(content: HubTestContent): Promise<StoredFile> {
  let oid: string | undefined;
  const bytes =
    typeof content === "string"
      ? async () => Buffer.from(content)
      : content instanceof Uint8Array
        ? async () => Buffer.from(content)
        : () => readFile(content.file);
  const size =
    typeof content === "string"
      ? Buffer.byteLength(content)
      : content instanceof Uint8Array
        ? content.byteLength
        : (await stat(content.file)).size;
  return {
    size,
    ...(typeof content === "object" && !(content instanceof Uint8Array) ? { path: content.file } : {}),
    bytes,
    // The git blob id, as the Hub reports for files not stored with LFS.
    async oid() {
      oid ??= createHash("sha1")
        .update(`blob ${size}\0`)
        .update(await bytes())
        .digest("hex");
      return oid;
    },
  };
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): number {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  response.end(text);
  return status;
}

/** The Hub's error answers: a JSON `error` and, for missing things, an `X-Error-Code`. */
function hubError(
  response: ServerResponse,
  status: number,
  code: string | undefined,
  message: string,
): number {
  return sendJson(response, status, { error: message }, code ? { "X-Error-Code": code } : {});
}

/** The repo and commit a request names, or the error answer already sent. */
function openRepo(
  context: HubRouteContext,
  type: string,
  name: string,
  revision: string,
): { status: number } | { repo: HubTestRepo; commit: string } {
  const repo = context.store.get(type, name);
  const auth = context.request.headers.authorization;
  if (repo?.token !== undefined && auth !== `Bearer ${repo.token}`) {
    // The Hub hides private repos from anonymous callers behind the same 401 as a missing repo.
    return auth
      ? { status: hubError(context.response, 401, undefined, "Invalid credentials in Authorization header") }
      : { status: hubError(context.response, 401, "RepoNotFound", "Repository not found") };
  }
  if (!repo) return { status: hubError(context.response, 404, "RepoNotFound", "Repository not found") };
  const commit = context.store.commitOf(repo, revision);
  if (!commit)
    return { status: hubError(context.response, 404, "RevisionNotFound", `Invalid rev id: ${revision}`) };
  return { repo, commit };
}

const treeRoute: HubRoute = {
  name: "tree",
  methods: ["GET"],
  pattern: /^\/api\/(datasets|models)\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/,
  async handle(context) {
    const [type = "", name = "", revision = "", folder = ""] = context.params;
    const opened = openRepo(context, type, name, revision);
    if ("status" in opened) return opened.status;
    const files = opened.repo.commits[opened.commit] ?? {};
    const recursive = context.url.searchParams.get("recursive") === "true";
    const prefix = folder ? `${folder}/` : "";
    const paths = Object.keys(files).sort();
    if (folder && !paths.some((p) => p.startsWith(prefix))) {
      return hubError(context.response, 404, "EntryNotFound", `${folder} does not exist on "${revision}"`);
    }
    // Folders are listed as entries of their own, as the Hub does.
    const entries = new Map<string, { type: "file" | "directory"; path: string; file?: string }>();
    for (const path of paths) {
      if (!path.startsWith(prefix)) continue;
      const parts = path.slice(prefix.length).split("/");
      const depth = recursive ? parts.length : 1;
      for (let n = 1; n <= depth; n++) {
        const entryPath = prefix + parts.slice(0, n).join("/");
        entries.set(
          entryPath,
          n === parts.length
            ? { type: "file", path: entryPath, file: path }
            : { type: "directory", path: entryPath },
        );
      }
    }
    const all = [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const cursor = Number(context.url.searchParams.get("cursor") ?? "0");
    const page = all.slice(cursor, cursor + context.pageSize);
    const body = await Promise.all(
      page.map(async (entry) => {
        if (entry.type === "directory")
          return { type: "directory", oid: "0".repeat(40), size: 0, path: entry.path };
        const stored = (await context.store.file(
          opened.repo,
          opened.commit,
          entry.file as string,
        )) as StoredFile;
        return { type: "file", oid: await stored.oid(), size: stored.size, path: entry.path };
      }),
    );
    const headers: Record<string, string> = {};
    if (cursor + context.pageSize < all.length) {
      const next = new URL(context.url.pathname + context.url.search, context.baseUrl);
      next.searchParams.set("cursor", String(cursor + context.pageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    return sendJson(context.response, 200, body, headers);
  },
};

const resolveRoute: HubRoute = {
  name: "resolve",
  methods: ["GET", "HEAD"],
  pattern: /^\/(?:(datasets)\/)?([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/,
  async handle(context) {
    const [type = "models", name = "", revision = "", path = ""] = context.params;
    const opened = openRepo(context, type || "models", name, revision);
    if ("status" in opened) return opened.status;
    const stored = await context.store.file(opened.repo, opened.commit, path);
    if (!stored)
      return hubError(context.response, 404, "EntryNotFound", `${path} does not exist on "${revision}"`);
    const headers: Record<string, string | number> = {
      "Content-Type": "application/octet-stream",
      "Accept-Ranges": "bytes",
      ETag: `"${await stored.oid()}"`,
      "X-Repo-Commit": opened.commit,
    };
    let start = 0;
    let end = stored.size - 1;
    let status = 200;
    const range = /^bytes=(\d*)-(\d*)$/.exec(context.request.headers.range ?? "");
    if (range && stored.size > 0) {
      start = range[1] ? Number(range[1]) : Math.max(0, stored.size - Number(range[2]));
      end = range[1] && range[2] ? Math.min(Number(range[2]), stored.size - 1) : stored.size - 1;
      if (start > end) {
        context.response.writeHead(416, { "Content-Range": `bytes */${stored.size}` });
        context.response.end();
        return 416;
      }
      status = 206;
      headers["Content-Range"] = `bytes ${start}-${end}/${stored.size}`;
    }
    headers["Content-Length"] = end - start + 1;
    context.response.writeHead(status, headers);
    if (context.request.method === "HEAD" || stored.size === 0) {
      context.response.end();
    } else if (stored.path) {
      createReadStream(stored.path, { start, end }).pipe(context.response);
    } else {
      context.response.end((await stored.bytes()).subarray(start, end + 1));
    }
    return status;
  },
};

/** The routes to list and download a dataset's files. */
export const readRoutes: readonly HubRoute[] = [treeRoute, resolveRoute];

/** The body of a request, refusing more than `limit` bytes. */
async function readBody(request: IncomingMessage, limit = 1 << 30): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON request body of at most `limit` bytes. */
async function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  return JSON.parse((await readBody(request, limit)).toString("utf8"));
}

/** Whether the request may write: it carries the server's write token. Otherwise the 401 is sent. */
function canWrite(context: HubRouteContext): boolean {
  const auth = context.request.headers.authorization;
  if (context.writeToken !== undefined && auth === `Bearer ${context.writeToken}`) return true;
  hubError(context.response, 401, undefined, "Invalid credentials in Authorization header");
  return false;
}

/** The repo a write names, or the 404 already sent. */
function writableRepo(context: HubRouteContext, type: string, name: string): HubTestRepo | undefined {
  const repo = context.store.get(type, name);
  if (!repo) hubError(context.response, 404, "RepoNotFound", "Repository not found");
  return repo;
}

const createRepoRoute: HubRoute = {
  name: "create-repo",
  methods: ["POST"],
  pattern: /^\/api\/repos\/create$/,
  async handle(context) {
    if (!canWrite(context)) return 401;
    const body = (await readJson(context.request, 1 << 20)) as {
      name?: string;
      organization?: string;
      type?: string;
      visibility?: string;
    };
    const type = body.type === "dataset" ? "dataset" : body.type === "model" || !body.type ? "model" : "";
    if (!type || !body.name || !body.organization)
      return hubError(
        context.response,
        400,
        undefined,
        "name, organization and a dataset or model type are needed",
      );
    const name = `${body.organization}/${body.name}`;
    if (context.store.get(`${type}s`, name))
      return hubError(context.response, 409, undefined, `You already created this ${type} repo`);
    // A new repo has one commit, with a .gitattributes, on main.
    const initial = createHash("sha1").update(`init ${type} ${name}`).digest("hex");
    context.store.set({
      name,
      type,
      commits: { [initial]: { ".gitattributes": "*.parquet filter=lfs diff=lfs merge=lfs -text\n" } },
      branches: { main: initial },
      ...(body.visibility === "private" ? { token: context.writeToken } : {}),
    });
    const prefix = type === "dataset" ? "datasets/" : "";
    return sendJson(context.response, 200, { url: `${context.baseUrl}/${prefix}${name}`, name, id: initial });
  },
};

/** Which files go through LFS: Parquet and other binary files, and anything over 10 MB, as the Hub decides. */
function uploadMode(path: string, size: number, sample: Buffer): "lfs" | "regular" {
  return path.endsWith(".parquet") || size > 10 * 1024 * 1024 || sample.includes(0) ? "lfs" : "regular";
}

const preuploadRoute: HubRoute = {
  name: "preupload",
  methods: ["POST"],
  pattern: /^\/api\/(datasets|models)\/([^/]+\/[^/]+)\/preupload\/([^/]+)$/,
  async handle(context) {
    const [type = "", name = ""] = context.params;
    if (!canWrite(context) || !writableRepo(context, type, name)) return context.response.statusCode;
    const body = (await readJson(context.request, 1 << 24)) as {
      files: { path: string; size: number; sample: string }[];
    };
    const files = body.files.map((f) => ({
      path: f.path,
      uploadMode: uploadMode(f.path, f.size, Buffer.from(f.sample, "base64")),
      shouldIgnore: false,
    }));
    return sendJson(context.response, 200, { files, commitOid: null });
  },
};

const lfsBatchRoute: HubRoute = {
  name: "lfs-batch",
  methods: ["POST"],
  pattern: /^\/(?:(datasets)\/)?([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/,
  async handle(context) {
    const [type = "", name = ""] = context.params;
    if (!canWrite(context) || !writableRepo(context, type || "models", name))
      return context.response.statusCode;
    const body = (await readJson(context.request, 1 << 24)) as {
      operation: string;
      transfers?: string[];
      objects: { oid: string; size: number }[];
    };
    if (body.operation !== "upload")
      return hubError(context.response, 400, undefined, `operation ${body.operation} is not supported here`);
    // Basic transfers only: a client offering Xet falls back to them when the answer names "basic".
    const objects = body.objects.map((o) => ({
      oid: o.oid,
      size: o.size,
      authenticated: true,
      ...(context.store.lfs.has(o.oid)
        ? {}
        : {
            actions: {
              upload: { href: `${context.baseUrl}/lfs-upload/${o.oid}/${o.size}`, expires_in: 3600 },
            },
          }),
    }));
    return sendJson(context.response, 200, { transfer: "basic", objects }, { "X-Request-Id": "test-batch" });
  },
};

const lfsUploadRoute: HubRoute = {
  name: "lfs-upload",
  methods: ["PUT"],
  pattern: /^\/lfs-upload\/([0-9a-f]{64})\/(\d+)$/,
  async handle(context) {
    const [oid = "", size = ""] = context.params;
    const bytes = await readBody(context.request);
    const sha = createHash("sha256").update(bytes).digest("hex");
    if (sha !== oid || bytes.length !== Number(size))
      return hubError(
        context.response,
        400,
        undefined,
        `object ${oid} (${size} bytes) got ${sha} (${bytes.length})`,
      );
    context.store.lfs.set(oid, bytes);
    context.response.writeHead(200, { ETag: `"${oid}"` });
    context.response.end();
    return 200;
  },
};

const commitRoute: HubRoute = {
  name: "commit",
  methods: ["POST"],
  pattern: /^\/api\/(datasets|models)\/([^/]+\/[^/]+)\/commit\/([^/]+)$/,
  async handle(context) {
    const [type = "", name = "", branch = ""] = context.params;
    if (!canWrite(context)) return 401;
    const repo = writableRepo(context, type, name);
    if (!repo) return 404;
    const lines = (await readBody(context.request))
      .toString("utf8")
      .split("\n")
      .filter((line) => line.trim())
      .map((line) => JSON.parse(line) as { key: string; value: Record<string, unknown> });
    const header = lines[0];
    if (header?.key !== "header" || typeof header.value.summary !== "string" || !header.value.summary)
      return hubError(context.response, 400, undefined, "the first line must be the header, with a summary");
    const head = repo.branches?.[branch];
    if (head === undefined)
      return hubError(context.response, 404, "RevisionNotFound", `Invalid rev id: ${branch}`);
    if (header.value.parentCommit !== undefined && header.value.parentCommit !== head)
      return hubError(
        context.response,
        412,
        undefined,
        `A commit has happened since. Please refresh and try again.`,
      );
    const files: Record<string, HubTestContent> = { ...(repo.commits[head] ?? {}) };
    for (const { key, value } of lines.slice(1)) {
      const path = String(value.path ?? "");
      if (key === "file") {
        files[path] = Buffer.from(
          String(value.content ?? ""),
          value.encoding === "base64" ? "base64" : "utf8",
        );
      } else if (key === "lfsFile") {
        const object = context.store.lfs.get(String(value.oid));
        if (!object)
          return hubError(
            context.response,
            422,
            undefined,
            `LFS object ${value.oid} for ${path} was never uploaded`,
          );
        files[path] = object;
      } else if (key === "deletedFile") {
        delete files[path];
      } else {
        return hubError(context.response, 400, undefined, `unknown commit operation ${key}`);
      }
    }
    const oid = createHash("sha1")
      .update(`${head}\n${header.value.summary}\n${JSON.stringify(Object.keys(files).sort())}`)
      .update(String(Object.keys(repo.commits).length))
      .digest("hex");
    repo.commits[oid] = files;
    repo.branches = { ...repo.branches, [branch]: oid };
    const prefix = type === "datasets" ? "datasets/" : "";
    return sendJson(context.response, 200, {
      success: true,
      commitOid: oid,
      commitUrl: `${context.baseUrl}/${prefix}${name}/commit/${oid}`,
    });
  },
};

/** The routes to create a repo and commit files to it. */
export const writeRoutes: readonly HubRoute[] = [
  createRepoRoute,
  preuploadRoute,
  lfsBatchRoute,
  lfsUploadRoute,
  commitRoute,
];

/** Start a test server on a random port of 127.0.0.1; `routes` are tried before the default ones. */
export async function startHubTestServer(
  options: HubTestServerOptions & { routes?: readonly HubRoute[] } = {},
): Promise<HubTestServer> {
  const store = new HubTestStore();
  for (const repo of options.repos ?? []) store.set(repo);
  const routes = [...(options.routes ?? []), ...readRoutes, ...writeRoutes];
  const requests: HubTestRequest[] = [];
  let baseUrl = "";

  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", baseUrl);
    const method = request.method ?? "GET";
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      path = url.pathname;
    }
    const logged: HubTestRequest = { method, route: "unknown", path, status: 0 };
    if (request.headers.range) logged.range = request.headers.range;
    requests.push(logged);
    try {
      for (const route of routes) {
        const match = route.pattern.exec(url.pathname);
        if (!match || !route.methods.includes(method)) continue;
        logged.route = route.name;
        const params = match.slice(1).map((part) => (part === undefined ? "" : decodeURIComponent(part)));
        logged.status = await route.handle({
          request,
          response,
          url,
          params,
          store,
          baseUrl,
          pageSize: options.pageSize ?? 1000,
          writeToken: options.writeToken,
        });
        return;
      }
      logged.status = hubError(response, 404, undefined, `no route for ${method} ${url.pathname}`);
    } catch (error) {
      logged.status = 500;
      if (!response.headersSent) sendJson(response, 500, { error: (error as Error).message });
      else response.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: baseUrl,
    requests,
    setRepo: (repo) => store.set(repo),
    getRepo: (name, type = "dataset") => store.get(`${type}s`, name),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
