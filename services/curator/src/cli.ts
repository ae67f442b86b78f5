/**
 * @module The `curator` command line: serve the API, migrate, run the demo, and build, list, show, verify,
 * commit and export dataset versions, all over the same registry code as the HTTP API.
 */
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { TokenUsageError, tokenCommand } from "@sovereign/access";
import { demoDataset } from "@sovereign/pipelines";
import { DatasetKind, SPLIT_NAME } from "@sovereign/schemas";
import { type InputFile, removeStaleScratch, scratchName } from "@sovereign/shards";
import { parse as parseYaml } from "yaml";
import { ConfigError, loadConfig } from "./config";
import { CuratorError } from "./errors";
import { pushVersionToHub } from "./hub-push";
import { formatBytes, Progress } from "./progress";
import type { BuildRequest, Registry, VersionInfo } from "./registry";
import type { RunInfo } from "./runs";
import { type Curator, openCurator } from "./runtime";
import { startServer } from "./server";

const USAGE = `curator — Thai dataset curation: content-addressed dataset versions

Usage:
  curator serve                         start the HTTP API (PGlite under CURATOR_DATA_DIR, or DATABASE_URL)
  curator demo [--no-serve]             build and commit the demo dataset, then serve it
  curator migrate                       apply database migrations
  curator build <dataset> [split=]<file>... [--kind chat|text|rl-prompt] [--max-rejected N]
                [--description TEXT] [--parent HASH]... [--max-shard-rows N] [--max-shard-bytes N] [--commit]
                                        build a version from JSONL / Parquet files (split defaults to train)
  curator list [dataset]                list datasets, or the versions of one
  curator show <version>                a version's status, stats and shards
  curator verify <version>              re-hash the manifest, card and every shard of a version
                                        (exit 1 naming any corrupt or missing file)
  curator commit <version>              make a draft version immutable
  curator export <version> <dir>        write the version's files (data/, manifest.json, README.md) to a folder
  curator push <version> <owner/name> [--branch B] [--create] [--private] [--allow-committed] [--force]
                                        push a published version to a Hugging Face Hub dataset repo in one
                                        commit (HF_ENDPOINT, HF_TOKEN); the commit is recorded on the version
  curator stats <version>               per-step counts and rejected records by step and reason
  curator token create --role admin|curator|reviewer|pipeline|trainer --name NAME
                                        a new API token (printed once); curator token list | revoke <id>
  curator audit [--limit N] [--action A]
                                        who did what, newest first
  curator rejected <version> [--step S] [--reason R] [--modified] [--limit N]
                                        rejected (or modified) records with their location and reason

Pipelines (sources are read under CURATOR_SOURCES_DIR):
  curator pipelines                     the pipelines known by name
  curator run <pipeline | spec.json | spec.yaml | spec.ts> [--draft] [--detach]
                                        queue a run and work on it here with a progress bar (--detach: only queue)
  curator worker [--until-idle]         take queued runs (and resume runs whose worker died)
  curator runs [--status S]             recent runs
  curator cancel <run> | resume <run>   stop a run after its current unit, or go on with a stopped one

A <version> is a full hash or a unique prefix of at least 6 hex digits.
Environment: DATABASE_URL, CURATOR_DATA_DIR (default ./.data), CURATOR_SOURCES_DIR (default ./data),
HOST, PORT, LOG_LEVEL (see README).`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command ? 0 : 2;
  }
  const config = loadConfig();
  switch (command) {
    case "serve": {
      const curator = await openCurator(config);
      await curator.runs.work();
      const { url } = await startServer(curator);
      process.stdout.write(
        `curator listening on ${url} (API reference: ${url}/docs, review page: ${url}/review)\n`,
      );
      if (!config.auth)
        process.stdout.write("access control is off (CURATOR_AUTH=off): no API token is asked for\n");
      else if (!(await curator.access.listTokens()).some((t) => !t.revokedAt && t.role === "admin"))
        process.stdout.write(
          "no admin token yet: create one with `curator token create --role admin --name <you>`\n",
        );
      return -1;
    }
    case "run":
      return withCurator(quiet(config), (curator) => runPipelineCommand(rest, curator));
    case "worker":
      return worker(rest, config);
    case "migrate": {
      const curator = await openCurator({ ...config, logLevel: "warn" });
      process.stdout.write(`migrations applied (${curator.database.kind}: ${curator.database.location})\n`);
      await curator.close();
      return 0;
    }
    case "demo":
      return demo(rest, config);
    default:
      return withCurator(quiet(config), (curator) => runCommand(command, rest, curator));
  }
}

