// The bucket side of an ingestion: a multipart upload to a private `staging/` key while the
// .deb streams in, a server-side copy to its pool path once it has passed every check, and the
// sweep that removes what a crashed run left in staging.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { Logger } from "pino";
import { isTransientAwsError, withRetry } from "../store/retry";

export const STAGING_PREFIX = "staging/";
export const DEB_CONTENT_TYPE = "application/vnd.debian.binary-package";
/** Pool files never change once written (the publisher's layout says the same). */
export const POOL_CACHE_CONTROL = "public, max-age=31536000, immutable";
/** Parts of 5 MiB (S3's minimum), two in flight: the upload holds ~15 MiB of a package. */
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

/** Streams `body` to `key` (multipart above one part); aborts the upload on any error. */
export async function uploadStream(
  bucket: Bucket,
  key: string,
  body: AsyncIterable<Uint8Array>,
): Promise<void> {
  const upload = new Upload({
    client: bucket.s3,
    params: {
      Bucket: bucket.name,
      Key: key,
      Body: Readable.from(body, { highWaterMark: 1 }),
      ContentType: DEB_CONTENT_TYPE,
    },
    partSize: PART_SIZE,
    queueSize: QUEUE_SIZE,
    leavePartsOnError: false,
  });
  await upload.done();
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
