/**
 * @module The teacher client: chat completions from OpenAI-compatible servers, with retries, a cache and a budget;
 * and the operator's named teacher endpoints, as a service's environment gives them.
 */
export * from "./backoff";
export * from "./cache";
export * from "./client";
export * from "./endpoints";
export * from "./endpoints-config";
export * from "./errors";
