/** @module Serve the curator app over HTTP until SIGINT/SIGTERM, then close the database cleanly. */
import { type ServerType, serve } from "@hono/node-server";
import type { Curator } from "./runtime";

export function baseUrl(curator: Curator, port: number): string {
  if (curator.config.publicUrl) return curator.config.publicUrl.replace(/\/$/, "");
  const host =
    curator.config.host === "0.0.0.0" || curator.config.host === "::" ? "127.0.0.1" : curator.config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

export function startServer(curator: Curator): Promise<{ server: ServerType; port: number; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve(
      { fetch: curator.app.fetch, port: curator.config.port, hostname: curator.config.host },
      (info) => {
        const url = baseUrl(curator, info.port);
        curator.logger.info({ url, database: curator.database.kind }, "curator listening");
        resolve({ server, port: info.port, url });
      },
    );
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `port ${curator.config.port} on ${curator.config.host} is in use: set PORT to another port`,
            )
          : error,
      );
    });
    let closing = false;
    const shutdown = (signal: string) => {
      if (closing) return;
      closing = true;
      curator.logger.info({ signal }, "shutting down");
      server.close(() => {
        curator.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
      setTimeout(() => process.exit(1), 10_000).unref();
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
  });
}
