/**
 * @module Which process a lock file or a scratch file belongs to, and whether that process still runs. A pid
 * alone says too little: after a restart (a container's process is pid 1 again) the pid names another process,
 * so an owner is its pid and the process's start time (on Linux, field 22 of /proc/<pid>/stat, in clock ticks
 * since boot; elsewhere the pid alone). Scratch names also carry the host, hashed: a data folder on a shared
 * volume is seen by processes in other pid namespaces, whose pids say nothing here, and their files are left
 * alone.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readdir, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

export type ProcessOwner = {
  pid: number;
  /** The process's start time; undefined where it cannot be read (not Linux, or an older name). */
  startTime?: string | undefined;
  /** The host's tag; undefined in older names, which were all made here. */
  host?: string | undefined;
};

/** A process's start time (field 22 of /proc/<pid>/stat), or undefined off Linux or when there is no such process. */
export function processStartTime(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted from its closing one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const start = fields[19];
  return start && /^\d+$/.test(start) ? start : undefined;
}

const HOST = createHash("sha256").update(hostname()).digest("hex").slice(0, 8);
let self: ProcessOwner | undefined;

/** This process. */
export function thisProcess(): ProcessOwner {
  self ??= { pid: process.pid, startTime: processStartTime(process.pid), host: HOST };
  return self;
}

/** Whether a process that may still hold a lock or scratch runs: its pid is alive and started when recorded. */
export function isRunning(owner: ProcessOwner): boolean {
  // Another host's process cannot be asked: it counts as running.
  if (owner.host !== undefined && owner.host !== HOST) return true;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (owner.startTime === undefined) return true;
  const now = processStartTime(owner.pid);
  return now === undefined || now === owner.startTime;
}

/**
 * A scratch name owned by this process: `<prefix><pid>.<start>.<host><separator><random hex>`, e.g.
 * `build-1234.987654.a1b2c3d4-5e6f…`. `removeStaleScratch` recognises it, and the older
 * `<prefix><pid><separator><hex>` names, made before owners carried a start time.
 */
export function scratchName(prefix: string, separator: "-" | "."): string {
  const { pid, startTime, host } = thisProcess();
  return `${prefix}${pid}.${startTime ?? "0"}.${host}${separator}${randomBytes(6).toString("hex")}`;
}

/** The owner in a scratch name `<prefix><owner><separator><hex>`, or undefined for a name of another shape. */
export function scratchOwner(
  name: string,
  prefix: string | RegExp,
  separator: "-" | ".",
): ProcessOwner | undefined {
  const start = typeof prefix === "string" ? prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : prefix.source;
  const sep = separator === "." ? "\\." : "-";
  const match = new RegExp(`^${start}(\\d+)(?:\\.(\\d+)\\.([0-9a-f]{8}))?${sep}[0-9a-f]{8,12}$`).exec(name);
  if (!match) return undefined;
  const [, pid, startTime, host] = match;
  return { pid: Number(pid), startTime: startTime === "0" ? undefined : startTime, host };
}

/**
 * Remove the entries of `dir` named `<prefix><owner><separator><hex>` (`scratchName`) whose owner no longer
 * runs: scratch that a killed process (`kill -9`, a crash, a lost container) left behind. Entries of running
 * processes, of other hosts and of other shapes are kept. Answers what was removed, with its size.
 */
export async function removeStaleScratch(
  dir: string,
  /** The names' fixed start: a string as it is, or a pattern. */
  prefix: string | RegExp,
  separator: "-" | ".",
): Promise<{ path: string; bytes: number }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: { path: string; bytes: number }[] = [];
  for (const name of names) {
    const owner = scratchOwner(name, prefix, separator);
    if (!owner || isRunning(owner)) continue;
    const path = join(dir, name);
    const bytes = await sizeOf(path);
    await rm(path, { recursive: true, force: true });
    removed.push({ path, bytes });
  }
  return removed;
}

async function sizeOf(path: string): Promise<number> {
  const s = await stat(path).catch(() => undefined);
  if (!s?.isDirectory()) return s?.size ?? 0;
  let total = 0;
  for (const entry of await readdir(path).catch(() => [] as string[]))
    total += await sizeOf(join(path, entry));
  return total;
}
