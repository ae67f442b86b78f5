/** @module What the services' HTTP apps share: the app factory with request ids, logs and one error shape. */
export * from "./app";
export * from "./auth";
export * from "./errors";
export * from "./health";