async function withCurator(config: ReturnType<typeof loadConfig>, fn: (c: Curator) => Promise<number>) {
  const curator = await openCurator(config);
  try {
    return await fn(curator);
  } finally {
    await curator.close();
  }
}

/** Commands print their own results; the service's info logs would only interleave with them. */
function quiet(config: ReturnType<typeof loadConfig>) {
  return { ...config, logLevel: config.logLevel === "info" ? ("warn" as const) : config.logLevel };
}

async function runCommand(command: string, args: string[], curator: Curator): Promise<number> {
  const { registry, runs } = curator;
  switch (command) {
    case "stats":
      return printStats(registry, await registry.resolvePrefix(one(args, "stats <version>")));
    case "token":
      return tokenCommand("curator", args, curator.access);
    case "audit": {
      const { values } = parseArgs({
        args,
        options: { limit: { type: "string" }, action: { type: "string" } },
      });
      const entries = await curator.access.audit({
        limit: values.limit ? Number(values.limit) : 50,
        ...(values.action ? { action: values.action } : {}),
      });
      for (const e of entries)
        process.stdout.write(`${e.at}\t${e.actor}\t${e.action}\t${JSON.stringify(e.target)}\n`);
      return 0;
    }
    case "rejected":
      return printRejected(args, registry);
    case "pipelines": {
      for (const name of runs.pipelineNames()) {
        const spec = runs.pipelineSpec(name);
        process.stdout.write(`${name}\t${spec.dataset.kind} → ${spec.dataset.name}\t${spec.description}\n`);
      }
      return 0;
    }
    case "runs": {
      const { values } = parseArgs({ args, options: { status: { type: "string" } } });
      const status = values.status as RunInfo["status"] | undefined;
      for (const run of await runs.list(status ? { status } : {})) process.stdout.write(`${runLine(run)}\n`);
      return 0;
    }
    case "cancel":
      process.stdout.write(`${runLine(await runs.cancel(one(args, "cancel <run>")))}\n`);
      return 0;
    case "resume":
      process.stdout.write(`${runLine(await runs.resume(one(args, "resume <run>")))}\n`);
      return 0;
    case "build":
      return build(args, registry);
    case "list": {
      const { positionals } = parseArgs({ args, allowPositionals: true });
      if (positionals.length === 0) {
        const items = await registry.listDatasets();
        if (items.length === 0) process.stdout.write("no datasets yet: try `curator build` or `npm start`\n");
        for (const d of items)
          process.stdout.write(`${d.name}\t${d.kind}\t${d.versions} version(s)\t${d.description}\n`);
        return 0;
      }
      for (const v of await registry.listVersions(positionals[0] ?? ""))
        process.stdout.write(`${versionLine(v)}\n`);
      return 0;
    }
    case "show": {
      const hash = await registry.resolvePrefix(one(args, "show <version>"));
      const version = await registry.getVersion(hash);
      const manifest = await registry.getManifest(hash);
      process.stdout.write(`${versionLine(version)}\n`);
      process.stdout.write(
        `dataset ${version.dataset} (${version.kind}), pipeline ${version.pipeline.name}\n`,
      );
      if (version.parents.length) process.stdout.write(`parents ${version.parents.join(", ")}\n`);
      for (const s of manifest.shards) {
        process.stdout.write(`  ${s.path}\t${s.rows} rows\t${formatBytes(s.bytes)}\t${s.sha256}\n`);
      }
      for (const r of manifest.rejected)
        process.stdout.write(`  ${r.path}\t${r.rows} rejected record(s)\t${r.sha256}\n`);
      return 0;
    }
    case "verify": {
      const hash = await registry.resolvePrefix(one(args, "verify <version>"));
      const progress = new Progress(`verify ${hash.slice(0, 12)}`);
      const report = await registry.verify(hash, (done, total) => progress.update(`${done}/${total} files`));
      progress.done();
      if (!report.manifest.ok)
        process.stdout.write(`MANIFEST MISMATCH: hashes to ${report.manifest.actual}\n`);
      const marks = { ok: "ok ", corrupt: "BAD", missing: "MISSING" } as const;
      for (const s of report.shards)
        process.stdout.write(`${marks[s.status]}  ${s.path}${s.error ? `\n     ${s.error}` : ""}\n`);
      const missing = report.shards.filter((s) => s.status === "missing").length;
      process.stdout.write(
        report.ok
          ? `version ${hash} verified: ${report.shards.length} file(s) intact\n`
          : `version ${hash} FAILED verification: ${report.shards.filter((s) => !s.ok).length} bad file(s)` +
              `${missing ? ` (${missing} missing)` : ""}\n`,
      );
      return report.ok ? 0 : 1;
    }
    case "commit": {
      const version = await registry.commitVersion(
        await registry.resolvePrefix(one(args, "commit <version>")),
      );
      await curator.access.record(undefined, "version.commit", { hash: version.hash });
      process.stdout.write(`${versionLine(version)}\n`);
      return 0;
    }
    case "export":
      return exportVersion(args, registry);
    case "push":
      return pushVersion(args, curator);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

function one(args: string[], usage: string): string {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`usage: curator ${usage}`);
  return positionals[0];
}

function versionLine(v: VersionInfo): string {
  return `${v.hash}\t${v.status}\t${v.stats.rows} rows\t${v.stats.shards} shard(s)\t${formatBytes(v.stats.bytes)}\t${v.createdAt}`;
}

/** `train=path.jsonl` names the split; a bare path goes to `train`. */
export function parseInputArg(arg: string): InputFile {
  const eq = arg.indexOf("=");
  if (eq > 0 && SPLIT_NAME.test(arg.slice(0, eq)))
    return { split: arg.slice(0, eq), path: resolve(arg.slice(eq + 1)) };
  return { split: "train", path: resolve(arg) };
}

function nonNegativeInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} needs a whole number, got ${JSON.stringify(value)}`);
  return n;
}

async function build(args: string[], registry: Registry): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      kind: { type: "string" },
      "max-rejected": { type: "string" },
      description: { type: "string" },
      parent: { type: "string", multiple: true },
      "max-shard-rows": { type: "string" },
      "max-shard-bytes": { type: "string" },
      commit: { type: "boolean" },
    },
  });
  const [dataset, ...files] = positionals;
  if (!dataset || files.length === 0)
    throw new UsageError("usage: curator build <dataset> [split=]<file>...");
  const existing = await registry.getDataset(dataset).catch((error) => {
    if (error instanceof CuratorError && error.code === "NOT_FOUND") return undefined;
    throw error;
  });
  if (!existing) {
    const kind = DatasetKind.safeParse(values.kind);
    if (!kind.success)
      throw new UsageError(
        `dataset ${dataset} does not exist yet: give --kind chat, text or rl-prompt to create it`,
      );
    await registry.createDataset({
      name: dataset,
      kind: kind.data,
      ...(values.description ? { description: values.description } : {}),
    });
  } else if (values.kind && values.kind !== existing.kind) {
    throw new UsageError(`dataset ${dataset} holds ${existing.kind} samples, not ${values.kind}`);
  }
  const maxRows = nonNegativeInt(values["max-shard-rows"], "--max-shard-rows");
  const maxBytes = nonNegativeInt(values["max-shard-bytes"], "--max-shard-bytes");
  const parents = await Promise.all((values.parent ?? []).map((p) => registry.resolvePrefix(p)));
  const { version, created } = await buildWithProgress(registry, dataset, {
    inputs: files.map(parseInputArg),
    maxRejected: nonNegativeInt(values["max-rejected"], "--max-rejected") ?? 0,
    parents,
    ...(values.description ? { description: values.description } : {}),
    limits: { ...(maxRows ? { maxRows } : {}), ...(maxBytes ? { maxBytes } : {}) },
  });
  const final = values.commit ? await registry.commitVersion(version.hash) : version;
  process.stdout.write(`${created ? "built" : "already existed"}: ${versionLine(final)}\n`);
  if (final.stats.rejected) {
    process.stdout.write(
      `${final.stats.rejected} record(s) rejected and kept under rejected/ (see \`curator show\`)\n`,
    );
  }
  return 0;
}

