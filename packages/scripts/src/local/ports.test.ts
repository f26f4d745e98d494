import { createServer, type Server } from "node:net";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assertPortFree, freePort, waitFor } from "./ports";

function listen(port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port, host }, () => resolve(server));
  });
}
function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
}

describe("freePort", () => {
  it("returns a port that can be listened on", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
    const server = await listen(port, "127.0.0.1");
    await close(server);
  });
});

describe("assertPortFree", () => {
  it("accepts a free port", async () => {
    await expect(assertPortFree(await freePort())).resolves.toBeUndefined();
  });

  it.each(["127.0.0.1", "0.0.0.0"])("names a port busy on %s", async (host) => {
    const port = await freePort();
    const server = await listen(port, host);
    try {
      await expect(assertPortFree(port)).rejects.toThrow(`port ${port} is busy`);
    } finally {
      await close(server);
    }
    // And free again once the other listener is gone.
    await expect(assertPortFree(port)).resolves.toBeUndefined();
  });
});

describe("waitFor", () => {
  it("resolves on the first true answer, counting failures as not-yet", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom("false", "throw"), { maxLength: 20 }),
        async (before) => {
          let calls = 0;
          await waitFor(
            async () => {
              const answer = before[calls];
              calls += 1;
              if (answer === "throw") throw new Error("refused");
              return answer === undefined;
            },
            { timeoutMs: 60_000, what: "x", intervalMs: 0 },
          );
          expect(calls).toBe(before.length + 1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("times out naming what it waited for and the last error", async () => {
    await expect(
      waitFor(
        async () => {
          throw new Error("ECONNREFUSED");
        },
        { timeoutMs: 30, what: "the thing on port 1", intervalMs: 5 },
      ),
    ).rejects.toThrow(
      /timed out after 30 ms waiting for the thing on port 1 \(last error: ECONNREFUSED\)/,
    );
  });

  it("stops at once when aborted, with the reason", async () => {
    let calls = 0;
    await expect(
      waitFor(
        async () => {
          calls += 1;
          return false;
        },
        {
          timeoutMs: 60_000,
          what: "server",
          intervalMs: 0,
          abort: () => (calls >= 3 ? "it exited" : undefined),
        },
      ),
    ).rejects.toThrow("server did not become ready: it exited");
    expect(calls).toBe(3);
  });
});
