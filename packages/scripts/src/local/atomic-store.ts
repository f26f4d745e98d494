/**
 * s3rver's filesystem store, made atomic for readers as S3 is: a GET or HEAD sees one whole
 * object and the metadata written with it, never a truncated file or a new body under old
 * headers.
 *
 * s3rver keeps an object as three files (`<name>._S3rver_object`, `.object.md5`,
 * `.metadata.json`) and writes them in place, one after the other; a reader reads them one
 * after the other too. Here:
 * - a write streams the body (and writes md5 and metadata) to temporary files beside the
 *   targets, then renames all three in one step that holds the key's lock; the slow part (the
 *   body) happens outside the lock, so a large upload never blocks readers;
 * - a read takes the same lock just long enough to open the body and read md5 and metadata,
 *   then streams from the open descriptor: a rename after that cannot change what it sends
 *   (POSIX keeps the old inode for an open file), and the length comes from that descriptor;
 * - deletes take the lock as well, and the empty-directory cleanup tolerates a concurrent write
 *   into the directory.
 * The on-disk layout is s3rver's, so existing data directories keep working.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import {
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
} from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** The part of s3rver's S3Object model used here. */
interface S3ObjectLike {
  bucket: string;
  key: string;
  content: Readable | Buffer | null;
  metadata: Record<string, string>;
  range?: { start: number; end: number };
}
type S3ObjectConstructor = (new (
  bucket: string,
  key: string,
  content: Readable | Buffer | null,
  metadata: Record<string, string | number>,
) => S3ObjectLike) & { ALLOWED_METADATA: string[] };

/** The part of s3rver's FilesystemStore used and overridden here. */
export interface FilesystemStoreLike {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  getBucketPath(bucket: string): string;
  getMetadata(bucket: string, key: string): Promise<Record<string, string | number>>;
  putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5?: string,
  ): Promise<void>;
  getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3ObjectLike | null>;
  putObject(object: S3ObjectLike): Promise<{ size: number; md5: string }>;
  copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, string>,
  ): Promise<Record<string, string | number>>;
  deleteObject(bucket: string, key: string): Promise<void>;
  listObjects(bucket: string, options: ListOptions): Promise<ListResult>;
}
interface ListOptions {
  delimiter?: string;
  startAfter?: string;
  prefix?: string;
  maxKeys?: number;
}
interface ListResult {
  objects: S3ObjectLike[];
  commonPrefixes: string[];
  isTruncated: boolean;
}
type FilesystemStoreConstructor = new (rootDirectory: string) => FilesystemStoreLike;

const require = createRequire(import.meta.url);
export const FilesystemStore =
  require("s3rver/lib/stores/filesystem") as FilesystemStoreConstructor;
const S3Object = require("s3rver/lib/models/object") as S3ObjectConstructor;

type Resources = { object: string; md5: string; metadata: string };

const DIRECTORY_ATTEMPTS = 10;

/**
 * `mkdir -p` that survives a concurrent delete pruning the empty directories it is creating:
 * a recursive mkdir fails with ENOENT when a parent it made is removed before the child.
 */
async function ensureDirectory(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await mkdir(dir, { recursive: true });
      return;
    } catch (error) {
      if (!enoent(error) || attempt >= DIRECTORY_ATTEMPTS) throw error;
    }
  }
}

