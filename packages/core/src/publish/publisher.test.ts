// Model tests of the publisher over in-memory stores: for any sequence of writes, cut into
// any batches, duplicated and reordered, incremental publication converges on the bytes of
// a full rebuild of the final table.

import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import fc from "fast-check";
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { poolPath } from "../record/pool";
import { type PackageRecordInput, packageId } from "../record/schema";
import { generateSigningKey, loadSigningKeys, type SigningKey } from "../signing";
import { MemoryObjectStore } from "../testing/memory-bucket";
import { MemoryRecords } from "../testing/memory-records";
import { MemoryStateStore } from "../testing/memory-state";
import { countingObjectStore } from "../testing/ports";
import { TEST_SETTINGS } from "../testing/settings";
import type { ObjectStore } from "./bucket";
import { etagMd5, poolProblem } from "./entries";
import { Publisher } from "./publisher";
import type { PublisherSettings } from "./settings";
import { handleStreamBatch, touchesOf } from "./stream";

const logger = pino({ level: "silent" });

const settings = TEST_SETTINGS;

let keys: SigningKey[];
beforeAll(async () => {
  const generated = await generateSigningKey({ name: "Test Repo", email: "repo@example.org" });
  keys = await loadSigningKeys(generated.privateKeyArmored);
});

/** In-memory stores and a publisher over them; `now` and settings may be overridden. */
function world(options: { settings?: Partial<PublisherSettings>; now?: () => Date } = {}) {
  const records = new MemoryRecords();
  const bucket = new MemoryObjectStore();
  const counted = countingObjectStore(bucket);
  const state = new MemoryStateStore();
  const publisher = new Publisher({
    records,
    bucket: counted.store,
    state,
    keys,
    settings: { ...settings, ...options.settings },
    logger,
    lastModifiedGranularityMs: 0,
    ...(options.now ? { now: options.now } : {}),
  });
  /** Puts a record the way writers do: its pool file first (as `file` says), then the item. */
  const add = (r: PackageRecordInput, file: PoolFileKind = "present") => {
    putPoolFile(bucket, r, file);
    records.items.set(r.package_id, r as unknown as Record<string, unknown>);
  };
  return { records, bucket, requests: counted.requests, state, publisher, add };
}

/** The .deb bytes a record of `size` bytes describes (the publisher only weighs and MD5s it). */
const poolBody = (size: number, salt = ""): Uint8Array =>
  new Uint8Array(Buffer.from(`${salt}${"x".repeat(size)}`.slice(0, size)));

const md5 = (bytes: Uint8Array): string => createHash("md5").update(bytes).digest("hex");

/**
 * What the pool holds for a record: its file (as a single-part upload, or multipart: an ETag
 * that says nothing of the MD5), nothing, one of its size with other bytes, or one of another
 * size. Only the first two may publish.
 */
const POOL_FILE_KINDS = ["present", "multipart", "missing", "other bytes", "other size"] as const;
type PoolFileKind = (typeof POOL_FILE_KINDS)[number];
const publishable = (kind: PoolFileKind) => kind === "present" || kind === "multipart";

function putPoolFile(bucket: MemoryObjectStore, r: PackageRecordInput, kind: PoolFileKind): void {
  const key = r.filename as string;
  const size = r.file_size as number;
  if (kind === "missing") {
    bucket.objects.delete(key);
    return;
  }
  const body =
    kind === "other bytes"
      ? poolBody(size, "other")
      : kind === "other size"
        ? poolBody(size + 1)
        : poolBody(size);
  const headers = { contentType: "application/vnd.debian.binary-package", cacheControl: "" };
  bucket.objects.set(key, {
    body,
    headers,
    at: new Date(),
    ...(kind === "multipart" ? { etag: '"0123456789abcdef0123456789abcdef-2"' } : {}),
  });
}

