/** @module The teacher client: chat completions from OpenAI-compatible servers, with retries, a cache and a budget. */
export * from "./backoff";
export * from "./cache";
export * from "./client";
export * from "./endpoints";
export * from "./errors";
