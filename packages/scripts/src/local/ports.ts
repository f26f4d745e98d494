/**
 * Ports and readiness for the local stage.
 *
 * - `freePort()` asks the kernel for an unused TCP port (listen on 0, read it, close). Tests use
 *   it so servers never collide; the port may in theory be taken again before it is used, which
 *   the server's own start then reports.
 * - `assertPortFree(port)` fails with "port N is busy" when something already listens there, so a
 *   second `npm start` on a busy port exits non-zero with a clear message instead of half-starting.
 * - `waitFor(check, { timeoutMs, what })` polls a readiness check until it answers true and
 *   fails with a message naming what it waited for.
 */
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** An unused TCP port on `host`, chosen by the kernel. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error(`cannot read the port of a listening socket on ${host}`));
        return;
      }
      const { port } = address;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/** Resolves if nothing listens on `host:port`; rejects with "port N is busy" otherwise. */
export function assertPortFree(port: number, host = "127.0.0.1"): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) => {
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} is busy (on ${host}): is another local stack running?`)
          : new Error(`cannot listen on ${host}:${port}: ${error.message}`),
      );
    });
    server.listen({ port, host, exclusive: true }, () => {
      server.close((error) => (error ? reject(error) : resolve()));
    });
  });
}

export interface WaitForOptions {
  /** Give up after this long. */
  readonly timeoutMs: number;
  /** What is awaited, for the error message ("DynamoDB Local on port 8000"). */
  readonly what: string;
  /** Pause between checks. */
  readonly intervalMs?: number;
  /** Stop early (e.g. the server process exited): the reason becomes the error. */
  readonly abort?: () => string | undefined;
}

/**
 * Polls `check` until it resolves true. A check that throws counts as "not yet" (a server that
 * is still starting refuses connections); the last such error is quoted if time runs out.
 */
export async function waitFor(
  check: () => Promise<boolean>,
  { timeoutMs, what, intervalMs = 100, abort }: WaitForOptions,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const reason = abort?.();
    if (reason !== undefined) throw new Error(`${what} did not become ready: ${reason}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await sleep(intervalMs);
  }
}