const NAMES = ["kiro", "kiro-cli", "libkiro"];
const VERSIONS = ["1.0", "1.0~rc1", "2.0", "1:0.5"];
const ARCHS = ["amd64", "all", "arm64"];

function record(
  name: string,
  version: string,
  arch: string,
  variant: number,
  where: { suite?: string; component?: string },
): PackageRecordInput {
  const hex = (n: number) => ((variant + 1).toString(16).repeat(n) + "0".repeat(n)).slice(0, n);
  return {
    package_id: packageId(name, version, arch),
    package_name: name,
    version,
    architecture: arch as PackageRecordInput["architecture"],
    source: "manual",
    filename: poolPath(where.component ?? "main", name, version, arch),
    file_size: 1000 + variant,
    md5_hash: md5(poolBody(1000 + variant)),
    sha1_hash: hex(40),
    sha256_hash: hex(64),
    sha512_hash: hex(128),
    maintainer: "Kiro Team <support@kiro.dev>",
    description: `The ${name} package\n variant ${variant}`,
    processed_timestamp: "2026-11-24T12:00:00.000Z",
    ...where,
  };
}

type Op =
  | {
      kind: "put";
      id: [number, number, number];
      variant: number;
      suite: number;
      component: number;
      file: number;
    }
  | { kind: "delete"; id: [number, number, number] }
  | { kind: "invalid"; id: [number, number, number] };

const idArb = fc.tuple(
  fc.nat(NAMES.length - 1),
  fc.nat(VERSIONS.length - 1),
  fc.nat(ARCHS.length - 1),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("put" as const),
      id: idArb,
      variant: fc.nat(3),
      suite: fc.nat(4),
      component: fc.nat(4),
      // Mostly a good file; otherwise each way a pool file can fail a record, or a multipart one.
      file: fc.nat(POOL_FILE_KINDS.length + 1),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: idArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("invalid" as const), id: idArb }) },
);

const poolFileKind = (file: number): PoolFileKind =>
  POOL_FILE_KINDS[Math.max(0, file - 2)] as PoolFileKind;

/**
 * Applies an op to the table (and, for a put, to the pool first, as writers do) and returns the
 * stream record it produces, if any.
 */
function apply(
  records: MemoryRecords,
  bucket: MemoryObjectStore,
  op: Op,
  seq: number,
): DynamoDBRecord | undefined {
  const [n, v, a] = op.id;
  const name = NAMES[n] as string;
  const version = VERSIONS[v] as string;
  const arch = ARCHS[a] as string;
  const id = packageId(name, version, arch);
  const old = records.items.get(id);
  let next: Record<string, unknown> | undefined;
  if (op.kind === "put") {
    const r = record(name, version, arch, op.variant, {
      ...(op.suite === 1 ? { suite: "beta" } : {}),
      ...(op.component === 1 ? { component: "contrib" } : {}),
    });
    putPoolFile(bucket, r, poolFileKind(op.file));
    next = r as unknown as Record<string, unknown>;
  } else if (op.kind === "invalid") {
    next = { package_id: id, package_name: name, version: "not a version", architecture: arch };
  }
  if (next === undefined && old === undefined) return undefined;
  if (next === undefined) records.items.delete(id);
  else records.items.set(id, next);
  const image = (x: Record<string, unknown> | undefined) =>
    x === undefined
      ? undefined
      : (marshall(x, { removeUndefinedValues: true }) as Record<string, AttributeValue>);
  return {
    eventID: String(seq),
    eventName: next === undefined ? "REMOVE" : old === undefined ? "INSERT" : "MODIFY",
    dynamodb: {
      Keys: { package_id: { S: id } },
      SequenceNumber: String(seq).padStart(10, "0"),
      ...(old ? { OldImage: image(old) as never } : {}),
      ...(next ? { NewImage: image(next) as never } : {}),
    },
  };
}

