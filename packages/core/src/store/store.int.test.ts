// The store against a real DynamoDB Local (AWS's own, Java): conditions, the GSI, pagination,
// BatchGetItem and invalid items behave as they will in the cloud. No mocks here.
import { DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import fc from "fast-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DynamoDbLocal,
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  startDynamoDbLocal,
} from "../../../scripts/src/local/dynamodb-local";
import { freePort } from "../../../scripts/src/local/ports";
import { compareVersions } from "../debian/version";
import { newestRecord } from "../record/order";
import { poolPath } from "../record/pool";
import { type PackageRecord, type PackageRecordInput, packageId, toRecord } from "../record/schema";
import { recordArb, versionArb } from "../testing/record-arbitrary";
import { buildRecordArb, pinnedFileArb, rekey } from "../testing/store-arbitrary";
import {
  EqualVersionExistsError,
  PinnedMismatchError,
  RecordNotFoundError,
  StoreError,
  VersionExistsError,
} from "./errors";
import { PackageStore, type PackageStoreOptions } from "./store";
import { ensureTable } from "./table";

let ddb: DynamoDbLocal | undefined;
let client: DynamoDBClient;
/** Commands the client sent, by name: proves pagination really took several requests. */
const sent: string[] = [];

beforeAll(async () => {
  ddb = await startDynamoDbLocal({ port: await freePort() });
  client = new DynamoDBClient({
    endpoint: ddb.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.push(String(context.commandName));
      return next(args);
    },
    { step: "initialize", name: "countCommands" },
  );
});

afterAll(async () => {
  client?.destroy();
  const pid = ddb?.pid;
  await ddb?.stop();
  // The Java process must be gone, not orphaned.
  if (pid !== undefined) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
});

let tables = 0;
/** A store over a fresh, empty table. */
async function freshStore(options: Partial<PackageStoreOptions> = {}) {
  const tableName = `packages-${process.pid}-${++tables}`;
  await ensureTable(client, tableName);
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const store = new PackageStore({ client, tableName, logger, ...options });
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { store, tableName, logs };
}

let names = 0;
/** The record under a package name no other run uses. */
function fresh(record: PackageRecordInput): PackageRecordInput {
  return rekey(record, `${record.package_name.slice(0, 10)}-u${++names}`);
}

const anyRecordArb = fc.oneof(recordArb, buildRecordArb);
const RUNS = { numRuns: 40 };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.unreachable("must reject"),
    (error: unknown) => error,
  );
}