async function buildWithProgress(registry: Registry, dataset: string, request: BuildRequest) {
  const progress = new Progress(`build ${dataset}`);
  try {
    return await registry.buildVersion(dataset, {
      ...request,
      onProgress: (p) =>
        progress.update(
          p.phase === "shards"
            ? `${p.accepted} rows, ${p.rejected} rejected, ${p.shards} shard(s), ${formatBytes(p.shardBytes)}`
            : `indexing samples ${p.indexed ?? 0}/${p.accepted}`,
        ),
    });
  } finally {
    progress.done();
  }
}

async function pushVersion(args: string[], curator: Curator): Promise<number> {
  const { registry } = curator;
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      branch: { type: "string" },
      create: { type: "boolean" },
      private: { type: "boolean" },
      "allow-committed": { type: "boolean" },
      force: { type: "boolean" },
    },
  });
  if (positionals.length !== 2)
    throw new UsageError(
      "usage: curator push <version> <owner/name> [--branch B] [--create] [--private] [--allow-committed] [--force]",
    );
  const hash = await registry.resolvePrefix(positionals[0] ?? "");
  const progress = new Progress(`push ${hash.slice(0, 12)}`);
  const push = await pushVersionToHub(registry, hash, {
    repo: positionals[1] ?? "",
    ...(values.branch ? { branch: values.branch } : {}),
    ...(process.env.HF_ENDPOINT ? { endpoint: process.env.HF_ENDPOINT } : {}),
    ...(process.env.HF_TOKEN ? { token: process.env.HF_TOKEN } : {}),
    create: values.create ?? false,
    private: values.private ?? false,
    allowCommitted: values["allow-committed"] ?? false,
    force: values.force ?? false,
    onProgress: (e) =>
      progress.update(
        e.path ? `${e.phase} ${e.path} ${Math.round((e.progress ?? 0) * 100)}%` : e.phase,
        !e.path,
      ),
  });
  progress.done();
  if (!push.alreadyPushed)
    await curator.access.record(undefined, "version.push", { hash, repo: push.repo, commit: push.commit });
  process.stdout.write(
    push.alreadyPushed
      ? `version ${hash} was already pushed to ${push.repo}@${push.branch}: commit ${push.commit} (--force pushes again)\n`
      : `pushed version ${hash} to ${push.endpoint}/datasets/${push.repo} (${push.branch}): commit ${push.commit}, ${push.files.length} files\n`,
  );
  return 0;
}