/** The ids every published index lists. */
function listedIds(bucket: MemoryObjectStore): Set<string> {
  const out = new Set<string>();
  for (const [key, o] of bucket.objects) {
    if (!/^dists\/.*\/Packages\.gz$/.test(key)) continue;
    for (const stanza of gunzipSync(o.body).toString().split("\n\n")) {
      const field = (f: string) => new RegExp(`^${f}: (.*)$`, "m").exec(stanza)?.[1];
      const [p, v, a] = [field("Package"), field("Version"), field("Architecture")];
      if (p && v && a) out.add(packageId(p, v, a));
    }
  }
  return out;
}

/** The published repository, without what legitimately differs (Date, signatures, by-hash). */
function published(bucket: MemoryObjectStore): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, o] of bucket.objects) {
    if (!key.startsWith("dists/") || key.includes("/by-hash/")) continue;
    if (key.endsWith("/InRelease") || key.endsWith("/Release.gpg")) continue;
    const text = key.endsWith("/Release")
      ? new TextDecoder().decode(o.body).replace(/^Date: .*$/m, "")
      : Buffer.from(o.body).toString("base64");
    out.set(key, text);
  }
  return out;
}

describe("publisher (model)", () => {
  it("converges on a full rebuild for any writes, batching, duplicates and reordering", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 25 }),
        fc.array(fc.nat(5), { minLength: 1, maxLength: 10 }),
        fc.infiniteStream(fc.nat(100)),
        async (ops, cuts, dice) => {
          const a = world();
          // A stage starts published (a deploy or `npm start` runs a rebuild on the empty table).
          await a.publisher.rebuild({ root: false });
          const events: DynamoDBRecord[] = [];
          const files = new Map<string, PoolFileKind>();
          ops.forEach((op, i) => {
            const e = apply(a.records, a.bucket, op, i + 1);
            if (e) events.push(e);
            if (op.kind === "put") {
              const [n, v, r] = op.id;
              const id = packageId(NAMES[n] as string, VERSIONS[v] as string, ARCHS[r] as string);
              files.set(id, poolFileKind(op.file));
            }
          });
          // Cut into batches; replay some batches (retries) and shuffle within batches.
          const roll = dice[Symbol.iterator]();
          const die = () => roll.next().value as number;
          let at = 0;
          const batches: DynamoDBRecord[][] = [];
          for (let i = 0; at < events.length; i++) {
            const size = 1 + ((cuts[i % cuts.length] ?? 0) % 6);
            batches.push(events.slice(at, at + size));
            at += size;
          }
          const deliveries: DynamoDBRecord[][] = [];
          for (const b of batches) {
            const copy = [...b].sort(() => (die() % 2 === 0 ? -1 : 1));
            deliveries.push(copy);
            if (die() < 25) deliveries.push(b); // a retried delivery
          }
          if (die() < 50) deliveries.reverse(); // out of order across batches
          for (const d of deliveries) {
            const { touches } = touchesOf(d, settings);
            await a.publisher.publishChanges(touches);
          }
          // Exactly the valid records whose pool file is theirs are listed; the rest are held back.
          const expected = [...a.records.items.values()]
            .filter((item) => item.version !== "not a version")
            .map((item) => item.package_id as string)
            .filter((id) => publishable(files.get(id) ?? "missing"));
          expect(listedIds(a.bucket)).toEqual(new Set(expected));
          // A full rebuild of the final table, in place, finds everything already published.
          const incremental = published(a.bucket);
          const rebuilt = await a.publisher.rebuild({ root: false });
          expect(rebuilt.published).toEqual([]);
          expect(published(a.bucket)).toEqual(incremental);
          // And from nothing: the same files, but for suites that lost all their packages
          // (kept, empty and signed, so that sources naming them keep working).
          const b = world();
          for (const [id, item] of a.records.items) b.records.items.set(id, item);
          for (const [key, o] of a.bucket.objects) {
            if (key.startsWith("pool/")) b.bucket.objects.set(key, o);
          }
          await b.publisher.rebuild({ root: false });
          const fresh = published(b.bucket);
          for (const [key, body] of incremental) {
            if (fresh.has(key)) expect(body, key).toBe(fresh.get(key));
            else expect(key.startsWith("dists/stable/"), key).toBe(false);
          }
          expect(fresh.size).toBeLessThanOrEqual(incremental.size);
        },
      ),
      { numRuns: 120 },
    );
  }, 300_000);

  it("a one-record publish reads O(1) records and sends few S3 requests", async () => {
    const w = world();
    for (let i = 0; i < 300; i++) {
      const r = record(`pkg${i}`, "1.0", "amd64", 0, {});
      w.add(r);
    }
    await w.publisher.rebuild({ root: false });
    const r = record("pkg150", "1.1", "amd64", 0, {});
    w.add(r);
    const readsBefore = w.records.reads;
    for (const k of Object.keys(w.requests)) w.requests[k] = 0;
    await w.publisher.publishChanges([
      { id: r.package_id, locations: [{ suite: "stable", component: "main" }] },
    ]);
    expect(w.records.reads - readsBefore).toBe(1);
    const total = Object.values(w.requests).reduce((x, y) => x + y, 0);
    expect(total).toBeLessThanOrEqual(12);
  });

  it("publishes nothing when the indexes already hold the records", async () => {
    const w = world();
    const r = record("kiro", "1.0", "amd64", 0, {});
    w.add(r);
    const touch = [{ id: r.package_id, locations: [{ suite: "stable", component: "main" }] }];
    await w.publisher.publishChanges(touch);
    const puts = w.requests.put ?? 0;
    const report = await w.publisher.publishChanges(touch);
    expect(report.published).toEqual([]);
    expect(w.requests.put ?? 0).toBe(puts);
  });

  it("reports invalid records with their key and fields, and publishes the rest", async () => {
    const w = world();
    const good = record("kiro", "1.0", "amd64", 0, {});
    w.add(good);
    w.records.items.set("kiro#2.0#amd64", { package_id: "kiro#2.0#amd64", package_name: "kiro" });
    const report = await w.publisher.publishChanges([
      { id: good.package_id, locations: [] },
      { id: "kiro#2.0#amd64", locations: [] },
    ]);
    expect(report.invalid).toHaveLength(1);
    expect(report.invalid[0]?.key).toBe('"kiro#2.0#amd64"');
    expect(report.invalid[0]?.issues.map((i) => i.field)).toEqual(
      expect.arrayContaining(["version", "architecture", "source", "maintainer"]),
    );
    const packages = w.bucket.objects.get("dists/stable/main/binary-amd64/Packages.gz");
    expect(packages).toBeDefined();
  });

  it("signs an unchanged Release again past half its Valid-Until, and never lets Date go back", async () => {
    const t0 = Date.now() + 60_000; // after the test key's creation
    let now = new Date(t0);
    const { add, bucket, publisher } = world({
      settings: { validUntilDays: 2 },
      now: () => now,
    });
    await publisher.rebuild({ root: false });
    const first = new TextDecoder().decode(bucket.objects.get("dists/stable/Release")?.body);
    expect(first).toMatch(/^Valid-Until: /m);
    now = new Date(t0 + 3_600_000);
    expect((await publisher.rebuild({ root: false })).published).toEqual([]);
    now = new Date(t0 + 25 * 3_600_000);
    expect((await publisher.rebuild({ root: false })).published).toEqual(["stable"]);
    // The clock going backwards still moves Date forward.
    now = new Date(t0 + 600_000);
    const r = record("kiro", "1.0", "amd64", 0, {});
    add(r);
    await publisher.publishChanges([{ id: r.package_id, locations: [] }]);
    const last = new TextDecoder().decode(bucket.objects.get("dists/stable/Release")?.body);
    const dates = [first, last].map((t) => new Date(/^Date: (.*)$/m.exec(t)?.[1] ?? "").getTime());
    expect(dates[1]).toBeGreaterThan(dates[0] as number);
  });

  it("keeps retired by-hash objects for the grace period, then deletes them", async () => {
    const t0 = Date.now() + 60_000;
    let now = new Date(t0);
    const { add, bucket, publisher } = world({
      settings: { byHashGraceMs: 3_600_000 },
      now: () => now,
    });
    const byHash = () => [...bucket.objects.keys()].filter((k) => k.includes("/by-hash/")).sort();
    await publisher.rebuild({ root: false });
    const first = byHash();
    for (let i = 0; i < 3; i++) {
      now = new Date(t0 + (i + 1) * 60_000);
      const r = record("kiro", `1.${i}`, "amd64", 0, {});
      add(r);
      await publisher.publishChanges([{ id: r.package_id, locations: [] }]);
    }
    // Within the grace period every generation's files are still there.
    for (const key of first) expect(bucket.objects.has(key), key).toBe(true);
    const beforeSweep = byHash();
    now = new Date(t0 + 2 * 3_600_000);
    const r = record("kiro", "2.0", "amd64", 0, {});
    add(r);
    await publisher.publishChanges([{ id: r.package_id, locations: [] }]);
    const after = byHash();
    for (const key of first) expect(after.includes(key), key).toBe(false);
    // What the current Release lists is always there.
    const release = new TextDecoder().decode(bucket.objects.get("dists/stable/Release")?.body);
    const listed = [...release.matchAll(/^ ([0-9a-f]{128}) +\d+ (\S+\.(gz|xz))$/gm)].map(
      ([, hex, path]) =>
        `dists/stable/${(path as string).replace(/Packages\.(gz|xz)$/, "")}by-hash/SHA512/${hex}`,
    );
    expect(listed.length).toBeGreaterThan(0);
    for (const key of listed) expect(bucket.objects.has(key), key).toBe(true);
    expect(after.length).toBeLessThan(beforeSweep.length + 4);
  });
});