describe("put and get", () => {
  it("round-trips every record: get returns exactly what was put", async () => {
    const { store } = await freshStore();
    await fc.assert(
      fc.asyncProperty(anyRecordArb, async (input) => {
        const record = toRecord(fresh(input));
        expect(await store.put(record)).toBe("created");
        expect(await store.get(record.package_id)).toEqual({ ok: true, record });
        expect(await store.get(record.package_id, { consistent: false })).toEqual({
          ok: true,
          record,
        });
      }),
      RUNS,
    );
    expect(await store.get("nothing#1#all")).toBeUndefined();
  });

  it("writes a version once: the same data again is a no-op, first write wins", async () => {
    const { store } = await freshStore();
    await fc.assert(
      fc.asyncProperty(
        anyRecordArb,
        fc.date({ min: new Date("2020-01-01"), max: new Date("2040-01-01"), noInvalidDate: true }),
        fc.string({ maxLength: 20 }),
        async (input, when, notes) => {
          const record = toRecord(fresh(input));
          expect(await store.put(record)).toBe("created");
          expect(await store.put(record)).toBe("unchanged");
          const rerun = toRecord({
            ...record,
            processed_timestamp: when.toISOString(),
            notes,
            pub_date: when.toUTCString(),
          });
          expect(await store.put(rerun)).toBe("unchanged");
          expect(await store.get(record.package_id)).toEqual({ ok: true, record });
        },
      ),
      RUNS,
    );
  });

  it("refuses other data under an existing id, naming the id and what differs", async () => {
    const { store } = await freshStore();
    const changes: [string, (r: PackageRecordInput) => PackageRecordInput][] = [
      ["sha256_hash", (r) => ({ ...r, sha256_hash: flipHex(r.sha256_hash ?? "") })],
      ["file_size", (r) => ({ ...r, file_size: (r.file_size ?? 0) + 1 })],
      ["description", (r) => ({ ...r, description: `${r.description}\n changed` })],
      ["depends", (r) => ({ ...r, depends: r.depends === undefined ? "libc6" : undefined })],
      ["suite", (r) => ({ ...r, suite: "testing" })],
    ];
    await fc.assert(
      fc.asyncProperty(
        recordArb,
        fc.constantFrom(...changes),
        async (input, [attribute, change]) => {
          const record = toRecord(fresh(input));
          await store.put(record);
          const other = toRecord(change(record));
          const error = await rejection(store.put(other));
          expect(error).toBeInstanceOf(VersionExistsError);
          const conflict = error as VersionExistsError;
          expect(conflict.id).toBe(record.package_id);
          expect(conflict.differences).toEqual([attribute]);
          expect(conflict.message).toContain(JSON.stringify(record.package_id));
          expect(await store.get(record.package_id)).toEqual({ ok: true, record });
        },
      ),
      RUNS,
    );
  });

  it("lets exactly one of two racing puts of a new id create it", async () => {
    const { store } = await freshStore();
    await fc.assert(
      fc.asyncProperty(recordArb, fc.boolean(), async (input, same) => {
        const record = toRecord(fresh(input));
        const other = same
          ? record
          : toRecord({ ...record, file_size: (record.file_size ?? 0) + 1 });
        const outcomes = await Promise.allSettled([store.put(record), store.put(other)]);
        const created = outcomes.filter((o) => o.status === "fulfilled" && o.value === "created");
        expect(created.length).toBe(1);
        const second = outcomes.find((o) => !(o.status === "fulfilled" && o.value === "created"));
        if (same) expect(second).toEqual({ status: "fulfilled", value: "unchanged" });
        else
          expect(second).toMatchObject({
            status: "rejected",
            reason: { differences: ["file_size"] },
          });
      }),
      { numRuns: 30 },
    );
  });

  it("getMany reads more than one batch, consistently, and marks absent ids", async () => {
    const { store } = await freshStore();
    const records = fc.sample(recordArb, { numRuns: 230, seed: 42 }).map((r) => toRecord(fresh(r)));
    for (const record of records) await store.put(record);
    const before = sent.filter((c) => c === "BatchGetItemCommand").length;
    const absent = ["absent#1#all", "also-absent#2#amd64"];
    const ids = [absent[0] as string, ...records.map((r) => r.package_id), ...absent];
    const result = await store.getMany(ids);
    expect(sent.filter((c) => c === "BatchGetItemCommand").length - before).toBe(3);
    expect([...result.keys()]).toEqual([...new Set(ids)]);
    for (const record of records) {
      expect(result.get(record.package_id)).toEqual({ ok: true, record });
    }
    for (const id of absent) expect(result.get(id)).toBeUndefined();
    expect(await store.getMany([])).toEqual(new Map());
  });

  it("deletes", async () => {
    const { store } = await freshStore();
    const record = toRecord(fresh(sampleOne(recordArb, 7)));
    await store.put(record);
    expect(await store.delete(record.package_id)).toBe("deleted");
    expect(await store.get(record.package_id)).toBeUndefined();
    expect(await store.delete(record.package_id)).toBe("absent");
    // Deleted, the version may be written again (by whoever deleted it, deliberately).
    expect(await store.put(record)).toBe("created");
  });

  it("reports a missing table as a StoreError naming the operation and id", async () => {
    const store = new PackageStore({
      client,
      tableName: "no-such-table",
      logger: pino({ level: "silent" }),
    });
    const error = await rejection(store.get("kiro#1#amd64"));
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).message).toMatch(/^get "kiro#1#amd64": ResourceNotFoundException/);
  });
});

