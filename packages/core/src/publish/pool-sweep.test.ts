// Pool retention over the in-memory ports: the publisher deletes a pool file only once a record
// that named it went, the grace period passed, and nothing refers to it then; never a file a
// record refers to, never a file no record ever named.
import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord } from "aws-lambda";
import fc from "fast-check";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { poolPath } from "../record/pool";
import { type PackageRecordInput, packageId } from "../record/schema";
import { generateSigningKey, loadSigningKeys, type SigningKey } from "../signing";
import { MemoryObjectStore } from "../testing/memory-bucket";
import { MemoryRecords } from "../testing/memory-records";
import { MemoryStateStore } from "../testing/memory-state";
import { TEST_SETTINGS } from "../testing/settings";
import type { RecordSource } from "./entries";
import { Publisher } from "./publisher";
import { touchesOf } from "./stream";

const logger = pino({ level: "silent" });
const GRACE = TEST_SETTINGS.byHashGraceMs;
const HEADERS = { contentType: "application/vnd.debian.binary-package", cacheControl: "" };

const settings = TEST_SETTINGS;

let keys: SigningKey[];
beforeAll(async () => {
  const generated = await generateSigningKey({ name: "Test Repo", email: "repo@example.org" });
  keys = await loadSigningKeys(generated.privateKeyArmored);
});

const bodyOf = (filename: string, salt: number) =>
  new Uint8Array(Buffer.from(`${filename} ${salt} `.repeat(20)));
const hash = (algorithm: string, bytes: Uint8Array) =>
  createHash(algorithm).update(bytes).digest("hex");

/** A manual record naming `filename`, whose hashes are those of `body` (or wrong ones). */
function manual(
  name: string,
  version: string,
  filename: string,
  body: Uint8Array,
  options: { suite?: string; mismatch?: boolean } = {},
): PackageRecordInput {
  return {
    package_id: packageId(name, version, "amd64"),
    package_name: name,
    version,
    architecture: "amd64",
    source: "manual",
    filename,
    file_size: body.length,
    md5_hash: options.mismatch ? "0".repeat(32) : hash("md5", body),
    sha1_hash: hash("sha1", body),
    sha256_hash: hash("sha256", body),
    sha512_hash: hash("sha512", body),
    maintainer: "Test <test@example.org>",
    description: `${name}\n test`,
    processed_timestamp: "2026-11-24T12:00:00.000Z",
    ...(options.suite ? { suite: options.suite } : {}),
  };
}

