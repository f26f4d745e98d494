// The bucket as the publisher sees it: a handful of operations, each one S3 request (the
// benchmark counts them with a wrapper from @app/core/testing). The in-memory bucket of the
// model tests lives in testing/ too.
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ObjectHeaders } from "./layout";

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
  /** As S3 sends it, quotes included: a single-part upload's MD5 hex, `…-N` for multipart. */
  readonly etag?: string;
}

export type ObjectHead = Omit<ObjectInfo, "key">;

export interface ObjectStore {
  get(key: string): Promise<Uint8Array | undefined>;
  head(key: string): Promise<ObjectHead | undefined>;
  put(key: string, body: Uint8Array | string, headers: ObjectHeaders): Promise<void>;
  copy(from: string, to: string, headers: ObjectHeaders): Promise<void>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(keys: readonly string[]): Promise<void>;
}

/** Whether an S3 error means "no such object" (the one place this is decided). */
export function isS3NotFound(error: unknown): boolean {
  if (error instanceof NoSuchKey || error instanceof NotFound) return true;
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } } | undefined;
  // A missing bucket is a wrong setting, never a missing object.
  if (e?.name === "NoSuchBucket") return false;
  return e?.name === "NotFound" || e?.name === "NoSuchKey" || e?.$metadata?.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key }),
      );
      return result.Body ? await result.Body.transformToByteArray() : new Uint8Array(0);
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    try {
      const result = await this.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: key }),
      );
      return {
        size: result.ContentLength ?? 0,
        lastModified: result.LastModified ?? new Date(0),
        ...(result.ETag === undefined ? {} : { etag: result.ETag }),
      };
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
  }

  async put(key: string, body: Uint8Array | string, headers: ObjectHeaders): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: headers.contentType,
        CacheControl: headers.cacheControl,
      }),
    );
  }

  async copy(from: string, to: string, headers: ObjectHeaders): Promise<void> {
    await this.client.send(
      new CopyObjectCommand({
        Bucket: this.bucket,
        Key: to,
        CopySource: `${this.bucket}/${from.split("/").map(encodeURIComponent).join("/")}`,
        MetadataDirective: "REPLACE",
        ContentType: headers.contentType,
        CacheControl: headers.cacheControl,
      }),
    );
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield {
          key: o.Key,
          size: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
          ...(o.ETag === undefined ? {} : { etag: o.ETag }),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }
}
