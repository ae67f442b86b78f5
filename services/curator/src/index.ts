/** @module The curator as a library: configuration, wiring, the registry and the HTTP app. */
export { createApp } from "./app";
export { type CuratorConfig, loadConfig } from "./config";
export { CuratorError, type ErrorCode } from "./errors";
export { Registry, type VersionInfo } from "./registry";
export { type Curator, openCurator } from "./runtime";
