/** @module A small pool of worker threads, one job at a time each: started on first use, stopped with `close`. */
import { availableParallelism } from "node:os";
import { type TransferListItem, Worker } from "node:worker_threads";

/** Worker threads to use when a caller does not say: the cores there are, at most 4. */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** What a worker posts back for each job it was given. */
export type WorkerReply<T> =
  | { ok: true; result: T }
  | { ok: false; error: { name: string; message: string; stack?: string } };

type Job = {
  /** Dropped once posted: the worker has its own copy, and a shard's rows are the size of a shard. */
  message?: unknown;
  transfer: TransferListItem[];
  resolve: (result: never) => void;
  reject: (error: Error) => void;
};

export class WorkerPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  /** Set by a worker's 'error' event, reported when that worker exits. */
  private readonly crashes = new Map<Worker, Error>();
  private closed = false;

  /**
   * @param entry the worker's module: it answers every message with one `WorkerReply`.
   * @param what what the pool is for, opening its own error messages.
   */
  constructor(
    private readonly entry: URL,
    private readonly size: number,
    private readonly what: string,
  ) {
    if (!Number.isInteger(size) || size < 1)
      throw new Error(`${what}: worker count must be a positive integer`);
  }

  /** Run one job on the next free worker; `transfer` lists buffers to move rather than copy. */
  run<T>(message: unknown, transfer: TransferListItem[] = []): Promise<T> {
    if (this.closed)
      return Promise.reject(new Error(`${this.what}: the worker threads were already stopped`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ message, transfer, resolve: resolve as (result: never) => void, reject });
      this.dispatch();
    });
  }

  /** Start the workers ahead of the first job, so their start-up overlaps the caller's work. */
  start(): void {
    while (!this.closed && this.idle.length + this.busy.size < this.size) {
      const worker = this.spawn();
      worker.unref();
      this.idle.push(worker);
    }
  }

  /** Stop every worker; jobs not finished yet are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0))
      job.reject(new Error(`${this.what}: stopped before the job started`));
    await Promise.all([...this.idle, ...this.busy.keys()].map((worker) => worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker =
        this.idle.pop() ?? (this.idle.length + this.busy.size < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const job = this.queue.shift() as Job;
      this.busy.set(worker, job);
      // Only a worker with a job holds the process open: a pool its owner forgot to close cannot hang an exit.
      worker.ref();
      try {
        worker.postMessage(job.message, job.transfer);
      } catch (error) {
        // A message that cannot be cloned (nested too deep, say) fails its job, not the pool.
        this.busy.delete(worker);
        this.idle.push(worker);
        worker.unref();
        job.reject(error as Error);
      }
      job.message = undefined;
      job.transfer = [];
    }
  }

  private spawn(): Worker {
    // Not the caller's Node options: under the tsx CLI they would start tsx's ESM loader in every worker too,
    // which a CommonJS entry does not use, for about 0.2 s of CPU each.
    const worker = new Worker(this.entry, { execArgv: [] });
    worker.on("message", (reply: WorkerReply<never>) => {
      const job = this.busy.get(worker);
      if (!job) return;
      this.busy.delete(worker);
      this.idle.push(worker);
      worker.unref();
      if (reply.ok) job.resolve(reply.result);
      else job.reject(Object.assign(new Error(reply.error.message), reply.error));
      this.dispatch();
    });
    worker.on("error", (error) => this.crashes.set(worker, error));
    worker.on("exit", (code) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at !== -1) this.idle.splice(at, 1);
      const crash = this.crashes.get(worker);
      this.crashes.delete(worker);
      if (job) {
        job.reject(
          this.closed
            ? new Error(`${this.what}: stopped before the job finished`)
            : new Error(
                `${this.what}: a worker thread ${crash ? `failed: ${crash.message}` : `exited with code ${code}`}`,
                { cause: crash },
              ),
        );
      }
      // A replacement worker picks up whatever is still queued.
      if (!this.closed) this.dispatch();
    });
    return worker;
  }
}