async function exportVersion(args: string[], registry: Registry): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true });
  if (positionals.length !== 2) throw new UsageError("usage: curator export <version> <dir>");
  const hash = await registry.resolvePrefix(positionals[0] ?? "");
  const dir = resolve(positionals[1] ?? ".");
  const manifest = await registry.getManifest(hash);
  const paths = [
    "manifest.json",
    "README.md",
    ...manifest.shards.map((s) => s.path),
    ...manifest.rejected.map((r) => r.path),
  ];
  await assertExportTarget(dir);
  // Written beside the target and renamed into place at the end, so a failed export leaves no partial folder.
  const partial = `.${basename(dir)}.partial-`;
  await removeStaleScratch(dirname(dir), partial, "-");
  const temporary = join(dirname(dir), scratchName(partial, "-"));
  const progress = new Progress(`export ${hash.slice(0, 12)}`);
  try {
    for (const [i, path] of paths.entries()) {
      const file = await registry.versionFile(hash, path);
      const bytes = await registry.store.get(file.sha256, file.label);
      await mkdir(dirname(join(temporary, path)), { recursive: true });
      await writeFile(join(temporary, path), bytes);
      progress.update(`${i + 1}/${paths.length} files`);
    }
    await assertExportTarget(dir);
    await rmdir(dir).catch(() => {});
    await rename(temporary, dir);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  } finally {
    progress.done();
  }
  process.stdout.write(`exported version ${hash} to ${dir} (${paths.length} files, every one verified)\n`);
  return 0;
}

