/** @module Worker thread body: encodes shards for the builder and posts each result back. */
import { parentPort } from "node:worker_threads";
import { ownBuffer, runShardJob, type ShardJob } from "./shard-jobs";
import type { WorkerReply } from "./worker-pool";

const port = parentPort;
if (!port) throw new Error("shard-worker runs as a worker thread only");

port.on("message", (job: ShardJob) => {
  let reply: WorkerReply<unknown>;
  const transfer: ArrayBuffer[] = [];
  try {
    const result = runShardJob(job);
    // Moved, not copied: the shard's bytes are the one large thing in the reply.
    const bytes = ownBuffer(result.bytes);
    result.bytes = bytes;
    transfer.push(bytes.buffer);
    reply = { ok: true, result };
  } catch (error) {
    const { name, message, stack } = error instanceof Error ? error : new Error(String(error));
    reply = { ok: false, error: { name, message, ...(stack ? { stack } : {}) } };
  }
  port.postMessage(reply, transfer);
});
