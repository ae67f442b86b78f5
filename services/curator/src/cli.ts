/**
 * @module The `curator` command line: serve the API, migrate, run the demo, and build, list, show, verify,
 * commit and export dataset versions, all over the same registry code as the HTTP API.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { demoDataset } from "@sovereign/pipelines";
import { DatasetKind, SPLIT_NAME } from "@sovereign/schemas";
import type { InputFile } from "@sovereign/shards";
import { ConfigError, loadConfig } from "./config";
import { CuratorError } from "./errors";
import { formatBytes, Progress } from "./progress";
import type { BuildRequest, Registry, VersionInfo } from "./registry";
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
  curator verify <version>              re-hash every shard of a version (exit 1 on any mismatch)
  curator commit <version>              make a draft version immutable
  curator export <version> <dir>        write the version's files (data/, manifest.json, README.md) to a folder

A <version> is a full hash or a unique prefix of at least 6 hex digits.
Environment: DATABASE_URL, CURATOR_DATA_DIR (default ./.data), HOST, PORT, LOG_LEVEL (see README).`;

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
      const { url } = await startServer(curator);
      process.stdout.write(`curator listening on ${url} (API reference: ${url}/docs)\n`);
      return -1;
    }
    case "migrate": {
      const curator = await openCurator({ ...config, logLevel: "warn" });
      process.stdout.write(`migrations applied (${curator.database.kind}: ${curator.database.location})\n`);
      await curator.close();
      return 0;
    }
    case "demo":
      return demo(rest, config);
    default:
      return withCurator(
        { ...config, logLevel: config.logLevel === "info" ? "warn" : config.logLevel },
        (curator) => runCommand(command, rest, curator.registry),
      );
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

async function runCommand(command: string, args: string[], registry: Registry): Promise<number> {
  switch (command) {
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
      for (const s of report.shards)
        process.stdout.write(`${s.ok ? "ok " : "BAD"}  ${s.path}${s.error ? `\n     ${s.error}` : ""}\n`);
      process.stdout.write(
        report.ok
          ? `version ${hash} verified: ${report.shards.length} file(s) intact\n`
          : `version ${hash} FAILED verification: ${report.shards.filter((s) => !s.ok).length} bad file(s)\n`,
      );
      return report.ok ? 0 : 1;
    }
    case "commit": {
      const version = await registry.commitVersion(
        await registry.resolvePrefix(one(args, "commit <version>")),
      );
      process.stdout.write(`${versionLine(version)}\n`);
      return 0;
    }
    case "export":
      return exportVersion(args, registry);
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
  const progress = new Progress(`export ${hash.slice(0, 12)}`);
  for (const [i, path] of paths.entries()) {
    const file = await registry.versionFile(hash, path);
    const bytes = await registry.store.get(file.sha256, file.label);
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), bytes);
    progress.update(`${i + 1}/${paths.length} files`);
  }
  progress.done();
  process.stdout.write(`exported version ${hash} to ${dir} (${paths.length} files, every one verified)\n`);
  return 0;
}

async function demo(args: string[], config: ReturnType<typeof loadConfig>): Promise<number> {
  const { values } = parseArgs({ args, options: { "no-serve": { type: "boolean" } } });
  const curator = await openCurator(config);
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
    process.stdout.write(
      `${created ? "Built" : "Found"} dataset ${spec.name} version ${committed.hash}\n` +
        `  ${committed.stats.rows} samples (${splits}) in ${committed.stats.shards} Parquet shard(s), status ${committed.status}\n` +
        `  database: ${curator.database.kind} (${curator.database.location}), blobs: ${config.blobDir}\n`,
    );
    if (values["no-serve"]) {
      await curator.close();
      return 0;
    }
    const { url } = await startServer(curator);
    const v = `${url}/v1/versions/${committed.hash}`;
    process.stdout.write(
      `\nBrowse the samples:  ${v}/samples\n` +
        `Manifest:            ${v}/files/manifest.json\n` +
        `Dataset card:        ${v}/files/README.md\n` +
        `API reference:       ${url}/docs\n` +
        "Press Ctrl-C to stop.\n",
    );
    return -1;
  } catch (error) {
    await curator.close();
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
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