/** An export goes to a new or empty folder: one with files in it is refused, never mixed with or replaced. */
async function assertExportTarget(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    if (error.code === "ENOTDIR")
      throw new CuratorError("CONFLICT", `export: ${dir} is a file, not a folder`);
    throw error;
  });
  if (entries.length)
    throw new CuratorError(
      "CONFLICT",
      `export: ${dir} is not empty; give a new or empty folder (nothing was written)`,
    );
}

async function demo(args: string[], config: ReturnType<typeof loadConfig>): Promise<number> {
  const { values } = parseArgs({ args, options: { "no-serve": { type: "boolean" } } });
  // The demo serves on this machine for a look around, so its links open in a browser without a token.
  const curator = await openCurator({ ...config, auth: false });
  const { registry } = curator;
  const spec = demoDataset;
  try {
    await registry.getDataset(spec.name).catch(async (error) => {
      if (!(error instanceof CuratorError && error.code === "NOT_FOUND")) throw error;
      await registry.createDataset({ name: spec.name, kind: spec.kind, description: spec.description });
    });
    const { version, created } = await buildWithProgress(registry, spec.name, { inputs: spec.inputs });
    const committed = await registry.commitVersion(version.hash);
    const splits = Object.entries(committed.stats.splits)
      .map(([name, s]) => `${name} ${s.rows}`)
      .join(", ");
    // A review queue over the demo version, so the review page has something to show.
    const queue =
      (await curator.reviews.list()).find((q) => q.version === committed.hash) ??
      (await curator.reviews.create(committed.hash, {
        name: "demo review",
        plan: { strata: "source", size: 10, seed: 0 },
        reviewsPerItem: 1,
        leaseSeconds: 600,
      }));
    process.stdout.write(
      `${created ? "Built" : "Found"} dataset ${spec.name} version ${committed.hash}\n` +
        `  ${committed.stats.rows} samples (${splits}) in ${committed.stats.shards} Parquet shard(s), status ${committed.status}\n` +
        `  review queue "${queue.name}": ${queue.items} items, ${queue.progress.complete} reviewed\n` +
        `  database: ${curator.database.kind} (${curator.database.location}), blobs: ${config.blobDir}\n`,
    );
    if (values["no-serve"]) {
      await curator.close();
      return 0;
    }
    await curator.runs.work();
    const { url } = await startServer(curator);
    const v = `${url}/v1/versions/${committed.hash}`;
    process.stdout.write(
      `\nBrowse the samples:  ${v}/samples\n` +
        `Manifest:            ${v}/files/manifest.json\n` +
        `Dataset card:        ${v}/files/README.md\n` +
        `API reference:       ${url}/docs\n` +
        `Review page:         ${url}/review\n` +
        "Press Ctrl-C to stop.\n",
    );
    return -1;
  } catch (error) {
    await curator.close();
    throw error;
  }
}

