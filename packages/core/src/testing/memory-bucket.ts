// An in-memory bucket for model tests (count its requests with countingObjectStore).
import { createHash } from "node:crypto";
import type { ObjectHead, ObjectInfo, ObjectStore } from "../publish/bucket";
import type { ObjectHeaders } from "../publish/layout";

export class MemoryObjectStore implements ObjectStore {
  /** `etag` overrides the MD5 one S3 gives a single-part upload (e.g. a multipart `"…-3"`). */
  readonly objects = new Map<
    string,
    { body: Uint8Array; headers: ObjectHeaders; at: Date; etag?: string }
  >();

  /** `now` stamps Last-Modified (a test's clock). */
  constructor(private readonly now: () => Date = () => new Date()) {}

  private info(o: { body: Uint8Array; at: Date; etag?: string }): ObjectHead {
    const etag = o.etag ?? JSON.stringify(createHash("md5").update(o.body).digest("hex"));
    return { size: o.body.length, lastModified: o.at, etag };
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    return this.objects.get(key)?.body;
  }
  async head(key: string): Promise<ObjectHead | undefined> {
    const o = this.objects.get(key);
    return o === undefined ? undefined : this.info(o);
  }
  async put(key: string, body: Uint8Array | string, headers: ObjectHeaders): Promise<void> {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    this.objects.set(key, { body: bytes, headers, at: this.now() });
  }
  async copy(from: string, to: string, headers: ObjectHeaders): Promise<void> {
    const o = this.objects.get(from);
    if (o === undefined) throw new Error(`copy: no object ${from}`);
    this.objects.set(to, { body: o.body, headers, at: this.now() });
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const [key, o] of [...this.objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (key.startsWith(prefix)) yield { key, ...this.info(o) };
    }
  }
  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
  }
}
