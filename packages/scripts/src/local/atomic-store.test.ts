// The store under a reader racing a writer: s3rver's own store shows a torn object (the reason
// for atomic-store.ts), ours never does. The writer is paused mid-body deterministically.
import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { scratch } from "../../../core/src/testing/index";
import { AtomicFilesystemStore, FilesystemStore, type FilesystemStoreLike } from "./atomic-store";

const tmp = scratch("atomic-store-test-");
afterAll(() => tmp.cleanup());
let n = 0;

function storeOf(kind: "s3rver" | "atomic"): FilesystemStoreLike {
  const dir = join(tmp.dir, `${kind}-${n++}`);
  return kind === "atomic" ? new AtomicFilesystemStore(dir) : new FilesystemStore(dir);
}

async function body(stream: Readable | Buffer | null): Promise<Buffer> {
  if (stream === null) return Buffer.alloc(0);
  if (Buffer.isBuffer(stream)) return stream;
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function read(store: FilesystemStoreLike, key: string) {
  const object = await store.getObject("b", key);
  if (object === null) return null;
  return { data: await body(object.content), metadata: object.metadata };
}

function object(key: string, content: Buffer | Readable, type: string) {
  return { bucket: "b", key, content, metadata: { "content-type": type } };
}

/** Waits (bounded) until some file under `dir` holds exactly `prefix`. */
async function fileHolding(dir: string, prefix: Buffer): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    for (const name of await readdir(dir, { recursive: true })) {
      const path = join(dir, name);
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile() && s.size === prefix.length && (await readFile(path)).equals(prefix)) return;
    }
    await sleep(5);
  }
  throw new Error("the writer never reached the middle of the body");
}

/** Writes `next` over `key` in two halves and reads the object between them. */
async function readMidWrite(kind: "s3rver" | "atomic", previous: Buffer, next: Buffer) {
  const store = storeOf(kind);
  const key = "dists/stable/InRelease";
  await store.putObject(object(key, previous, "text/old"));
  const stream = new PassThrough();
  const half = next.subarray(0, Math.floor(next.length / 2));
  const writing = store.putObject(object(key, stream, "text/new"));
  stream.write(half);
  await fileHolding(join(store.rootDirectory, "b"), half);
  const during = await read(store, key);
  stream.end(next.subarray(half.length));
  await writing;
  const after = await read(store, key);
  return { during, after };
}

const OLD = Buffer.alloc(64 * 1024, "o");
const NEW = Buffer.alloc(96 * 1024, "n");

describe("a GET while a PUT of the same key is halfway through its body", () => {
  it("s3rver's own store serves a torn object (what the atomic store fixes)", async () => {
    const { during } = await readMidWrite("s3rver", OLD, NEW);
    expect(during?.data.equals(OLD)).toBe(false);
    expect(during?.data.equals(NEW)).toBe(false);
  });

  it("the atomic store serves the whole previous object, then the whole new one", async () => {
    const { during, after } = await readMidWrite("atomic", OLD, NEW);
    expect(during?.data.equals(OLD)).toBe(true);
    expect(during?.metadata["content-type"]).toBe("text/old");
    expect(Number(during?.metadata["content-length"])).toBe(OLD.length);
    expect(after?.data.equals(NEW)).toBe(true);
    expect(after?.metadata["content-type"]).toBe("text/new");
    expect(after?.metadata.etag).toBe(JSON.stringify(createHash("md5").update(NEW).digest("hex")));
  });
});