function runLine(run: RunInfo): string {
  const version = run.versionHash ? `\tversion ${run.versionHash}` : "";
  const error = run.error ? `\t${run.error.split("\n")[0]}` : "";
  return `${run.id}\t${run.status}\t${run.pipeline}\t${run.createdAt}${version}${error}`;
}

const number = (n: number) => Math.round(n).toLocaleString("en-US");

/** One line of a run's progress: where it is, how much is done, how fast, how long left. */
export function describeProgress(run: RunInfo): string {
  const p = run.progress;
  if (!p) return run.status;
  if (p.phase === "reading") {
    const done = p.bytesTotal > 0 ? Math.min(1, p.bytesRead / p.bytesTotal) : undefined;
    const share =
      done !== undefined ? ` ${bar(done)} ${Math.round(100 * done)}% of ${formatBytes(p.bytesTotal)},` : "";
    const eta = p.etaSeconds !== null ? `, about ${Math.ceil(p.etaSeconds)}s left` : "";
    return `reading${share} ${number(p.recordsRead)} records, kept ${number(p.kept)}, rejected ${number(p.rejected)}, ${number(p.rate)} records/s${eta}`;
  }
  const of = p.phaseTotal
    ? ` ${bar((p.phaseDone ?? 0) / p.phaseTotal)} ${number(p.phaseDone ?? 0)}/${number(p.phaseTotal)}`
    : "";
  return `${p.phase}${of}: ${number(p.recordsRead)} records read, kept ${number(p.kept)}, rejected ${number(p.rejected)}`;
}

/** `[######--------------]`: a share done, as a bar of 20 cells. */
function bar(share: number): string {
  const cells = Math.round(Math.max(0, Math.min(1, share)) * 20);
  return `[${"#".repeat(cells)}${"-".repeat(20 - cells)}]`;
}

async function loadSpecArg(arg: string): Promise<{ pipeline: string } | { spec: unknown }> {
  if (!/\.(json|ya?ml|[cm]?[jt]s)$/.test(arg)) return { pipeline: arg };
  const path = resolve(arg);
  if (/\.[cm]?[jt]s$/.test(arg)) {
    const module = (await import(pathToFileURL(path).href)) as { default?: unknown; spec?: unknown };
    const spec = module.default ?? module.spec;
    if (!spec) throw new UsageError(`${arg} exports no pipeline spec (export it as \`default\` or \`spec\`)`);
    return { spec };
  }
  const text = await readFile(path, "utf8");
  try {
    return { spec: /\.json$/.test(arg) ? JSON.parse(text) : parseYaml(text) };
  } catch (error) {
    throw new UsageError(
      `${arg} is not valid ${/\.json$/.test(arg) ? "JSON" : "YAML"}: ${(error as Error).message}`,
    );
  }
}

async function runPipelineCommand(args: string[], curator: Curator): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { draft: { type: "boolean" }, detach: { type: "boolean" } },
  });
  if (positionals.length !== 1 || !positionals[0])
    throw new UsageError("usage: curator run <pipeline | spec file> [--draft] [--detach]");
  const what = await loadSpecArg(positionals[0]);
  // The operator's own spec on the operator's machine: its sources read whatever this user may.
  const run = await curator.runs.submit({ ...what, commit: !values.draft, origin: "operator" });
  process.stdout.write(`queued run ${run.id} (${run.pipeline} → ${run.dataset})\n`);
  if (values.detach) return 0;
  await curator.runs.work();
  const progress = new Progress(`run ${run.pipeline}`);
  const stop = () => {
    progress.update("cancelling after the current unit…", true);
    void curator.runs.cancel(run.id).catch(() => {});
  };
  process.once("SIGINT", stop);
  let final: RunInfo;
  try {
    final = await curator.runs.waitFor(run.id, (r) => progress.update(describeProgress(r)));
  } finally {
    process.off("SIGINT", stop);
    progress.done();
  }
  if (final.status === "succeeded" && final.versionHash) {
    const version = await curator.registry.getVersion(final.versionHash);
    process.stdout.write(`run ${final.id} succeeded: ${versionLine(version)}\n`);
    await printStats(curator.registry, final.versionHash);
    return 0;
  }
  process.stdout.write(`run ${final.id} ${final.status}${final.error ? `:\n${final.error}` : ""}\n`);
  return 1;
}

