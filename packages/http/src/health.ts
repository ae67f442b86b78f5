/**
 * @module `GET /health` of the services: public, so it says only whether the service can serve, never where
 * its database is. It asks the database (`SELECT 1`) and answers 503 when no answer comes in time; the reason
 * goes to the log.
 */
import type { Logger } from "pino";
import { ServiceError } from "./errors";

/** How long the database has to answer before the service counts as down. */
export const HEALTH_TIMEOUT_MS = 5_000;

/** Resolves when `probe` (a `SELECT 1`) answers in time, else throws `UNAVAILABLE` (503). */
export async function checkHealth(probe: () => Promise<unknown>, logger: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${HEALTH_TIMEOUT_MS} ms`)),
      HEALTH_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([probe(), late]);
  } catch (error) {
    logger.error({ err: error }, "health check: the database does not answer");
    throw new ServiceError("UNAVAILABLE", "the service cannot serve: its database does not answer");
  } finally {
    clearTimeout(timer);
  }
}
