/**
 * s3rver as the local stage's S3.
 *
 *     const s3 = await startS3Local({ port: 4568, directory: ".local/s3", buckets: ["repo"] });
 *     const client = new S3Client(localS3ClientConfig(s3.endpoint));
 *     // apt reads http://127.0.0.1:4568/repo/dists/stable/InRelease directly
 *     await s3.stop();
 *
 * What s3rver does (checked by s3-local.int.test.ts with the current SDK v3):
 * - Listens on 127.0.0.1 only; path-style addressing (`/<bucket>/<key>`). An SDK client whose
 *   endpoint is an IP address uses path style on its own; `forcePathStyle` is set anyway for
 *   `localhost` endpoints.
 * - Accepts only the access key `S3RVER` (secret `S3RVER`); SigV4 signatures are not verified.
 * - Unsigned GETs are served, so apt (and curl) read objects at `<endpoint>/<bucket>/<key>`
 *   with the stored Content-Type and Cache-Control (also Content-Encoding,
 *   Content-Disposition, Content-Language, Expires and x-amz-meta-*; other headers are dropped).
 * - Keys with `+`, `~`, `:` and spaces round-trip through the SDK, and plain GETs find them
 *   either literally or percent-encoded (apt sends `+`, `~` and space as `%2b`, `%7e`, `%20`).
 *   Keys are file paths underneath: `a//b` and `a/b` are the same object, and `.`/`..` segments
 *   are normalised away. Pool paths never contain either.
 * - QUIRK: the SDK's default request checksums (`WHEN_SUPPORTED`) send a *stream* body with
 *   `aws-chunked` encoding and a trailing checksum, which s3rver stores verbatim: the object
 *   silently becomes `d\r\n<data>\r\n0\r\nx-amz-checksum-crc32:…`. Buffer and string bodies are
 *   unaffected. Local clients must set `requestChecksumCalculation: "WHEN_REQUIRED"` (done by
 *   `localS3ClientConfig`) or the environment `AWS_REQUEST_CHECKSUM_CALCULATION=when_required`
 *   (see `LOCAL_S3_ENV`; the local shell wrapper should set it).
 * - s3rver's own store rewrites an object's files in place, so a reader racing an overwrite
 *   could see a truncated body or new bytes under old headers. This module swaps in
 *   `AtomicFilesystemStore` (same layout on disk): every PUT, copy and DELETE is atomic for
 *   readers, as S3 is per object.
 * - QUIRK: s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node
 *   17+) refuses without its legacy provider, so every listing of more than 1,000 keys failed
 *   with `500 InternalError` (a rebuild lists `pool/`). `opaqueDesTokens` makes s3rver's
 *   tokens plain base64 (they are opaque to clients, and only this server reads them).
 * - `directory` persists buckets and objects across restarts; without it a temporary directory
 *   is used and removed by `stop()`.
 */

import crypto from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { S3ClientConfig } from "@aws-sdk/client-s3";
import * as v from "valibot";
import { AtomicFilesystemStore } from "./atomic-store";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./dynamodb-local";
import { assertPortFree } from "./ports";

/** The part of s3rver's (untyped, CommonJS) API used here. */
interface S3rverInstance {
  store: unknown;
  context: { store: unknown };
  run(): Promise<unknown>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  vhostBuckets: boolean;
  configureBuckets: { name: string; configs: string[] }[];
}) => S3rverInstance;

const S3rver = createRequire(import.meta.url)("s3rver") as S3rverConstructor;

/** S3's bucket naming rules (the subset s3rver and path-style addressing need). */
const BucketName = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "a bucket name is 3-63 of a-z 0-9 . -"),
  v.check((name) => !name.includes(".."), "a bucket name has no '..'"),
);

const OptionsSchema = v.object({
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  directory: v.optional(v.pipe(v.string(), v.nonEmpty())),
  buckets: v.array(BucketName),
  /** `s3rver`: its own in-place store, only to measure what the atomic one fixes. */
  store: v.optional(v.picklist(["atomic", "s3rver"]), "atomic"),
});
export type S3LocalOptions = v.InferInput<typeof OptionsSchema>;

export interface S3Local {
  /** `http://127.0.0.1:<port>`; objects are at `<endpoint>/<bucket>/<key>`. */
  readonly endpoint: string;
  /** Where the buckets live on disk. */
  readonly directory: string;
  /** Closes the server (and its open connections). Idempotent. */
  stop(): Promise<void>;
}

/** SDK configuration for a client of the local S3 (see the checksum quirk above). */
export function localS3ClientConfig(endpoint: string): S3ClientConfig {
  return {
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  };
}

/** The same settings as environment variables, for processes that build their own clients. */
export const LOCAL_S3_ENV = {
  AWS_REQUEST_CHECKSUM_CALCULATION: "when_required",
  AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required",
} as const;

/**
 * s3rver's continuation tokens without DES (see the quirk above): when this OpenSSL has no DES,
 * `createCipheriv("des")`/`createDecipheriv("des")` become an identity "cipher", so a token is
 * base64 of its IV and its text. Only DES is touched (nothing else in this process can use it,
 * since OpenSSL refuses it); once per process.
 */
export function opaqueDesTokens(): void {
  try {
    crypto.createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
    return; // DES works (an OpenSSL with its legacy provider): s3rver needs no help
  } catch {}
  const identity = {
    update: (data: string | Buffer, encoding?: BufferEncoding) =>
      typeof data === "string" ? Buffer.from(data, encoding) : Buffer.from(data),
    final: () => Buffer.alloc(0),
  };
  const wrap = <F extends (...args: never[]) => unknown>(original: F): F =>
    ((algorithm: string, ...rest: unknown[]) =>
      algorithm === "des"
        ? identity
        : (original as unknown as (...a: unknown[]) => unknown)(
            algorithm,
            ...rest,
          )) as unknown as F;
  crypto.createCipheriv = wrap(crypto.createCipheriv);
  crypto.createDecipheriv = wrap(crypto.createDecipheriv);
}

export async function startS3Local(options: S3LocalOptions): Promise<S3Local> {
  const parsed = v.safeParse(OptionsSchema, options);
  if (!parsed.success) {
    throw new Error(`startS3Local: invalid options: ${v.summarize(parsed.issues)}`);
  }
  const { port, buckets, directory: wanted, store } = parsed.output;
  await assertPortFree(port);
  opaqueDesTokens();
  const temporary = wanted === undefined;
  const directory = temporary ? await mkdtemp(join(tmpdir(), "s3-local-")) : resolve(wanted);
  await mkdir(directory, { recursive: true });

  const server = new S3rver({
    address: "127.0.0.1",
    port,
    silent: true,
    directory,
    // Path style only: never read a bucket name out of the Host header.
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  // Atomic for readers, as S3 is (see atomic-store.ts); set before run() creates the buckets.
  if (store === "atomic")
    server.store = server.context.store = new AtomicFilesystemStore(directory);
  try {
    await server.run();
  } catch (error) {
    if (temporary) await rm(directory, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    throw code === "EADDRINUSE"
      ? new Error(`port ${port} is busy (on 127.0.0.1): is another local stack running?`)
      : error;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const closed = server.close();
      // Keep-alive sockets of SDK clients would hold close() open indefinitely.
      server.httpServer?.closeAllConnections();
      await closed;
      if (temporary) await rm(directory, { recursive: true, force: true });
    })();
    return stopping;
  };
  return { endpoint: `http://127.0.0.1:${port}`, directory, stop };
}