/** A stream batch that puts these items (new images only). */
function putBatch(items: readonly Record<string, unknown>[]): DynamoDBStreamEvent {
  return {
    Records: items.map((item, i) => ({
      eventID: String(i),
      eventName: "INSERT",
      dynamodb: {
        Keys: { package_id: { S: item.package_id as string } },
        SequenceNumber: String(i + 1).padStart(10, "0"),
        NewImage: marshall(item, { removeUndefinedValues: true }) as never,
      },
    })),
  };
}

const amd64Index = (bucket: MemoryObjectStore): string =>
  gunzipSync(
    bucket.objects.get("dists/stable/main/binary-amd64/Packages.gz")?.body ?? new Uint8Array(),
  ).toString();

describe("one bad record never blocks the others", () => {
  const defaults = { defaultSuite: "stable", defaultComponent: "main" };
  // Fields the stanza writes itself, or that only an index may set, in any spelling.
  const collidingArb = fc
    .tuple(
      fc.constantFrom(
        "Package",
        "Version",
        "Architecture",
        "Maintainer",
        "Description",
        "SHA256",
        "SHA512",
        "Filename",
        "Size",
        "MD5sum",
        "SHA1",
      ),
      fc.boolean(),
    )
    .map(([name, lower]) => (lower ? name.toLowerCase() : name));

  it("a record whose stanza cannot be rendered is reported and skipped; its batch and a rebuild publish the rest", async () => {
    await fc.assert(
      fc.asyncProperty(collidingArb, fc.boolean(), async (field, poisonFirst) => {
        const w = world();
        const good = record("kiro", "1.0", "amd64", 0, {}) as unknown as Record<string, unknown>;
        const poison = {
          ...record("kiro-cli", "1.0", "amd64", 1, {}),
          control_extra: { [field]: "1" },
        } as unknown as Record<string, unknown>;
        for (const r of [good, poison]) w.add(r as unknown as PackageRecordInput);
        const batch = putBatch(poisonFirst ? [poison, good] : [good, poison]);
        const response = await handleStreamBatch(w.publisher, batch, defaults, logger);
        expect(response.batchItemFailures).toEqual([]);
        expect(response.report?.invalid.map((i) => i.key)).toEqual([
          JSON.stringify(poison.package_id),
        ]);
        expect(amd64Index(w.bucket)).toContain("Package: kiro\n");
        expect(amd64Index(w.bucket)).not.toContain("Package: kiro-cli\n");
        const rebuilt = await w.publisher.rebuild({ root: false });
        expect(rebuilt.invalid.map((i) => i.key)).toEqual([JSON.stringify(poison.package_id)]);
        expect(amd64Index(w.bucket)).toContain("Package: kiro\n");
      }),
      { numRuns: 12 },
    );
  });

  it("when a publication fails, the batch reports the record that fails, not its first record", async () => {
    const w = world();
    const good = record("kiro", "1.0", "amd64", 0, {}) as unknown as Record<string, unknown>;
    const broken = record("kiro-cli", "1.0", "amd64", 0, {}) as unknown as Record<string, unknown>;
    for (const r of [good, broken]) w.add(r as unknown as PackageRecordInput);
    // The table fails every read that includes the broken id (as a throttled partition would).
    const getMany = w.records.getMany.bind(w.records);
    w.records.getMany = async (ids) => {
      if (ids.includes(broken.package_id as string))
        throw new Error("ProvisionedThroughputExceeded");
      return getMany(ids);
    };
    const response = await handleStreamBatch(
      w.publisher,
      putBatch([good, broken]),
      defaults,
      logger,
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: "0000000002" }]);
    expect(amd64Index(w.bucket)).toContain("Package: kiro\n");
  });
});