describe("the atomic store under concurrent puts, reads and deletes", () => {
  it("every read is absent or exactly one written version, with its own metadata", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant("put" as const), size: fc.nat({ max: 200_000 }) }),
            fc.record({ op: fc.constant("get" as const) }),
            fc.record({ op: fc.constant("delete" as const) }),
          ),
          { minLength: 1, maxLength: 30 },
        ),
        async (ops) => {
          const store = storeOf("atomic");
          const key = "pool/main/k/kiro/kiro_1.0_amd64.deb";
          // Each version's body, content type and length agree: type `v<i>`, bytes all `i`.
          const versions = new Map<string, Buffer>();
          const reads: Promise<void>[] = [];
          const writes: Promise<unknown>[] = [];
          ops.forEach((op, i) => {
            if (op.op === "put") {
              const data = Buffer.alloc(op.size, i % 256);
              versions.set(`v${i}`, data);
              const stream = new PassThrough();
              writes.push(store.putObject(object(key, stream, `v${i}`)));
              // Two chunks, the second later: the write spans other operations.
              stream.write(data.subarray(0, op.size >> 1));
              setImmediate(() => stream.end(data.subarray(op.size >> 1)));
            } else if (op.op === "delete") {
              writes.push(store.deleteObject("b", key));
            } else {
              reads.push(
                read(store, key).then((got) => {
                  if (got === null) return;
                  const type = String(got.metadata["content-type"]);
                  const expected = versions.get(type);
                  expect(expected, `unknown version ${type}`).toBeDefined();
                  expect(got.data.equals(expected as Buffer), `torn body of ${type}`).toBe(true);
                  expect(Number(got.metadata["content-length"])).toBe(got.data.length);
                }),
              );
            }
          });
          await Promise.all([...reads, ...writes]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("leaves no temporary files behind and lists only objects", async () => {
    const store = storeOf("atomic");
    await store.putObject(object("a/b/c.deb", Buffer.from("x"), "t"));
    await store.putObject(object("a/b/c.deb", Buffer.from("yy"), "t"));
    const files = await readdir(join(store.rootDirectory, "b", "a", "b"));
    expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
    await store.deleteObject("b", "a/b/c.deb");
    expect(await readdir(join(store.rootDirectory, "b"))).toEqual([]);
  });
});

describe("the atomic store's server-side copy and multipart join", () => {
  const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");
  const initiate = async (store: FilesystemStoreLike, id: string, key: string) => {
    const s = store as unknown as {
      initiateUpload(b: string, k: string, id: string, m: Record<string, string>): Promise<void>;
      putPart(b: string, id: string, n: number, c: Readable): Promise<{ md5: string }>;
      putObjectMultipart(
        b: string,
        id: string,
        parts: { number: number; etag: string }[],
      ): Promise<{ size: number; md5: string }>;
    };
    await s.initiateUpload("b", key, id, { "content-type": "application/x-staged" });
    return s;
  };

  it("a copy is the source's bytes and md5 under new metadata, unchanged by later writes to the source", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        async (first, second) => {
          const store = storeOf("atomic");
          const data = Buffer.from(first);
          await store.putObject(object("staging/x/1.deb", data, "application/x-staged"));
          await store.copyObject("b", "staging/x/1.deb", "b", "pool/main/x/x_1_all.deb", {
            "content-type": "application/vnd.debian.binary-package",
            "cache-control": "immutable",
          });
          // The source changes and goes; the copy keeps what it was.
          await store.putObject(object("staging/x/1.deb", Buffer.from(second), "t"));
          await store.deleteObject("b", "staging/x/1.deb");
          const copy = await read(store, "pool/main/x/x_1_all.deb");
          expect(copy?.data.equals(data)).toBe(true);
          expect(copy?.metadata.etag).toBe(JSON.stringify(md5(data)));
          expect(copy?.metadata["content-type"]).toBe("application/vnd.debian.binary-package");
          expect(copy?.metadata["cache-control"]).toBe("immutable");
          expect(await read(store, "staging/x/1.deb")).toBeNull();
          const files = await readdir(join(store.rootDirectory, "b"), { recursive: true });
          expect(files.filter((f) => f.includes(".tmp-"))).toEqual([]);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a copy of a missing object is ENOENT and writes nothing", async () => {
    const store = storeOf("atomic");
    await expect(store.copyObject("b", "staging/none.deb", "b", "pool/x.deb")).rejects.toThrow(
      /ENOENT/,
    );
    expect(await read(store, "pool/x.deb")).toBeNull();
  });

  it("completing a multipart upload joins the parts in part order, whatever order they came in", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
        fc.infiniteStream(fc.nat()),
        async (chunks, order) => {
          const store = storeOf("atomic");
          const s = await initiate(store, "u1", "staging/m.deb");
          const numbers = chunks.map((_, i) => i + 1);
          const shuffled = [...numbers].sort(() => (order.next().value % 3) - 1);
          for (const number of shuffled) {
            const stream = new PassThrough();
            stream.end(Buffer.from(chunks[number - 1] as Uint8Array));
            await s.putPart("b", "u1", number, stream);
          }
          const whole = Buffer.concat(chunks.map((c) => Buffer.from(c)));
          const done = await s.putObjectMultipart(
            "b",
            "u1",
            [...shuffled].map((number) => ({ number, etag: "" })),
          );
          expect(done).toEqual({ size: whole.length, md5: md5(whole) });
          const got = await read(store, "staging/m.deb");
          expect(got?.data.equals(whole)).toBe(true);
          expect(got?.metadata["content-type"]).toBe("application/x-staged");
        },
      ),
      { numRuns: 25 },
    );
  });
});