/** Serialises short critical sections per key (in one process, which s3rver is). */
class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();
  async with<T>(key: string, section: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release = () => {};
    const mine = new Promise<void>((r) => {
      release = r;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await section();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

function enoent(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === "ENOENT";
}

export class AtomicFilesystemStore extends FilesystemStore {
  private readonly locks = new KeyLocks();

  /**
   * Keys in S3's order (binary, as strings), page by page. s3rver walks directories by name,
   * which is not key order where one name is a prefix of another (`kiro/…` is walked before
   * `kiro-cli/…`, but `kiro-cli/` < `kiro/`), and it skips directories before `startAfter`, so
   * its later pages lost keys. Without a delimiter (what the publisher lists) every key is
   * walked, sorted and cut here, and only the page's metadata is read.
   */
  override async listObjects(bucket: string, options: ListOptions): Promise<ListResult> {
    const {
      delimiter = "",
      startAfter = "",
      prefix = "",
      maxKeys = Number.POSITIVE_INFINITY,
    } = options;
    if (delimiter !== "") return super.listObjects(bucket, options);
    const bucketPath = this.getBucketPath(bucket);
    const suffix = "._S3rver_object";
    const keys: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries: import("node:fs").Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (enoent(error)) return;
        throw error;
      }
      for (const e of entries) {
        const path = rel === "" ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          // Only directories that can hold a key under the prefix and after startAfter (keys
          // under `d/` are all before startAfter when `d/` sorts before it and is no prefix of it).
          const under = `${path}/`;
          const after = under > startAfter || startAfter.startsWith(under);
          if (after && (path.startsWith(prefix) || prefix.startsWith(under))) {
            await walk(join(dir, e.name), path);
          }
        } else if (e.name.endsWith(suffix)) {
          const key = path.slice(0, -suffix.length);
          if (key.startsWith(prefix) && key > startAfter) keys.push(key);
        }
      }
    };
    await walk(bucketPath, "");
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const page = keys.slice(0, maxKeys);
    // All at once, as s3rver does (a page is at most 1,000 keys).
    const metadata = await Promise.all(
      page.map((key) =>
        this.getMetadata(bucket, key).catch((error: unknown) => {
          if (enoent(error)) return undefined;
          throw error;
        }),
      ),
    );
    const objects = page.flatMap((key, i) => {
      const m = metadata[i];
      return m === undefined ? [] : [new S3Object(bucket, key, null, m)];
    });
    return { objects, commonPrefixes: [], isTruncated: keys.length > page.length };
  }

  private resources(bucket: string, key: string): Resources {
    return {
      object: this.getResourcePath(bucket, key, "object"),
      md5: this.getResourcePath(bucket, key, "object.md5"),
      metadata: this.getResourcePath(bucket, key, "metadata.json"),
    };
  }

  private lockKey(bucket: string, key: string): string {
    return this.resources(bucket, key).object;
  }

  private static temporary(path: string): string {
    // Never ends in `._S3rver_object`, so listings skip it.
    return `${path}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
  }

  private static metadataJson(metadata: Record<string, string>): string {
    const kept = Object.fromEntries(
      Object.entries(metadata).filter(
        ([k]) => S3Object.ALLOWED_METADATA.includes(k) || k.startsWith("x-amz-meta-"),
      ),
    );
    return JSON.stringify(kept, null, 2);
  }

  /** Writes `files` to temporaries, then renames them all into place under the key's lock. */
  private async commit(
    bucket: string,
    key: string,
    files: { target: string; write: (temporary: string) => Promise<void> }[],
  ): Promise<void> {
    const first = files[0];
    if (first === undefined) return;
    const staged: { target: string; temporary: string }[] = [];
    try {
      for (const { target, write } of files) {
        const temporary = AtomicFilesystemStore.temporary(target);
        staged.push({ target, temporary });
        // A concurrent delete may remove the directory while it is empty, before the first
        // temporary file is in it: make it again and retry (a few times, each a fresh race).
        for (let attempt = 1; ; attempt++) {
          try {
            await write(temporary);
            break;
          } catch (error) {
            if (!enoent(error) || attempt >= DIRECTORY_ATTEMPTS) throw error;
            await ensureDirectory(dirname(target));
          }
        }
      }
      await this.locks.with(this.lockKey(bucket, key), async () => {
        // The body last: a reader that finds it finds its md5 and metadata already there.
        for (const { target, temporary } of [...staged].reverse()) await rename(temporary, target);
      });
      staged.length = 0;
    } finally {
      for (const { temporary } of staged) await unlink(temporary).catch(() => {});
    }
  }

  /** Opens the body and reads md5 and metadata as one snapshot. */
  private async snapshot(
    bucket: string,
    key: string,
  ): Promise<{
    handle: Awaited<ReturnType<typeof open>>;
    metadata: Record<string, string | number>;
  } | null> {
    const paths = this.resources(bucket, key);
    const taken = await this.locks.with(this.lockKey(bucket, key), async () => {
      let handle: Awaited<ReturnType<typeof open>>;
      try {
        handle = await open(paths.object, "r");
      } catch (error) {
        if (enoent(error)) return null;
        throw error;
      }
      try {
        const [stored, md5] = await Promise.all([
          readFile(paths.metadata, "utf8").then(
            (text) => JSON.parse(text) as Record<string, string>,
            (error: unknown) => {
              if (enoent(error)) return {};
              throw error;
            },
          ),
          readFile(paths.md5, "utf8").catch((error: unknown) => {
            if (enoent(error)) return undefined;
            throw error;
          }),
        ]);
        return { handle, stored, md5 };
      } catch (error) {
        await handle.close();
        throw error;
      }
    });
    if (taken === null) return null;
    const { handle, stored } = taken;
    try {
      const stat = await handle.stat();
      let md5 = taken.md5;
      if (md5 === undefined) {
        // Objects written by another tool: compute the md5 from the open file (s3rver's way).
        const hash = createHash("md5");
        for await (const chunk of handle.createReadStream({ start: 0, autoClose: false }))
          hash.update(chunk as Buffer);
        md5 = hash.digest("hex");
      }
      return {
        handle,
        metadata: {
          ...stored,
          etag: JSON.stringify(md5),
          "last-modified": stat.mtime.toUTCString(),
          "content-length": stat.size,
        },
      };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  override async getMetadata(
    bucket: string,
    key: string,
  ): Promise<Record<string, string | number>> {
    const snap = await this.snapshot(bucket, key);
    if (snap === null) {
      throw Object.assign(new Error(`ENOENT: no object ${bucket}/${key}`), { code: "ENOENT" });
    }
    await snap.handle.close();
    return snap.metadata;
  }

  override async putMetadata(
    bucket: string,
    key: string,
    metadata: Record<string, string>,
    md5?: string,
  ): Promise<void> {
    const paths = this.resources(bucket, key);
    const files = [
      {
        target: paths.metadata,
        write: (t: string) => writeFile(t, AtomicFilesystemStore.metadataJson(metadata)),
      },
    ];
    if (md5 !== undefined) files.unshift({ target: paths.md5, write: (t) => writeFile(t, md5) });
    await this.commit(bucket, key, files);
  }

  override async getObject(
    bucket: string,
    key: string,
    options?: { start?: number; end?: number },
  ): Promise<S3ObjectLike | null> {
    const snap = await this.snapshot(bucket, key);
    if (snap === null) return null;
    const { handle, metadata } = snap;
    const lastByte = Math.max(0, Number(metadata["content-length"]) - 1);
    const range = {
      start: options?.start ?? 0,
      end: Math.min(options?.end || Number.POSITIVE_INFINITY, lastByte),
    };
    const ranged = options !== undefined && (options.start !== undefined || !!options.end);
    if (range.start < 0 || range.end < range.start) {
      await handle.close();
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    // The stream owns the descriptor from here and closes it when done or destroyed.
    const content = handle.createReadStream({ start: range.start, end: range.end });
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  }

  override async putObject(object: S3ObjectLike): Promise<{ size: number; md5: string }> {
    const paths = this.resources(object.bucket, object.key);
    await ensureDirectory(dirname(paths.object));
    let size = 0;
    let md5 = "";
    let written = false;
    await this.commit(object.bucket, object.key, [
      {
        target: paths.object,
        write: async (temporary) => {
          // A stream body can be read once: a retry (after ENOENT) must not read it again.
          if (written) throw new Error(`the body of ${object.key} was already consumed`);
          const hash = createHash("md5");
          const content = object.content;
          if (content === null) throw new Error(`no body for ${object.key}`);
          if (Buffer.isBuffer(content)) {
            await writeFile(temporary, content);
            hash.update(content);
            size = content.length;
          } else {
            const out = createWriteStream(temporary);
            await new Promise<void>((ok, fail) => {
              out.once("open", () => ok());
              out.once("error", fail);
            });
            written = true;
            await pipeline(
              content,
              async function* (source: AsyncIterable<Buffer>) {
                for await (const chunk of source) {
                  hash.update(chunk);
                  size += chunk.length;
                  yield chunk;
                }
              },
              out,
            );
          }
          md5 = hash.digest("hex");
        },
      },
      { target: paths.md5, write: (t) => writeFile(t, md5) },
      {
        target: paths.metadata,
        write: (t) => writeFile(t, AtomicFilesystemStore.metadataJson(object.metadata)),
      },
    ]);
    return { size, md5 };
  }

  /**
   * A server-side copy, as S3's is: a hard link to the source's body (no byte is read or
   * written; safe because no write here ever changes a body file in place, it renames a new
   * one over it) with the source's md5, and the new metadata, committed like any write.
   * Another filesystem (or a store without links) falls back to a streamed copy.
   */
  override async copyObject(
    srcBucket: string,
    srcKey: string,
    destBucket: string,
    destKey: string,
    replacementMetadata?: Record<string, string>,
  ): Promise<Record<string, string | number>> {
    const srcPaths = this.resources(srcBucket, srcKey);
    const destPaths = this.resources(destBucket, destKey);
    if (srcPaths.object === destPaths.object) {
      // Same object: only its metadata changes.
      if (replacementMetadata) await this.putMetadata(destBucket, destKey, replacementMetadata);
      return this.getMetadata(destBucket, destKey);
    }
    await ensureDirectory(dirname(destPaths.object));
    const linked = AtomicFilesystemStore.temporary(destPaths.object);
    // Body, md5 and metadata of one version of the source: taken under its lock.
    const taken = await this.locks.with(this.lockKey(srcBucket, srcKey), async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          await link(srcPaths.object, linked);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === "EXDEV" || code === "EPERM" || code === "ENOTSUP") return "no-link";
          if (!enoent(error)) throw error;
          // The source is gone, or a delete pruned the (empty) destination directory.
          const source = await stat(srcPaths.object).catch(() => undefined);
          if (source === undefined) return null;
          if (attempt >= DIRECTORY_ATTEMPTS) throw error;
          await ensureDirectory(dirname(destPaths.object));
        }
      }
      const [md5, stored] = await Promise.all([
        readFile(srcPaths.md5, "utf8").catch(() => undefined),
        readFile(srcPaths.metadata, "utf8").then(
          (text) => JSON.parse(text) as Record<string, string>,
          () => ({}),
        ),
      ]);
      return { md5, stored };
    });
    if (taken === null) {
      throw Object.assign(new Error(`ENOENT: no object ${srcBucket}/${srcKey}`), {
        code: "ENOENT",
      });
    }
    if (taken === "no-link") {
      // Another filesystem: a streamed copy.
      const source = await this.getObject(srcBucket, srcKey);
      if (source === null || source.content === null) {
        throw Object.assign(new Error(`ENOENT: no object ${srcBucket}/${srcKey}`), {
          code: "ENOENT",
        });
      }
      await this.putObject(
        new S3Object(destBucket, destKey, source.content, replacementMetadata ?? source.metadata),
      );
      return this.getMetadata(destBucket, destKey);
    }
    try {
      let md5 = taken.md5;
      if (md5 === undefined) {
        const hash = createHash("md5");
        for await (const chunk of createReadStream(linked)) hash.update(chunk as Buffer);
        md5 = hash.digest("hex");
      }
      const body = md5;
      await this.commit(destBucket, destKey, [
        { target: destPaths.object, write: (t) => rename(linked, t) },
        { target: destPaths.md5, write: (t) => writeFile(t, body) },
        {
          target: destPaths.metadata,
          write: (t) =>
            writeFile(t, AtomicFilesystemStore.metadataJson(replacementMetadata ?? taken.stored)),
        },
      ]);
    } finally {
      await unlink(linked).catch(() => {});
    }
    return this.getMetadata(destBucket, destKey);
  }

  /**
   * The parts joined in 1 MiB reads (s3rver reads 64 KiB at a time) into one atomic write,
   * whose md5 is the object's ETag, as s3rver has it.
   */
  async putObjectMultipart(
    bucket: string,
    uploadId: string,
    parts: { number: number }[],
  ): Promise<{ size: number; md5: string }> {
    const uploadDir = join(this.getResourcePath(bucket, undefined, "uploads"), uploadId);
    const [key, metadata] = await Promise.all([
      readFile(join(uploadDir, "key"), "utf8"),
      readFile(join(uploadDir, "metadata"), "utf8").then(
        (text) => JSON.parse(text) as Record<string, string>,
      ),
    ]);
    const ordered = [...parts].sort((a, b) => a.number - b.number);
    async function* joined(): AsyncGenerator<Buffer> {
      for (const part of ordered) {
        yield* createReadStream(join(uploadDir, String(part.number)), {
          highWaterMark: 1024 * 1024,
        }) as AsyncIterable<Buffer>;
      }
    }
    const result = await this.putObject(
      new S3Object(bucket, key, Readable.from(joined(), { objectMode: false }), metadata),
    );
    await rm(uploadDir, { recursive: true, force: true });
    return result;
  }

  override async deleteObject(bucket: string, key: string): Promise<void> {
    const paths = this.resources(bucket, key);
    await this.locks.with(this.lockKey(bucket, key), async () => {
      // The body first: from then on the object does not exist for readers.
      for (const path of [paths.object, paths.md5, paths.metadata]) {
        await unlink(path).catch((error: unknown) => {
          if (!enoent(error)) throw error;
        });
      }
    });
    // Remove directories left empty; a concurrent write may be refilling one, which is fine.
    const parts = key.split("/");
    parts.pop();
    const bucketPath = this.getBucketPath(bucket);
    while (parts.length > 0) {
      const dir = join(bucketPath, ...parts);
      try {
        if ((await readdir(dir)).length > 0) return;
        await rmdir(dir);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTEMPTY" || code === "EEXIST") return;
        throw error;
      }
      parts.pop();
    }
  }
}