/** In-memory stores, a clock, and a publisher fed by stream records as DynamoDB makes them. */
function world() {
  // After the signing key was made (a signature may not predate its key); whole seconds.
  let t = Math.ceil(Date.now() / 1000) * 1000 + 60_000;
  const now = () => new Date(t);
  const records = new MemoryRecords();
  const bucket = new MemoryObjectStore(now);
  const state = new MemoryStateStore();
  const deleted: string[] = [];
  /** When each file stopped being named by any record last; files deleted before grace. */
  const early: string[] = [];
  const releasedAt = new Map<string, number>();
  const named = () => new Set([...records.items.values()].map((r) => r.filename as string));
  // The by-name index (versionsOf) is eventually consistent: it lags one write behind.
  const lagging = new MemoryRecords();
  const doubleDeletes: string[] = [];
  const calls = { scan: 0, getMany: [] as string[][] };
  const source: RecordSource = {
    getMany: (ids) => {
      calls.getMany.push([...ids]);
      return records.getMany(ids);
    },
    scan: () => {
      calls.scan++;
      return records.scan();
    },
    versionsOf: (name) => lagging.versionsOf(name),
    pinFile: (id, file) => records.pinFile(id, file),
  };
  const publisher = new Publisher({
    records: source,
    state,
    bucket: {
      get: (k) => bucket.get(k),
      head: (k) => bucket.head(k),
      put: (k, b, h) => bucket.put(k, b, h),
      copy: (f, to, h) => bucket.copy(f, to, h),
      list: (p) => bucket.list(p),
      async delete(keys) {
        for (const k of keys) {
          if (!k.startsWith("pool/")) continue;
          deleted.push(k);
          // Deleted only a grace period after the last record naming it went.
          const released = releasedAt.get(k);
          if (released === undefined || t - released < GRACE) early.push(k);
          if (!bucket.objects.has(k)) doubleDeletes.push(k);
        }
        await bucket.delete(keys);
      },
    },
    keys,
    settings,
    logger,
    now,
    lastModifiedGranularityMs: 0,
  });
  let seq = 0;
  let batch: DynamoDBRecord[] = [];
  /** Publishes the stream records written since the last time, as one batch. */
  const flush = async () => {
    const events = batch;
    batch = [];
    if (events.length > 0) await publisher.publishChanges(touchesOf(events, settings).touches);
    lagging.items.clear();
    for (const [k, item] of records.items) lagging.items.set(k, structuredClone(item));
  };
  /**
   * Writes (or with undefined deletes) an item; its stream record is published at once, or
   * with the next batch (`hold`).
   */
  const write = async (id: string, next: Record<string, unknown> | undefined, hold = false) => {
    const old = records.items.get(id);
    if (next === undefined && old === undefined) return;
    const before = named();
    if (next === undefined) records.items.delete(id);
    else records.items.set(id, structuredClone(next));
    const after = named();
    for (const f of before) if (!after.has(f)) releasedAt.set(f, t);
    const image = (x: Record<string, unknown> | undefined) =>
      x && (marshall(x, { removeUndefinedValues: true }) as Record<string, AttributeValue>);
    seq++;
    batch.push({
      eventID: String(seq),
      eventName: next === undefined ? "REMOVE" : old === undefined ? "INSERT" : "MODIFY",
      dynamodb: {
        Keys: { package_id: { S: id } },
        SequenceNumber: String(seq).padStart(10, "0"),
        ...(old ? { OldImage: image(old) as never } : {}),
        ...(next ? { NewImage: image(next) as never } : {}),
      },
    });
    if (!hold) await flush();
  };
  /** A writer's put: the file first (unless it is there and `upload` is false), the record. */
  const put = async (r: PackageRecordInput, body: Uint8Array, upload = true, hold = false) => {
    const filename = r.filename as string;
    if (upload || !bucket.objects.has(filename)) await bucket.put(filename, body, HEADERS);
    await write(r.package_id, r as unknown as Record<string, unknown>, hold);
  };
  let ticks = 0;
  /** Any publication of a suite sweeps it: a new record of its own, never deleted. */
  const tick = async (suite = "stable") => {
    ticks++;
    const filename = poolPath("main", "tick", `${ticks}`, "amd64");
    const body = bodyOf(filename, 0);
    await put(manual("tick", `${ticks}`, filename, body, { suite }), body);
  };
  return {
    records,
    bucket,
    state,
    deleted,
    early,
    doubleDeletes,
    calls,
    write,
    flush,
    put,
    tick,
    advance: (ms: number) => {
      t += ms;
    },
    has: (key: string) => bucket.objects.has(key),
  };
}

const NAMES = ["kiro", "libkiro"];
/** `1.0` and `1:1.0` share a pool path (the epoch is dropped). */
const VERSIONS = ["1.0", "1:1.0", "2.0"];

type Op =
  | {
      kind: "put";
      name: number;
      version: number;
      /** 0: the record's own pool path; 1: another file (the record moves). */
      file: number;
      suite: number;
      upload: boolean;
      mismatch: boolean;
      /** Published with the next write (one stream batch), not at once. */
      hold: boolean;
    }
  | { kind: "remove"; name: number; version: number; hold: boolean }
  | { kind: "orphan"; n: number }
  | { kind: "advance"; ms: number; suite: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      name: fc.nat(NAMES.length - 1),
      version: fc.nat(VERSIONS.length - 1),
      file: fc.nat(1),
      suite: fc.nat(1),
      upload: fc.boolean(),
      mismatch: fc.boolean(),
      hold: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("remove" as const),
      name: fc.nat(NAMES.length - 1),
      version: fc.nat(VERSIONS.length - 1),
      hold: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("orphan" as const), n: fc.nat(2) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.constantFrom(60_000, GRACE / 2, GRACE + 1000, 3 * GRACE),
      suite: fc.nat(1),
    }),
  },
);

