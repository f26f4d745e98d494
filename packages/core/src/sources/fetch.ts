// Downloads for the sources: a .deb as a stream (never held whole), small files (the feed, a
// certificate, a signature) in memory, both with a size limit, an idle timeout and errors that
// say whether another attempt could help (429, 5xx, timeouts, dropped connections).
import { describeError } from "../store/retry";

export class DownloadError extends Error {
  constructor(
    readonly url: string,
    message: string,
    /** Whether another attempt may succeed. */
    readonly transient: boolean,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(`${url}: ${message}`, options);
    this.name = "DownloadError";
  }
}

export function isTransientDownloadError(error: unknown): boolean {
  return error instanceof DownloadError && error.transient;
}

export interface Download {
  /** A chunk may be reused by its source once the next one is asked for: copy what you keep. */
  readonly body: AsyncIterable<Uint8Array>;
  /** From Content-Length, when the server sent one. */
  readonly contentLength?: number;
  /**
   * Puts the same bytes at a key of the target bucket server-side (e.g. the migration's
   * CopyObject from the old deployment's bucket, conditional on the ETag it read): the body is
   * then read for the checks and digests only, never uploaded, and once they pass,
   * `copyTo(<pool path>)` places the file, with the pool's headers.
   */
  readonly copyTo?: (key: string) => Promise<void>;
}

export interface FetchOptions {
  readonly maxBytes: number;
  /** No byte for this long (or no response headers) fails the attempt. Default 60 s. */
  readonly idleTimeoutMs?: number;
  /** Replaces global fetch (tests inject faults). */
  readonly fetch?: typeof fetch;
}

const DEFAULT_IDLE_MS = 60_000;

/**
 * Opens a URL for streaming. The body fails with a transient DownloadError when the connection
 * drops, stalls, or ends before Content-Length; with a permanent one beyond maxBytes.
 */
export async function openUrl(url: string, options: FetchOptions): Promise<Download> {
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_MS;
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), idleMs);
  const rearm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), idleMs);
  };
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      signal: controller.signal,
      redirect: "follow",
    });
  } catch (error) {
    clearTimeout(timer);
    throw new DownloadError(
      url,
      controller.signal.aborted
        ? `no response within ${idleMs} ms`
        : `cannot connect: ${describeError(error)}`,
      true,
      undefined,
      { cause: error },
    );
  }
  if (!response.ok || response.body === null) {
    clearTimeout(timer);
    await response.body?.cancel().catch(() => undefined);
    const status = response.status;
    throw new DownloadError(
      url,
      `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ""}`,
      status === 429 || status === 408 || status >= 500,
      status,
    );
  }
  // A redirect may lead elsewhere: the final URL must be as acceptable as the first.
  if (response.url && new URL(response.url).protocol !== new URL(url).protocol) {
    clearTimeout(timer);
    await response.body.cancel().catch(() => undefined);
    throw new DownloadError(url, `redirected to another scheme (${response.url})`, false);
  }
  const lengthHeader = response.headers.get("content-length");
  const contentLength =
    lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  if (contentLength !== undefined && contentLength > options.maxBytes) {
    clearTimeout(timer);
    await response.body.cancel().catch(() => undefined);
    throw new DownloadError(
      url,
      `is ${contentLength} bytes, more than the limit of ${options.maxBytes}`,
      false,
    );
  }
  const stream = response.body;
  async function* body(): AsyncGenerator<Uint8Array> {
    let received = 0;
    try {
      for await (const chunk of stream) {
        rearm();
        received += chunk.length;
        if (received > options.maxBytes) {
          throw new DownloadError(url, `exceeds the limit of ${options.maxBytes} bytes`, false);
        }
        yield chunk;
      }
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      throw new DownloadError(
        url,
        controller.signal.aborted
          ? `stalled: no data for ${idleMs} ms after ${received} bytes`
          : `connection failed after ${received} bytes: ${describeError(error)}`,
        true,
        undefined,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
    if (contentLength !== undefined && received !== contentLength) {
      throw new DownloadError(url, `truncated: got ${received} of ${contentLength} bytes`, true);
    }
  }
  return { body: body(), ...(contentLength === undefined ? {} : { contentLength }) };
}

/** Fetches a small file whole (the feed, a certificate, a signature). */
export async function fetchBytes(url: string, options: FetchOptions): Promise<Uint8Array> {
  const { body } = await openUrl(url, options);
  const parts: Uint8Array[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts);
}