describe("a record whose pool file is not its own is held back", () => {
  it("keeps the previous version published, reports the key and reason, and publishes it once its file is there", async () => {
    for (const kind of ["missing", "other bytes", "other size"] as const) {
      const w = world();
      const v1 = record("kiro", "1.0", "amd64", 0, {});
      w.add(v1);
      await w.publisher.publishChanges([{ id: v1.package_id, locations: [] }]);
      const v2 = record("kiro", "2.0", "amd64", 0, {});
      w.add(v2, kind);
      const report = await w.publisher.publishChanges([{ id: v2.package_id, locations: [] }]);
      expect(
        report.heldBack.map((h) => [h.id, h.filename]),
        kind,
      ).toEqual([[v2.package_id, v2.filename]]);
      expect(report.heldBack[0]?.problem, kind).toMatch(
        kind === "missing" ? /missing/ : kind === "other size" ? /bytes/ : /MD5/,
      );
      expect([...listedIds(w.bucket)], kind).toEqual([v1.package_id]);
      // A rebuild holds it back as well, and changes nothing.
      const rebuilt = await w.publisher.rebuild({ root: false });
      expect(
        rebuilt.heldBack.map((h) => h.id),
        kind,
      ).toEqual([v2.package_id]);
      expect(rebuilt.published, kind).toEqual([]);
      // Its file is uploaded; the next write of the record publishes it.
      w.add(v2, "present");
      const again = await w.publisher.publishChanges([{ id: v2.package_id, locations: [] }]);
      expect(again.heldBack, kind).toEqual([]);
      expect(listedIds(w.bucket), kind).toEqual(new Set([v1.package_id, v2.package_id]));
    }
  });

  it("a rebuild publishes a held-back record once its file is there", async () => {
    const w = world();
    const r = record("kiro", "1.0", "amd64", 0, {});
    w.add(r, "missing");
    expect((await w.publisher.rebuild({ root: false })).heldBack.map((h) => h.id)).toEqual([
      r.package_id,
    ]);
    expect(listedIds(w.bucket).size).toBe(0);
    putPoolFile(w.bucket, r, "present");
    const rebuilt = await w.publisher.rebuild({ root: false });
    expect(rebuilt.heldBack).toEqual([]);
    expect([...listedIds(w.bucket)]).toEqual([r.package_id]);
  });
});

