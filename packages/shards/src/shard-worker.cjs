/** @module Worker thread entry: Node cannot load TypeScript in a worker by itself, so tsx is registered first. */
// CommonJS and tsx's require hook rather than its ESM loader: starting two workers took 2.4 s of CPU through
// the ESM loader (which runs every import through a hooks thread of its own) and 1.1 s this way.
require("tsx/cjs/api").register();
require("./shard-worker.ts");