describe("pinFile", () => {
  it("pins a build record's file once; the same file again is 'already', another is refused", async () => {
    const { store } = await freshStore();
    const arb = buildRecordArb.chain((r) =>
      fc.tuple(fc.constant(r), pinnedFileArb(r), pinnedFileArb(r)),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([input, pin, otherPin]) => {
        const record = toRecord(fresh(input));
        const filename = poolPath("main", record.package_name, record.version, "all");
        const file = { ...pin, filename };
        const other = { ...otherPin, filename };
        expect(await store.put(record)).toBe("created");
        expect(await store.pinFile(record.package_id, file)).toBe("pinned");
        expect(await store.get(record.package_id)).toEqual({
          ok: true,
          record: toRecord({ ...record, ...file }),
        });
        expect(await store.pinFile(record.package_id, file)).toBe("already");
        if (other.sha256_hash !== file.sha256_hash) {
          const error = await rejection(store.pinFile(record.package_id, other));
          expect(error).toBeInstanceOf(PinnedMismatchError);
          expect((error as PinnedMismatchError).id).toBe(record.package_id);
          expect((error as PinnedMismatchError).differences).toContain("sha256_hash");
        }
        // Re-running the build script with the unpinned record changes nothing.
        expect(await store.put(record)).toBe("unchanged");
        expect(await store.get(record.package_id)).toMatchObject({
          ok: true,
          record: { sha256_hash: file.sha256_hash },
        });
      }),
      { numRuns: 30 },
    );
  });

  it("refuses a same-hash pin that disagrees on size, and racing pins agree on one file", async () => {
    const { store } = await freshStore();
    const record = toRecord(fresh(sampleOne(buildRecordArb, 3)));
    const a = sampleOne(pinnedFileArb(record), 5);
    const b = { ...sampleOne(pinnedFileArb(record), 6), sha256_hash: flipHex(a.sha256_hash) };
    await store.put(record);
    const outcomes = await Promise.allSettled([
      store.pinFile(record.package_id, a),
      store.pinFile(record.package_id, b),
    ]);
    expect(outcomes.filter((o) => o.status === "fulfilled").map((o) => o.value)).toEqual([
      "pinned",
    ]);
    expect(outcomes.filter((o) => o.status === "rejected")[0]).toMatchObject({
      reason: expect.any(PinnedMismatchError),
    });
    const winner = (await store.get(record.package_id)) as { ok: true; record: PackageRecord };
    const pinned = winner.record.sha256_hash === a.sha256_hash ? a : b;
    const error = await rejection(
      store.pinFile(record.package_id, { ...pinned, file_size: pinned.file_size + 1 }),
    );
    expect((error as PinnedMismatchError).differences).toEqual(["file_size"]);
  });

  it("never creates a record: pinning an absent id is RecordNotFoundError", async () => {
    const { store } = await freshStore();
    const record = toRecord(fresh(sampleOne(buildRecordArb, 9)));
    const file = sampleOne(pinnedFileArb(record), 9);
    const error = await rejection(store.pinFile(record.package_id, file));
    expect(error).toBeInstanceOf(RecordNotFoundError);
    expect((error as RecordNotFoundError).id).toBe(record.package_id);
    expect(await store.get(record.package_id)).toBeUndefined();
    // A malformed file is refused before anything is sent, naming the field.
    await store.put(record);
    await expect(
      store.pinFile(record.package_id, { ...file, sha256_hash: "nope" }),
    ).rejects.toThrow(/pinFile ".*": invalid file: .*sha256_hash/);
    expect(await store.get(record.package_id)).toEqual({ ok: true, record });
  });
});

