// The bucket side of an ingestion: a multipart upload to a private `staging/` key while the
// .deb streams in, a server-side copy to its pool path once it has passed every check, and the
// sweep that removes what a crashed run left in staging.
import { randomUUID } from "node:crypto";
import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { isTransientAwsError, withRetry } from "../store/retry";

export const STAGING_PREFIX = "staging/";
export const DEB_CONTENT_TYPE = "application/vnd.debian.binary-package";
/** Pool files never change once written (the publisher's layout says the same). */
export const POOL_CACHE_CONTROL = "public, max-age=31536000, immutable";
/** Parts of 5 MiB (S3's minimum), two in flight: the upload holds 15 MiB of a package. */
export const PART_SIZE = 5 * 1024 * 1024;
export const QUEUE_SIZE = 2;
/** A Lambda runs at most 15 minutes: older staging objects belong to no running ingestion. */
export const STALE_STAGING_MS = 60 * 60 * 1000;

/** S3 path-style addressing where an endpoint is set (the local stage's s3rver). */
export function sourcesS3Client(): S3Client {
  const local =
    process.env.AWS_ENDPOINT_URL_S3 !== undefined || process.env.AWS_ENDPOINT_URL !== undefined;
  return new S3Client({ forcePathStyle: local, maxAttempts: 1 });
}

/** `staging/<name>/<random>.deb`: unique per attempt, so two runs never share one. */
export function stagingKey(name: string): string {
  return `${STAGING_PREFIX}${name}/${randomUUID()}.deb`;
}

export interface Bucket {
  readonly s3: S3Client;
  readonly name: string;
  readonly logger: Logger;
}

function retried<T>(bucket: Bucket, what: string, fn: () => Promise<T>): Promise<T> {
  return withRetry(fn, {
    isRetryable: isTransientAwsError,
    onRetry: ({ attempt, delayMs, error }) =>
      bucket.logger.warn(
        { operation: what, attempt, delayMs, err: String(error) },
        "S3 call failed, retrying",
      ),
  });
}

/**
 * Streams `body` to `key`: one PutObject when it fits in one part, else a multipart upload with
 * at most `queueSize` parts in flight, each retried on its own; any failure aborts the upload.
 *
 * Not lib-storage's `Upload`, measured (`npm run bench -- --ingest`): its chunker copies every
 * byte into a fresh part-sized buffer (`Buffer.concat`) and leaves those buffers, with the
 * stream's chunks, to V8's external-memory GC, which lets ~64 MB of garbage build up before it
 * runs; the ingester peaked at 150-181 MB on a 300 MB .deb. Here the parts are `queueSize + 1`
 * buffers allocated once and refilled: every byte is copied once, into memory already touched,
 * and the upload holds `(queueSize + 1) × partSize` bytes whatever the package's size. A chunk
 * of `body` is copied before the next one is asked for, so a source may reuse its buffer.
 */
