/** @module The database tables, one file each; drizzle-kit generates `migrations/` from these. */
export * from "./access";
export * from "./dataset-versions";
export * from "./datasets";
export * from "./dedup-index";
export * from "./hub-pushes";
export * from "./page-sessions";
export * from "./pipeline-runs";
export * from "./rejected-records";
export * from "./review";
export * from "./samples";
export * from "./shards";
export * from "./training-runs";
