/** @module Serve the trainer app over HTTP: the engine URL is known once the port is, and the supervisor starts then. */
import { type ServerType, serve } from "@hono/node-server";
import type { Trainer } from "./runtime";

export function startServer(trainer: Trainer): Promise<{ server: ServerType; port: number; url: string }> {
  const { config } = trainer;
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: trainer.app.fetch, port: config.port, hostname: config.host }, (info) => {
      const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${info.port}`;
      trainer.supervisor.engineUrl = config.engineUrl?.replace(/\/$/, "") ?? url;
      trainer.logger.info({ url, database: trainer.database.kind }, "trainer listening");
      resolve({ server, port: info.port, url });
    });
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${config.port} on ${config.host} is in use: set TRAINER_PORT to another port`)
          : error,
      );
    });
  });
}

/** Close the trainer (engines are stopped and their runs queued again), then the server, on SIGINT/SIGTERM. */
export function closeOnSignals(trainer: Trainer, server: ServerType): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    trainer.logger.info({ signal }, "shutting down");
    // Engines first: a stopped engine still reports its last checkpoint to this server before it exits.
    trainer.close().then(
      () => server.close(() => process.exit(0)),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", () => shutdown("SIGINT"));
  process.once("SIGTERM", () => shutdown("SIGTERM"));
}