async function worker(args: string[], config: ReturnType<typeof loadConfig>): Promise<number> {
  const { values } = parseArgs({ args, options: { "until-idle": { type: "boolean" } } });
  const curator = await openCurator(config);
  await curator.runs.work();
  process.stderr.write("curator worker: taking pipeline runs\n");
  const shutdown = async () => {
    await curator.close();
    process.exit(0);
  };
  process.once("SIGTERM", shutdown);
  process.once("SIGINT", shutdown);
  if (!values["until-idle"]) return -1;
  // Idle: nothing queued or running for two polls in a row (a run queued again by recovery counts as queued).
  let idle = 0;
  while (idle < 2) {
    await new Promise((r) => setTimeout(r, 500));
    const pending = [
      ...(await curator.runs.list({ status: "queued" })),
      ...(await curator.runs.list({ status: "running" })),
      ...(await curator.runs.list({ status: "cancelling" })),
    ];
    idle = pending.length === 0 ? idle + 1 : 0;
  }
  await curator.close();
  return 0;
}

async function printStats(registry: Registry, hash: string): Promise<number> {
  const stats = await registry.versionStats(hash);
  const splits = Object.entries(stats.splits)
    .map(([name, s]) => `${name} ${s.rows}${s.tokens !== undefined ? ` (${number(s.tokens)} tokens)` : ""}`)
    .join(", ");
  process.stdout.write(
    `version ${hash}: ${stats.rows} rows (${splits}), ${stats.rejected} rejected or modified record(s)\n`,
  );
  if (stats.tokenizer) process.stdout.write(`tokenizer ${stats.tokenizer}\n`);
  if (stats.steps.length) {
    process.stdout.write("step\tin\tout\tmodified\tflagged\tdropped\n");
    for (const s of stats.steps) {
      const dropped = Object.entries(s.dropped)
        .map(([r, n]) => `${r} ${n}`)
        .join(", ");
      process.stdout.write(`${s.step}\t${s.in}\t${s.out}\t${s.modified}\t${s.flagged}\t${dropped || "-"}\n`);
    }
  }
  if (stats.reasons.length) {
    process.stdout.write("rejected by step and reason:\n");
    for (const r of stats.reasons)
      process.stdout.write(`  ${r.step}\t${r.reason}\t${r.action}\t${r.count}\n`);
  }
  return 0;
}

async function printRejected(args: string[], registry: Registry): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      step: { type: "string" },
      reason: { type: "string" },
      modified: { type: "boolean" },
      limit: { type: "string" },
    },
  });
  if (positionals.length !== 1)
    throw new UsageError("usage: curator rejected <version> [--step S] [--reason R]");
  const hash = await registry.resolvePrefix(positionals[0] ?? "");
  const page = await registry.browseRejected(hash, {
    limit: nonNegativeInt(values.limit, "--limit") || 20,
    ...(values.step ? { step: values.step } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
    ...(values.modified ? { action: "modified" } : {}),
  });
  for (const r of page.items) {
    process.stdout.write(`${r.location}\t${r.step}\t${r.action}\t${r.reason}\t${r.message}\n`);
  }
  if (page.nextCursor !== null)
    process.stdout.write("… more: raise --limit, or page through GET /v1/versions/{hash}/rejected\n");
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof TokenUsageError) {
      process.stderr.write(`curator: ${error.message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (error instanceof ConfigError || error instanceof CuratorError) {
      process.stderr.write(`curator: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`curator: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
