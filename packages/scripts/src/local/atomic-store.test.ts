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