export async function uploadStream(
  bucket: Bucket,
  key: string,
  body: AsyncIterable<Uint8Array>,
  options: { partSize?: number; queueSize?: number } = {},
): Promise<void> {
  const partSize = options.partSize ?? PART_SIZE;
  const queueSize = options.queueSize ?? QUEUE_SIZE;
  const base = { Bucket: bucket.name, Key: key };
  const free: Buffer[] = [];
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let failure: unknown;
  let uploadId: string | undefined;
  let part: Buffer = Buffer.allocUnsafe(partSize);
  let fill = 0;
  let partNumber = 0;

  const send = (data: Buffer, length: number): void => {
    const number = ++partNumber;
    const id = uploadId as string;
    const task = retried(bucket, "UploadPart", () =>
      bucket.s3.send(
        new UploadPartCommand({
          ...base,
          UploadId: id,
          PartNumber: number,
          Body: data.subarray(0, length),
          ContentLength: length,
        }),
      ),
    ).then(
      (result) => {
        parts.push({ PartNumber: number, ETag: result.ETag });
        free.push(data);
      },
      (error: unknown) => {
        failure ??= error;
      },
    );
    const tracked = task.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  // The next empty part buffer: a free one, a new one while the pool is not full, else the
  // first to come back.
  const nextBuffer = async (): Promise<Buffer> => {
    while (free.length === 0 && inFlight.size >= queueSize) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    return free.pop() ?? Buffer.allocUnsafe(partSize);
  };

  try {
    for await (const chunk of body) {
      let at = 0;
      while (at < chunk.length) {
        const take = Math.min(partSize - fill, chunk.length - at);
        part.set(chunk.subarray(at, at + take), fill);
        fill += take;
        at += take;
        if (fill === partSize) {
          uploadId ??= (
            await retried(bucket, "CreateMultipartUpload", () =>
              bucket.s3.send(
                new CreateMultipartUploadCommand({ ...base, ContentType: DEB_CONTENT_TYPE }),
              ),
            )
          ).UploadId;
          if (uploadId === undefined) throw new Error(`no UploadId for ${key}`);
          send(part, fill);
          part = await nextBuffer();
          fill = 0;
        }
      }
    }
    if (uploadId === undefined) {
      await retried(bucket, "PutObject", () =>
        bucket.s3.send(
          new PutObjectCommand({
            ...base,
            Body: part.subarray(0, fill),
            ContentLength: fill,
            ContentType: DEB_CONTENT_TYPE,
          }),
        ),
      );
      return;
    }
    if (fill > 0) send(part, fill);
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    parts.sort((a, b) => (a.PartNumber as number) - (b.PartNumber as number));
    const id = uploadId;
    await retried(bucket, "CompleteMultipartUpload", () =>
      bucket.s3.send(
        new CompleteMultipartUploadCommand({
          ...base,
          UploadId: id,
          MultipartUpload: { Parts: parts },
        }),
      ),
    );
  } catch (error) {
    await Promise.allSettled(inFlight);
    if (uploadId !== undefined) {
      const id = uploadId;
      await bucket.s3
        .send(new AbortMultipartUploadCommand({ ...base, UploadId: id }))
        .catch((abortError: unknown) =>
          bucket.logger.warn(
            { key, err: String(abortError) },
            "could not abort the multipart upload (the bucket's lifecycle rule will)",
          ),
        );
    }
    throw error;
  }
}

/** Copies a staged object to its pool path, with the pool's headers. */
export async function copyToPool(bucket: Bucket, from: string, to: string): Promise<void> {
  await retried(bucket, "CopyObject", () =>
    bucket.s3.send(
      new CopyObjectCommand({
        Bucket: bucket.name,
        Key: to,
        CopySource: `${bucket.name}/${from.split("/").map(encodeURIComponent).join("/")}`,
        MetadataDirective: "REPLACE",
        ContentType: DEB_CONTENT_TYPE,
        CacheControl: POOL_CACHE_CONTROL,
      }),
    ),
  );
}

/** The object's size, or undefined when there is none. */
export async function objectSize(bucket: Bucket, key: string): Promise<number | undefined> {
  try {
    const head = await retried(bucket, "HeadObject", () =>
      bucket.s3.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key })),
    );
    return head.ContentLength;
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NotFound" || e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404)
      return undefined;
    throw error;
  }
}

export async function removeObject(bucket: Bucket, key: string): Promise<void> {
  await retried(bucket, "DeleteObject", () =>
    bucket.s3.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key })),
  );
}

/**
 * Removes staging objects (and unfinished multipart uploads) older than `olderThanMs`: what a
 * crashed run left behind. Returns the keys removed.
 */
export async function sweepStaging(
  bucket: Bucket,
  options: { prefix?: string; olderThanMs?: number; now?: Date } = {},
): Promise<string[]> {
  const prefix = options.prefix ?? STAGING_PREFIX;
  const cutoff = (options.now ?? new Date()).getTime() - (options.olderThanMs ?? STALE_STAGING_MS);
  const removed: string[] = [];
  let token: string | undefined;
  do {
    const continuation = token;
    const page = await retried(bucket, "ListObjectsV2", () =>
      bucket.s3.send(
        new ListObjectsV2Command({
          Bucket: bucket.name,
          Prefix: prefix,
          ContinuationToken: continuation,
        }),
      ),
    );
    for (const object of page.Contents ?? []) {
      if (object.Key === undefined) continue;
      if ((object.LastModified?.getTime() ?? 0) > cutoff) continue;
      await removeObject(bucket, object.Key);
      removed.push(object.Key);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  try {
    const uploads = await bucket.s3.send(
      new ListMultipartUploadsCommand({ Bucket: bucket.name, Prefix: prefix }),
    );
    for (const u of uploads.Uploads ?? []) {
      if (u.Key === undefined || u.UploadId === undefined) continue;
      if ((u.Initiated?.getTime() ?? 0) > cutoff) continue;
      await bucket.s3.send(
        new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: u.Key, UploadId: u.UploadId }),
      );
      removed.push(`${u.Key} (unfinished upload)`);
    }
  } catch (error) {
    // s3rver does not list multipart uploads; in AWS this is best effort too (a lifecycle rule
    // on staging/ is the backstop).
    bucket.logger.debug({ err: String(error) }, "cannot list unfinished uploads");
  }
  if (removed.length > 0) bucket.logger.info({ removed }, "removed stale staging objects");
  return removed;
}