const SUITES = ["stable", "beta"];
const filenameOf = (name: string, version: string, file: number) =>
  poolPath("main", name, version, "amd64").replace(/\.deb$/, file === 0 ? ".deb" : ".moved.deb");
const orphanFile = (n: number) => poolPath("main", "orphan", `${n}`, "amd64");

describe("pool retention (model)", () => {
  it("never deletes a file a record names or no record ever named, and deletes each released file once after the grace period", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), async (ops) => {
        const w = world();
        const everNamed = new Set<string>();
        const orphans = new Set<string>();
        const invariant = (after: string) => {
          for (const item of w.records.items.values()) {
            expect(w.has(item.filename as string), `${after}: ${item.filename} deleted`).toBe(true);
          }
          for (const o of orphans) expect(w.has(o), `${after}: orphan ${o} deleted`).toBe(true);
          expect(w.doubleDeletes, after).toEqual([]);
          expect(w.early, after).toEqual([]);
        };
        for (const [i, op] of ops.entries()) {
          // Writers are not all in the same second (Last-Modified has one-second granularity).
          w.advance(1000);
          if (op.kind === "put") {
            const name = NAMES[op.name] as string;
            const version = VERSIONS[op.version] as string;
            const filename = filenameOf(name, version, op.file);
            const body = bodyOf(filename, 0);
            everNamed.add(filename);
            await w.put(
              manual(name, version, filename, body, {
                suite: SUITES[op.suite] as string,
                mismatch: op.mismatch,
              }),
              body,
              op.upload,
              op.hold,
            );
          } else if (op.kind === "remove") {
            const name = NAMES[op.name] as string;
            await w.write(
              packageId(name, VERSIONS[op.version] as string, "amd64"),
              undefined,
              op.hold,
            );
          } else if (op.kind === "orphan") {
            const key = orphanFile(op.n);
            orphans.add(key);
            await w.bucket.put(key, bodyOf(key, 0), HEADERS);
          } else {
            w.advance(op.ms);
            await w.tick(SUITES[op.suite]);
          }
          invariant(`after op ${i}`);
        }
        // Past every grace period, each suite published: every released file nothing names is
        // gone, exactly once.
        await w.flush();
        w.advance(2 * GRACE);
        for (const suite of SUITES) await w.tick(suite);
        invariant("after the final sweep");
        const named = new Set([...w.records.items.values()].map((r) => r.filename as string));
        for (const key of everNamed) {
          if (!named.has(key)) expect(w.has(key), `${key} released but kept`).toBe(false);
        }
        const once = new Map<string, number>();
        for (const key of w.deleted) once.set(key, (once.get(key) ?? 0) + 1);
        for (const [key, n] of once) expect(n, key).toBe(1);
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});

describe("pool retention", () => {
  const kiro = (version: string) => {
    const filename = poolPath("main", "kiro", version, "amd64");
    const body = bodyOf(filename, 0);
    return { record: manual("kiro", version, filename, body), body, filename };
  };

  it("keeps a deleted record's file through the grace period, then deletes it once", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(GRACE - 60_000);
    await w.tick();
    expect(w.has(filename)).toBe(true);
    w.advance(120_000);
    await w.tick();
    expect(w.has(filename)).toBe(false);
    expect(w.deleted).toEqual([filename]);
    await w.tick();
    expect(w.deleted).toEqual([filename]);
  });

  it("never deletes a file no record named (an upload waiting for its record)", async () => {
    const w = world();
    const key = orphanFile(0);
    await w.bucket.put(key, bodyOf(key, 0), HEADERS);
    for (let i = 0; i < 3; i++) {
      w.advance(2 * GRACE);
      await w.tick();
    }
    expect(w.has(key)).toBe(true);
    expect(w.deleted).toEqual([]);
  });

  it("a record written again with the same file cancels the deletion", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(60_000);
    await w.put(record, body, false);
    w.advance(2 * GRACE);
    await w.tick();
    expect(w.has(filename)).toBe(true);
    // Deleted again later: its grace counts from then.
    await w.write(record.package_id, undefined);
    w.advance(GRACE / 2);
    await w.tick();
    expect(w.has(filename)).toBe(true);
    w.advance(GRACE);
    await w.tick();
    expect(w.has(filename)).toBe(false);
  });

  it("counts the grace period from the last time the file was released", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(GRACE / 2);
    await w.put(record, body, false);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(GRACE / 2 + 60_000);
    // The first release is past its grace period, the second is not.
    await w.tick();
    expect(w.has(filename)).toBe(true);
    w.advance(GRACE / 2);
    await w.tick();
    expect(w.has(filename)).toBe(false);
  });

  it("asks the table, not only the by-name index, for the candidates' own ids", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(2 * GRACE);
    // Written again (held back: not its hashes) in the batch that sweeps, which the lagging
    // by-name index does not show yet.
    await w.put(manual("kiro", "1.0", filename, body, { mismatch: true }), body, false, true);
    await w.tick();
    expect(w.has(filename)).toBe(true);
  });

  it("keeps a file a held-back record of another version names (an epoch apart)", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    // 1:1.0 has the same pool path; its hashes are not the file's, so it is held back.
    await w.put(manual("kiro", "1:1.0", filename, body, { mismatch: true }), body, false);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(2 * GRACE);
    await w.tick();
    expect(w.has(filename)).toBe(true);
  });

  it("keeps a file uploaded again after its record went (its record is about to follow)", async () => {
    const w = world();
    const { record, body, filename } = kiro("1.0");
    await w.put(record, body);
    w.advance(5000);
    await w.write(record.package_id, undefined);
    w.advance(2 * GRACE);
    await w.bucket.put(filename, body, HEADERS);
    w.advance(5000);
    await w.tick();
    expect(w.has(filename)).toBe(true);
  });

  it("treats a build record's file like an uploaded one", async () => {
    const w = world();
    const id = packageId("kiro-repo", "1.0", "all");
    await w.write(id, {
      package_id: id,
      package_name: "kiro-repo",
      version: "1.0",
      architecture: "all",
      source: "build",
      maintainer: "Test <test@example.org>",
      description: "setup\n test",
      processed_timestamp: "2026-11-24T12:00:00.000Z",
      contents: [{ path: "/etc/kiro-repo/test", content: "hi\n" }],
    });
    const filename = poolPath("main", "kiro-repo", "1.0", "all");
    expect(w.has(filename)).toBe(true);
    expect(w.records.items.get(id)?.filename).toBe(filename);
    w.advance(5000);
    await w.write(id, undefined);
    w.advance(GRACE / 2);
    await w.tick();
    expect(w.has(filename)).toBe(true);
    w.advance(GRACE);
    await w.tick();
    expect(w.has(filename)).toBe(false);
  });

  it("reads only the candidates' ids, and only once they have expired: never a scan", async () => {
    const w = world();
    const a = kiro("1.0");
    const b = kiro("2.0");
    await w.put(a.record, a.body);
    await w.put(b.record, b.body);
    w.advance(5000);
    await w.write(a.record.package_id, undefined);
    w.calls.getMany.length = 0;
    await w.tick();
    // Before expiry: only the publication's own read of the touched id.
    expect(w.calls.getMany).toEqual([[packageId("tick", "1", "amd64")]]);
    w.advance(2 * GRACE);
    w.calls.getMany.length = 0;
    w.calls.scan = 0; // the suite's first publication was a full build
    await w.tick();
    expect(w.calls.getMany).toEqual([[packageId("tick", "2", "amd64")], [a.record.package_id]]);
    expect(w.calls.scan).toBe(0);
    expect(w.has(a.filename)).toBe(false);
    expect(w.has(b.filename)).toBe(true);
  });
});
