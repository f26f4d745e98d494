// Retries with exponential backoff and jitter, for any AWS call (DynamoDB here, S3 elsewhere).
//
// The delay before retry n (1-based) is drawn uniformly from [cap/2, cap] with
// cap = min(maxMs, baseMs * 2^(n-1)) ("equal jitter"): clients that failed together spread out,
// yet every wait still grows, so a throttled table gets real relief.
//
// The AWS SDK retries on its own too (its `maxAttempts`, 3 by default): the two layers multiply.
// Build clients that go through withRetry with `maxAttempts: 1` so that this layer, which knows
// the operation and the key and logs them, is the only one.
import { setTimeout as sleepMs } from "node:timers/promises";

export interface RetryInfo {
  /** The retry about to happen: 1 for the first retry. */
  readonly attempt: number;
  /** How long we wait before it. */
  readonly delayMs: number;
  /** What the failed attempt threw. */
  readonly error: unknown;
}

export interface RetryOptions {
  /** Retries after the first attempt (so at most retries + 1 calls). Default 3. */
  readonly retries?: number;
  /** The first retry's delay cap. Default 100 ms. */
  readonly baseMs?: number;
  /** No delay exceeds this. Default 5000 ms. */
  readonly maxMs?: number;
  /** Which errors are worth another attempt; any other is rethrown at once, unchanged. */
  readonly isRetryable: (error: unknown) => boolean;
  /** Called before each wait (log here). */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Injected in tests (a fake clock); defaults to a real timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Uniform in [0, 1); injected in tests. Defaults to Math.random. */
  readonly random?: () => number;
}

export const RETRY_DEFAULTS = { retries: 3, baseMs: 100, maxMs: 5000 } as const;

/** Thrown when every attempt failed with a retryable error; `cause` is the last one. */
export class RetryExhaustedError extends Error {
  constructor(
    readonly attempts: number,
    override readonly cause: unknown,
  ) {
    super(`gave up after ${attempts} attempts: ${describeError(cause)}`, { cause });
    this.name = "RetryExhaustedError";
  }
}

/** The delay before retry `attempt` (1-based), for a uniform `r` in [0, 1). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, r: number): number {
  const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return cap / 2 + (r * cap) / 2;
}

/**
 * Runs `fn` until it succeeds, it throws a non-retryable error (rethrown as is), or `retries`
 * retries have failed too (RetryExhaustedError with the last error as its cause). `fn` gets the
 * attempt number, 0 for the first call.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const retries = options.retries ?? RETRY_DEFAULTS.retries;
  const baseMs = options.baseMs ?? RETRY_DEFAULTS.baseMs;
  const maxMs = options.maxMs ?? RETRY_DEFAULTS.maxMs;
  if (!Number.isInteger(retries) || retries < 0) {
    throw new RangeError(`retries must be a non-negative integer, got ${retries}`);
  }
  if (!(baseMs >= 0 && maxMs >= 0)) {
    throw new RangeError(`baseMs and maxMs must be non-negative, got ${baseMs} and ${maxMs}`);
  }
  const sleep = options.sleep ?? ((ms: number) => sleepMs(ms).then(() => undefined));
  const random = options.random ?? Math.random;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (!options.isRetryable(error)) throw error;
      if (attempt >= retries) throw new RetryExhaustedError(attempt + 1, error);
      const delayMs = backoffDelay(attempt + 1, baseMs, maxMs, random());
      options.onRetry?.({ attempt: attempt + 1, delayMs, error });
      await sleep(delayMs);
    }
  }
}

const TRANSIENT_NAMES = new Set([
  // DynamoDB
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
  "LimitExceededException",
  // S3 and the SDK's own
  "SlowDown",
  "InternalError",
  "ServiceUnavailableException",
  "RequestTimeout",
  "RequestTimeoutException",
  "TimeoutError",
  "Throttling",
  "TooManyRequestsException",
]);

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
]);

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
  cause?: unknown;
}

/**
 * Whether an AWS SDK v3 error (or a network error under it) is worth retrying: throttling,
 * server-side failures (HTTP 5xx), timeouts and dropped connections. Client errors (validation,
 * a failed condition, a missing table) are not.
 */
export function isTransientAwsError(error: unknown, depth = 0): boolean {
  if (typeof error !== "object" || error === null || depth > 4) return false;
  const e = error as ErrorShape;
  if (typeof e.name === "string" && TRANSIENT_NAMES.has(e.name)) return true;
  if (typeof e.code === "string" && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === "number" && (status >= 500 || status === 429)) return true;
  if (typeof e.$retryable === "object" && e.$retryable !== null) return true;
  return isTransientAwsError(e.cause, depth + 1);
}

/** `Name: message` of an error, for logs and messages (never the whole object). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