describe("versions and the newest", () => {
  const tricky = ["1.0~rc1", "1.0", "1.0+1", "1:0.1", "10.0", "9.0", "2.0-9", "2.0-10"];
  const versionsArb = fc.uniqueArray(fc.oneof(fc.constantFrom(...tricky), versionArb), {
    minLength: 1,
    maxLength: 8,
  });

  it("newestOf is the maximum by Debian order of what was put, versionsOf all of them in order", async () => {
    const { store } = await freshStore({ pageSize: 3 });
    await fc.assert(
      fc.asyncProperty(
        recordArb,
        versionsArb,
        fc.subarray(["all", "amd64", "arm64"] as const, { minLength: 1 }),
        async (input, versions, archs) => {
          const base = fresh(input);
          const records = versions.flatMap((version) =>
            archs.map((arch) => toRecord(rekey(base, base.package_name, version, arch))),
          );
          for (const record of records) await store.put(record);
          const all = await store.versionsOf(base.package_name);
          expect(new Set(all.map((r) => r.package_id))).toEqual(
            new Set(records.map((r) => r.package_id)),
          );
          expect(all.length).toBe(records.length);
          for (let i = 1; i < all.length; i++) {
            const [a, b] = [all[i - 1] as PackageRecord, all[i] as PackageRecord];
            expect(compareVersions(a.version, b.version)).toBeLessThanOrEqual(0);
          }
          const newest = await store.newestOf(base.package_name);
          expect(newest).toEqual(newestRecord(records));
          if (newest === undefined) return expect.unreachable();
          for (const r of records)
            expect(compareVersions(r.version, newest.version)).toBeLessThanOrEqual(0);
          for (const arch of archs) {
            const ofArch = await store.newestOf(base.package_name, { architecture: arch });
            expect(ofArch?.architecture).toBe(arch);
            expect(compareVersions(ofArch?.version ?? "0", newest.version)).toBe(0);
          }
        },
      ),
      { numRuns: 30 },
    );
    expect(await store.newestOf("never-put")).toBeUndefined();
    expect(await store.versionsOf("never-put")).toEqual([]);
  });

  it("orders by Debian rules, where string order would be wrong", async () => {
    const { store } = await freshStore();
    const base = fresh(sampleOne(recordArb, 11));
    for (const version of ["1.0~rc1", "1.0", "1.0+1", "10.0", "9.0"]) {
      await store.put(toRecord(rekey(base, base.package_name, version, "amd64")));
    }
    expect((await store.newestOf(base.package_name))?.version).toBe("10.0");
    expect((await store.versionsOf(base.package_name)).map((r) => r.version)).toEqual([
      "1.0~rc1",
      "1.0",
      "1.0+1",
      "9.0",
      "10.0",
    ]);
    await store.put(toRecord(rekey(base, base.package_name, "1:0.1", "amd64")));
    expect((await store.newestOf(base.package_name))?.version).toBe("1:0.1");
  });

  it("newestOfEach is the newest of every package", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(recordArb, versionsArb), { minLength: 1, maxLength: 4 }),
        async (packages) => {
          const { store } = await freshStore({ pageSize: 4 });
          const expected = new Map<string, PackageRecord>();
          for (const [input, versions] of packages) {
            const base = fresh(input);
            const records = versions.map((v) => toRecord(rekey(base, base.package_name, v)));
            for (const record of records) await store.put(record);
            expected.set(base.package_name, newestRecord(records) as PackageRecord);
          }
          expect(await store.newestOfEach()).toEqual(expected);
          expect(await store.newestOfEach({ segments: 3 })).toEqual(expected);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("scan", () => {
  it("returns every item across many pages, in one segment or several", async () => {
    const { store } = await freshStore({ pageSize: 4 });
    const records = fc
      .sample(anyRecordArb, { numRuns: 37, seed: 1 })
      .map((r) => toRecord(fresh(r)));
    for (const record of records) await store.put(record);
    const byId = (rs: readonly PackageRecord[]) =>
      [...rs].sort((a, b) => (a.package_id < b.package_id ? -1 : 1));
    const before = sent.filter((c) => c === "ScanCommand").length;
    const one = await store.all();
    expect(sent.filter((c) => c === "ScanCommand").length - before).toBeGreaterThanOrEqual(10);
    expect(byId(one.records)).toEqual(byId(records));
    expect(one.invalid).toEqual([]);
    for (const segments of [2, 5, 50]) {
      const parallel = await store.all({ segments });
      expect(byId(parallel.records)).toEqual(byId(records));
    }
    // Stopping early is fine (the rest of the segments are closed).
    for await (const result of store.scan({ segments: 4 })) {
      expect(result.ok).toBe(true);
      break;
    }
    await expect(store.all({ segments: 0 })).rejects.toThrow(StoreError);
  });

  // Breakages written straight to the table: the field each must be reported under and its new
  // value (undefined: removed).
  const breakages: [string, unknown][] = [
    ["package_name", "Bad_Name"],
    ["version", "1.0 beta"],
    ["maintainer", undefined],
    ["sha256_hash", "xyz"],
    ["filename", "pool/../../etc/passwd.deb"],
    ["file_size", -1],
    ["processed_timestamp", "yesterday"],
    ["architecture", 42],
  ];

  it("reports raw invalid items with their key and every failed field, and returns the rest", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 0, maxLength: 6 }),
        fc.array(fc.tuple(recordArb, fc.subarray(breakages, { minLength: 1, maxLength: 3 })), {
          minLength: 1,
          maxLength: 4,
        }),
        async (valid, broken) => {
          const { store, tableName, logs } = await freshStore({ pageSize: 2 });
          const records = valid.map((r) => toRecord(fresh(r)));
          for (const record of records) await store.put(record);
          const expectedInvalid = new Map<string, string[]>();
          const victims: PackageRecord[] = [];
          for (const [input, breaks] of broken) {
            const clean = toRecord(fresh(input));
            const item: Record<string, unknown> = { ...clean };
            for (const [field, value] of breaks) item[field] = value;
            await client.send(
              new PutItemCommand({
                TableName: tableName,
                Item: marshall(item, { removeUndefinedValues: true }),
              }),
            );
            victims.push(clean);
            expectedInvalid.set(JSON.stringify(clean.package_id), breaks.map(([f]) => f).sort());
          }
          const { records: got, invalid } = await store.all();
          expect(new Set(got.map((r) => r.package_id))).toEqual(
            new Set(records.map((r) => r.package_id)),
          );
          expect(invalid.length).toBe(broken.length);
          expect(new Map(invalid.map((i) => [i.key, i.issues.map((x) => x.field).sort()]))).toEqual(
            expectedInvalid,
          );
          // The other views skip them and log each with its key; get says why; put never
          // overwrites one.
          expect(await store.newestOfEach()).toEqual(
            new Map(records.map((r) => [r.package_name, r])),
          );
          const skipped = logs().filter(
            (l) => l.msg === "invalid record skipped: it is never published",
          );
          expect(new Set(skipped.map((l) => l.key))).toEqual(new Set(expectedInvalid.keys()));
          for (const clean of victims) {
            const current = await store.get(clean.package_id);
            expect(current).toMatchObject({ ok: false, key: JSON.stringify(clean.package_id) });
            expect(await store.versionsOf(clean.package_name)).toEqual([]);
            const error = await rejection(store.put(clean));
            expect(error).toBeInstanceOf(VersionExistsError);
            expect((error as VersionExistsError).existingIssues).toEqual(
              current?.ok === false ? current.issues : undefined,
            );
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("versions equal to dpkg", () => {
  it("share one package_id: the first written stays, the later ones are refused by name", async () => {
    const { store } = await freshStore();
    const base = sampleOne(recordArb, 10) as PackageRecordInput;
    const name = `dup-u${++names}`;
    const spelled = (version: string) =>
      toRecord({
        ...base,
        package_name: name,
        version,
        architecture: "amd64",
        package_id: packageId(name, version, "amd64"),
        filename: poolPath("main", name, version, "amd64"),
      });
    const first = spelled("1.0");
    expect(first.package_id).toBe(`${name}#1.0#amd64`);
    expect(await store.put(first)).toBe("created");
    for (const version of ["0:1.0", "1.0-0", "01.00"]) {
      const later = spelled(version);
      expect(later.package_id).toBe(first.package_id);
      const error = await rejection(store.put(later));
      expect(error).toBeInstanceOf(EqualVersionExistsError);
      expect((error as Error).message).toContain(`version ${version} is the same version to dpkg`);
    }
    expect((await store.versionsOf(name)).map((r) => r.version)).toEqual(["1.0"]);
  });
});

function sampleOne<T>(arb: fc.Arbitrary<T>, seed: number): T {
  const [value] = fc.sample(arb, { numRuns: 1, seed });
  if (value === undefined) throw new Error("fast-check sampled nothing");
  return value;
}

function flipHex(hex: string): string {
  return (hex[0] === "0" ? "1" : "0") + hex.slice(1);
}