describe("poolProblem", () => {
  const hexArb = fc.stringMatching(/^[0-9a-f]{32}$/);
  it("compares the size always, and the MD5 only when the ETag states one", () => {
    fc.assert(
      fc.property(
        fc.nat(10_000),
        fc.nat(10_000),
        hexArb,
        hexArb,
        fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
        (size, fileSize, md5Hash, etagHex, parts) => {
          const etag = parts === undefined ? `"${etagHex}"` : `"${etagHex}-${parts}"`;
          const problem = poolProblem({ size, etag }, { file_size: fileSize, md5_hash: md5Hash });
          const ok = size === fileSize && (parts !== undefined || etagHex === md5Hash);
          expect(problem === undefined).toBe(ok);
          expect(poolProblem(undefined, { file_size: fileSize, md5_hash: md5Hash })).toBe(
            "missing from the pool",
          );
        },
      ),
    );
  });

  it("reads an ETag's MD5 in any case, with or without quotes, and none from a multipart one", () => {
    expect(etagMd5('"D41D8CD98F00B204E9800998ECF8427E"')).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(etagMd5("d41d8cd98f00b204e9800998ecf8427e")).toBe("d41d8cd98f00b204e9800998ecf8427e");
    expect(etagMd5('"d41d8cd98f00b204e9800998ecf8427e-12"')).toBeUndefined();
    expect(etagMd5(undefined)).toBeUndefined();
  });
});

