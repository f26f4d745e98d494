import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  describeError,
  isTransientAwsError,
  RETRY_DEFAULTS,
  RetryExhaustedError,
  withRetry,
} from "./retry";

class Retryable extends Error {
  override name = "Retryable";
}
class Fatal extends Error {
  override name = "Fatal";
}

/** A fake clock: records every requested wait and returns at once. */
function fakeClock() {
  const waits: number[] = [];
  return { waits, sleep: async (ms: number) => void waits.push(ms) };
}

describe("withRetry", () => {
  it("retries retryable failures with growing, jittered, capped delays, then succeeds or gives up", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }), // failures before success
        fc.integer({ min: 0, max: 6 }), // retries allowed
        fc.integer({ min: 1, max: 1000 }), // baseMs
        fc.integer({ min: 1, max: 20_000 }), // maxMs
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 10,
          maxLength: 10,
        }),
        async (failures, retries, baseMs, maxMs, randoms) => {
          const clock = fakeClock();
          const seen: number[] = [];
          const retried: number[] = [];
          let r = 0;
          const run = withRetry(
            async (attempt) => {
              seen.push(attempt);
              if (attempt < failures) throw new Retryable(`failure ${attempt}`);
              return `ok after ${attempt}`;
            },
            {
              retries,
              baseMs,
              maxMs,
              isRetryable: (e) => e instanceof Retryable,
              onRetry: ({ attempt, delayMs, error }) => {
                retried.push(attempt);
                expect(clock.waits.length).toBe(attempt - 1); // logged before the wait
                expect(delayMs).toBe(
                  backoffDelay(attempt, baseMs, maxMs, randoms[attempt - 1] ?? 0),
                );
                expect((error as Error).message).toBe(`failure ${attempt - 1}`);
              },
              sleep: clock.sleep,
              random: () => randoms[r++] ?? 0,
            },
          );
          if (failures <= retries) {
            await expect(run).resolves.toBe(`ok after ${failures}`);
            expect(seen).toEqual(Array.from({ length: failures + 1 }, (_, i) => i));
          } else {
            const error = await run.then(
              () => expect.unreachable("must give up"),
              (e: unknown) => e,
            );
            expect(error).toBeInstanceOf(RetryExhaustedError);
            expect((error as RetryExhaustedError).attempts).toBe(retries + 1);
            expect(((error as RetryExhaustedError).cause as Error).message).toBe(
              `failure ${retries}`,
            );
            expect(seen.length).toBe(retries + 1);
          }
          const n = Math.min(failures, retries);
          expect(retried).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          expect(clock.waits.length).toBe(n);
          clock.waits.forEach((wait, i) => {
            const cap = Math.min(maxMs, baseMs * 2 ** i);
            expect(wait).toBeGreaterThanOrEqual(cap / 2);
            expect(wait).toBeLessThanOrEqual(cap);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rethrows a non-retryable error at once, unchanged, without waiting", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 5 }), async (retryableFirst) => {
        const clock = fakeClock();
        const fatal = new Fatal("no");
        let calls = 0;
        const error = await withRetry(
          async (attempt) => {
            calls++;
            throw attempt < retryableFirst ? new Retryable("again") : fatal;
          },
          { retries: 10, isRetryable: (e) => e instanceof Retryable, sleep: clock.sleep },
        ).catch((e: unknown) => e);
        expect(error).toBe(fatal);
        expect(calls).toBe(retryableFirst + 1);
        expect(clock.waits.length).toBe(retryableFirst);
      }),
      { numRuns: 100 },
    );
  });

  it("defaults to 3 retries and really waits with the real timer", async () => {
    let calls = 0;
    const error = await withRetry(
      async () => {
        calls++;
        throw new Retryable("always");
      },
      { baseMs: 1, maxMs: 2, isRetryable: () => true },
    ).catch((e: unknown) => e);
    expect(RETRY_DEFAULTS.retries).toBe(3);
    expect(calls).toBe(4);
    expect(error).toBeInstanceOf(RetryExhaustedError);
    expect(describeError(error)).toBe(
      "RetryExhaustedError: gave up after 4 attempts: Retryable: always",
    );
  });

  it("rejects a nonsensical retry count", async () => {
    await expect(
      withRetry(async () => 1, { retries: -1, isRetryable: () => true }),
    ).rejects.toThrow(RangeError);
    await expect(
      withRetry(async () => 1, { retries: 1.5, isRetryable: () => true }),
    ).rejects.toThrow(/non-negative integer/);
  });
});

describe("isTransientAwsError", () => {
  const named = (name: string, status?: number) =>
    Object.assign(new Error(name), { name, $metadata: { httpStatusCode: status } });

  it.each([
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "SlowDown",
    "TimeoutError",
  ])("retries %s", (name) => {
    expect(isTransientAwsError(named(name, 400))).toBe(true);
  });

  it("retries any 5xx and 429, and network errors, also when wrapped", () => {
    fc.assert(
      fc.property(fc.integer({ min: 500, max: 599 }), (status) =>
        isTransientAwsError(named("Whatever", status)),
      ),
    );
    expect(isTransientAwsError(named("TooMany", 429))).toBe(true);
    const reset = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    expect(isTransientAwsError(reset)).toBe(true);
    expect(isTransientAwsError(new Error("fetch failed", { cause: reset }))).toBe(true);
  });

  it("does not retry client errors", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 499 }).filter((s) => s !== 429),
        (status) => {
          for (const name of [
            "ConditionalCheckFailedException",
            "ValidationException",
            "ResourceNotFoundException",
            "AccessDeniedException",
          ]) {
            expect(isTransientAwsError(named(name, status))).toBe(false);
          }
        },
      ),
    );
    expect(isTransientAwsError("ThrottlingException")).toBe(false);
    expect(isTransientAwsError(undefined)).toBe(false);
  });
});
