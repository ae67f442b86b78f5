/** @module The database tables, one file each; drizzle-kit generates `migrations/` from these. */
export * from "./dataset-versions";
export * from "./datasets";
export * from "./samples";
export * from "./shards";
