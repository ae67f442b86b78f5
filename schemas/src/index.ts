/** @module The project's contracts: sample rows, Arrow column types, the manifest, and the database tables. */
export * as api from "./api";
export * from "./arrow";
export * as tables from "./db/index";
export * from "./json-limits";
export * from "./manifest";
export * from "./pipeline";
export * from "./samples";
export * from "./sources";
export * from "./training";