describe("write order", () => {
  it("waits for InRelease's second before the plain index paths, then writes Release, Release.gpg and InRelease at once", async () => {
    const records = new MemoryRecords();
    const bucket = new MemoryObjectStore();
    const calls: string[] = [];
    const recording: ObjectStore = {
      get: (key) => bucket.get(key),
      list: (prefix) => bucket.list(prefix),
      delete: (keys) => bucket.delete(keys),
      head: (key) => {
        calls.push(`head ${key}`);
        return bucket.head(key);
      },
      put: (key, body, headers) => {
        calls.push(`put ${key}`);
        return bucket.put(key, body, headers);
      },
      copy: (from, to, headers) => {
        calls.push(`copy ${to}`);
        return bucket.copy(from, to, headers);
      },
    };
    const make = () =>
      new Publisher({
        records,
        bucket: recording,
        state,
        keys,
        settings,
        logger,
        lastModifiedGranularityMs: 1000,
      });
    const state = new MemoryStateStore();
    const first = record("kiro", "1.0", "amd64", 0, {});
    putPoolFile(bucket, first, "present");
    records.items.set(first.package_id, first as unknown as Record<string, unknown>);
    await make().rebuild({ root: false });
    const second = record("kiro", "1.1", "amd64", 0, {});
    putPoolFile(bucket, second, "present");
    records.items.set(second.package_id, second as unknown as Record<string, unknown>);
    calls.length = 0;
    // A cold process: it asks the bucket when the current InRelease was written.
    await make().publishChanges([{ id: second.package_id, locations: [] }]);
    const plain = calls.findIndex((c) => /^copy dists\/stable\/.*\/Packages\.(gz|xz)$/.test(c));
    expect(calls.indexOf("head dists/stable/InRelease")).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf("head dists/stable/InRelease")).toBeLessThan(plain);
    expect(calls.slice(plain)).toEqual([
      "copy dists/stable/main/binary-amd64/Packages.gz",
      "copy dists/stable/main/binary-amd64/Packages.xz",
      "put dists/stable/Release",
      "put dists/stable/Release.gpg",
      "put dists/stable/InRelease",
    ]);
  });
});
