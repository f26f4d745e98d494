// The store's pure rules (what conflicts, which record is newest) and, with a mocked client (the
// only place mocks are used), how it survives throttling, server errors and unprocessed keys.
// Everything else is tested against DynamoDB Local in store.int.test.ts.
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  type ScanCommand,
  ThrottlingException,
} from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { canonicalVersion } from "../debian/canonical-version";
import { compareVersions } from "../debian/version";
import { recordToItem } from "../record/dynamo";
import { compareRecords, newestRecord } from "../record/order";
import { type PackageRecord, type PackageRecordInput, toRecord } from "../record/schema";
import { recordArb } from "../testing/record-arbitrary";
import { buildRecordArb, pinnedFileArb, rekey } from "../testing/store-arbitrary";
import { StoreError, type StoreOperation, TransientError, VersionExistsError } from "./errors";
import { conflictingAttributes, PackageStore } from "./store";

const kiro: PackageRecordInput = {
  package_id: "kiro#0.7.45#amd64",
  package_name: "kiro",
  version: "0.7.45",
  architecture: "amd64",
  source: "upstream",
  filename: "pool/main/k/kiro/kiro_0.7.45_amd64.deb",
  file_size: 123456,
  md5_hash: "0".repeat(32),
  sha1_hash: "1".repeat(40),
  sha256_hash: "2".repeat(64),
  sha512_hash: "3".repeat(128),
  maintainer: "Kiro Team <support@kiro.dev>",
  description: "The Kiro IDE\n An agentic IDE.",
  depends: "libc6 (>= 2.31)",
  processed_timestamp: "2026-11-24T12:00:00.000Z",
};

const kiroFile = {
  filename: "pool/main/k/kiro/kiro_0.7.45_amd64.deb",
  file_size: 123456,
  md5_hash: "0".repeat(32),
  sha1_hash: "1".repeat(40),
  sha256_hash: "2".repeat(64),
  sha512_hash: "3".repeat(128),
};

const anyRecordArb = fc.oneof(recordArb, buildRecordArb);

/** Provenance a re-run may legitimately change. */
const provenanceArb = fc.record(
  {
    processed_timestamp: fc
      .date({ min: new Date("2020-01-01"), max: new Date("2040-01-01"), noInvalidDate: true })
      .map((d) => d.toISOString()),
    notes: fc.string({ maxLength: 30 }),
    pub_date: fc.string({ maxLength: 30 }),
    deb_url: fc.webUrl(),
    certificate_url: fc.webUrl(),
    signature_url: fc.webUrl(),
    actual_filename: fc.string({ maxLength: 30 }),
  },
  { requiredKeys: [] },
);

describe("conflictingAttributes", () => {
  it("finds none between a record and itself re-run with other provenance", () => {
    fc.assert(
      fc.property(anyRecordArb, provenanceArb, fc.boolean(), (input, provenance, migrated) => {
        const rerun: PackageRecordInput = { ...input, ...provenance };
        // A migration re-writing what the poller wrote is a re-run too.
        if (migrated && input.source !== "build") rerun.source = "migration";
        expect(conflictingAttributes(toRecord(input), toRecord(rerun))).toEqual([]);
        expect(conflictingAttributes(toRecord(rerun), toRecord(input))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  // Each change alters what apt would see (stanza, file, location): named, and nothing else.
  const changes: [string, (r: PackageRecordInput) => PackageRecordInput][] = [
    ["sha256_hash", (r) => ({ ...r, sha256_hash: flipHex(r.sha256_hash ?? "") })],
    ["file_size", (r) => ({ ...r, file_size: (r.file_size ?? 0) + 1 })],
    ["filename", (r) => ({ ...r, filename: "pool/main/o/other/other_1_all.deb" })],
    ["description", (r) => ({ ...r, description: `${r.description}\n more` })],
    ["maintainer", (r) => ({ ...r, maintainer: `${r.maintainer}x` })],
    ["depends", (r) => ({ ...r, depends: r.depends === undefined ? "libc6" : `${r.depends}, x` })],
    ["homepage", (r) => ({ ...r, homepage: r.homepage ? undefined : "https://kiro.dev" })],
    ["suite", (r) => ({ ...r, suite: r.suite === "testing" ? "stable" : "testing" })],
    ["component", (r) => ({ ...r, component: r.component === "extra" ? "main" : "extra" })],
    ["installed_size", (r) => ({ ...r, installed_size: (r.installed_size ?? 0) + 1 })],
    ["control_extra", (r) => ({ ...r, control_extra: { ...r.control_extra, "X-Added": "1" } })],
  ];

  it("names exactly the attribute whose published value changed", () => {
    fc.assert(
      fc.property(recordArb, fc.constantFrom(...changes), (input, [attribute, change]) => {
        const changed = change(input);
        expect(conflictingAttributes(toRecord(input), toRecord(changed))).toEqual([attribute]);
        expect(conflictingAttributes(toRecord(changed), toRecord(input))).toEqual([attribute]);
      }),
      { numRuns: 300 },
    );
  });

  it("matches an unpinned build record with its pinned self, never with other contents", () => {
    fc.assert(
      fc.property(
        buildRecordArb.chain((r) => fc.tuple(fc.constant(r), pinnedFileArb(r), pinnedFileArb(r))),
        ([input, pin, otherPin]) => {
          const pinned = toRecord({ ...input, ...pin });
          expect(conflictingAttributes(pinned, toRecord(input))).toEqual([]);
          expect(conflictingAttributes(toRecord(input), pinned)).toEqual([]);
          const repinned = toRecord({ ...input, ...otherPin });
          const expected = (
            ["file_size", "md5_hash", "sha1_hash", "sha256_hash", "sha512_hash"] as const
          )
            .filter((k) => pin[k] !== otherPin[k])
            .sort();
          expect(conflictingAttributes(pinned, repinned)).toEqual(expected);
          const contents = input.contents ?? [];
          const edited = toRecord({
            ...input,
            contents: [...contents, { path: "/added/by/edit", content: "x" }],
          });
          expect(conflictingAttributes(pinned, edited)).toEqual(["contents"]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("compares bytes by content, whatever their class", () => {
    const base = {
      ...kiro,
      package_id: "kiro-repo#1#all",
      package_name: "kiro-repo",
      version: "1",
      architecture: "all" as const,
      source: "build" as const,
      filename: undefined,
      file_size: undefined,
      sha256_hash: undefined,
    };
    const a = toRecord({ ...base, contents: [{ path: "/a", content: new Uint8Array([1, 2]) }] });
    const b = toRecord({ ...base, contents: [{ path: "/a", content: Buffer.from([1, 2]) }] });
    const c = toRecord({ ...base, contents: [{ path: "/a", content: Buffer.from([1, 3]) }] });
    const d = toRecord({ ...base, contents: [{ path: "/a", content: "\u0001\u0002" }] });
    expect(conflictingAttributes(a, b)).toEqual([]);
    expect(conflictingAttributes(a, c)).toEqual(["contents"]);
    expect(conflictingAttributes(a, d)).toEqual(["contents"]);
  });

  it("tells a build record from a file-backed one of the same id", () => {
    fc.assert(
      fc.property(buildRecordArb, recordArb, (build, file) => {
        const other = toRecord(rekey(file, build.package_name, build.version, "all"));
        expect(conflictingAttributes(toRecord(build), other)).toContain("contents");
      }),
      { numRuns: 100 },
    );
  });
});

describe("newest record", () => {
  const versionsArb = fc.uniqueArray(
    fc.constantFrom(
      "1.0~rc1",
      "1.0",
      "1.0+1",
      "1.00",
      "1:0.1",
      "0:1.0",
      "10.0",
      "9.0",
      "2.0-1",
      "2.0-10",
      "2.0-9",
    ),
    // Versions dpkg finds equal (1.0, 1.00, 0:1.0) share a package_id: one record per table.
    { minLength: 1, selector: canonicalVersion },
  );

  function records(versions: readonly string[], architectures: readonly string[]) {
    return versions.flatMap((version) =>
      architectures.map((arch) =>
        toRecord(rekey(kiro, "kiro", version, arch as PackageRecordInput["architecture"])),
      ),
    );
  }

  it("picks the highest Debian version, the same whatever the order", () => {
    fc.assert(
      fc.property(
        versionsArb,
        fc.subarray(["all", "amd64", "arm64"], { minLength: 1 }),
        fc.integer(),
        (versions, archs, seed) => {
          const all = records(versions, archs);
          const shuffled = shuffle(all, seed);
          const newest = newestRecord(shuffled);
          expect(newest).toEqual(newestRecord(all));
          if (newest === undefined) return expect.unreachable();
          for (const r of all)
            expect(compareVersions(r.version, newest.version)).toBeLessThanOrEqual(0);
          // Ties: the smallest architecture, then id.
          const tied = all.filter((r) => compareVersions(r.version, newest.version) === 0);
          const first = [...tied].sort(compareRecords)[0];
          expect(newest).toEqual(first);
          // compareRecords sorts by Debian version.
          const sorted = [...shuffled].sort(compareRecords);
          for (let i = 1; i < sorted.length; i++) {
            const [a, b] = [sorted[i - 1] as PackageRecord, sorted[i] as PackageRecord];
            expect(compareVersions(a.version, b.version)).toBeLessThanOrEqual(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is not string order", () => {
    const all = records(["1.0~rc1", "1.0", "1.0+1", "10.0", "9.0", "1:0.1"], ["amd64"]);
    expect(newestRecord(all)?.version).toBe("1:0.1");
    expect(newestRecord(all.filter((r) => !r.version.includes(":")))?.version).toBe("10.0");
    expect([...all].sort(compareRecords).map((r) => r.version)).toEqual([
      "1.0~rc1",
      "1.0",
      "1.0+1",
      "9.0",
      "10.0",
      "1:0.1",
    ]);
    expect(newestRecord([])).toBeUndefined();
  });
});

describe("PackageStore options", () => {
  const client = new DynamoDBClient({ region: "us-east-1" });
  it("refuses invalid options, naming the field", () => {
    expect(() => new PackageStore({ client, tableName: "x" })).toThrow(
      /invalid options: tableName: must be a DynamoDB table name/,
    );
    expect(() => new PackageStore({ client, tableName: "packages", pageSize: 0 })).toThrow(
      /pageSize/,
    );
    expect(
      () => new PackageStore({ client, tableName: "packages", retry: { retries: -1 } }),
    ).toThrow(/retry\.retries/);
    expect(() => new PackageStore({ client: {} as DynamoDBClient, tableName: "packages" })).toThrow(
      /client: must be a DynamoDBClient/,
    );
  });

  it("refuses ids DynamoDB cannot key before sending anything", async () => {
    const store = new PackageStore({
      client,
      tableName: "packages",
      logger: pino({ level: "silent" }),
    });
    await expect(store.get("")).rejects.toThrow(/get: a package id must be a non-empty string/);
    await expect(store.getMany(["a", "x".repeat(2049)])).rejects.toThrow(/at most 2048 bytes/);
    await expect(store.versionsOf("Not A Name")).rejects.toThrow(/not a Debian package name/);
  });
});

// ---- Fault injection: the only mocked client. ----

const SECRET = "fake-secret-key-never-logged";

type Handler = (command: object, call: number) => unknown;

function faultyStore(handler: Handler, retries?: number) {
  const client = new DynamoDBClient({
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDFAKEFAKE", secretAccessKey: SECRET },
    maxAttempts: 1,
  });
  const commands: object[] = [];
  const waits: number[] = [];
  client.send = (async (command: object) => {
    commands.push(command);
    return handler(command, commands.length);
  }) as DynamoDBClient["send"];
  const lines: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void lines.push(line) });
  const store = new PackageStore({
    client,
    tableName: "packages-test",
    logger,
    retry: { retries, sleep: async (ms) => void waits.push(ms) },
  });
  const logs = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { store, commands, waits, logs, lines };
}

const throttled = () =>
  new ProvisionedThroughputExceededException({ message: "slow down", $metadata: {} });
const meta = { $metadata: {} };

describe("retries (mocked client)", () => {
  it("retries throttling twice, then succeeds, logging each retry with its context", async () => {
    const record = toRecord(kiro);
    const { store, commands, waits, logs, lines } = faultyStore((_, call) => {
      if (call === 1) throw throttled();
      if (call === 2) throw new ThrottlingException({ message: "rate exceeded", $metadata: {} });
      return meta;
    });
    await expect(store.put(record)).resolves.toBe("created");
    expect(commands.length).toBe(3);
    expect(commands.every((c) => c instanceof PutItemCommand)).toBe(true);
    expect(waits.length).toBe(2);
    const retries = logs().filter((l) => l.msg === "DynamoDB call failed, retrying");
    expect(retries.map((l) => [l.operation, l.id, l.attempt, l.table])).toEqual([
      ["put", kiro.package_id, 1, "packages-test"],
      ["put", kiro.package_id, 2, "packages-test"],
    ]);
    expect(retries[1]?.error).toMatchObject({ name: "ThrottlingException" });
    expect(lines.join("\n")).not.toContain(SECRET);
  });

  const operations: [StoreOperation, (store: PackageStore) => Promise<unknown>][] = [
    ["put", (s) => s.put(toRecord(kiro))],
    ["get", (s) => s.get(kiro.package_id)],
    ["getMany", (s) => s.getMany([kiro.package_id])],
    ["scan", (s) => s.all()],
    ["versionsOf", (s) => s.versionsOf("kiro")],
    ["pinFile", (s) => s.pinFile(kiro.package_id, kiroFile)],
    ["delete", (s) => s.delete(kiro.package_id)],
  ];

  it("gives up with a TransientError naming the operation after the configured retries", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.integer({ min: 0, max: 5 }),
        fc.constantFrom(
          throttled,
          () => new ThrottlingException({ message: "x", $metadata: {} }),
          () =>
            Object.assign(new Error("boom"), {
              name: "InternalServerError",
              $metadata: { httpStatusCode: 500 },
            }),
          () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }),
        ),
        async ([operation, run], retries, fault) => {
          const { store, commands, logs } = faultyStore(() => {
            throw fault();
          }, retries);
          const error = await run(store).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(TransientError);
          const transient = error as TransientError;
          expect(transient.operation).toBe(operation);
          expect(transient.message).toMatch(new RegExp(`^${operation}\\b`));
          expect(transient.attempts).toBe(retries + 1);
          expect(commands.length).toBe(retries + 1);
          if (operation !== "getMany" && operation !== "scan") {
            expect(transient.id).toBe(operation === "versionsOf" ? "kiro" : kiro.package_id);
          }
          expect(logs().filter((l) => l.msg === "DynamoDB call failed, retrying").length).toBe(
            retries,
          );
        },
      ),
      { numRuns: 60 },
    );
  });

  it("defaults to 3 retries", async () => {
    const { store, commands } = faultyStore(() => {
      throw throttled();
    });
    await expect(store.get("x")).rejects.toThrow(TransientError);
    expect(commands.length).toBe(4);
  });

  it("does not retry a client error, and types it as a StoreError with its cause", async () => {
    const validation = Object.assign(new Error("bad key"), {
      name: "ValidationException",
      $metadata: { httpStatusCode: 400 },
    });
    const { store, commands } = faultyStore(() => {
      throw validation;
    });
    const error = await store.get("x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(TransientError);
    expect((error as StoreError).cause).toBe(validation);
    expect((error as StoreError).message).toBe('get "x": ValidationException: bad key');
    expect(commands.length).toBe(1);
  });

  it("asks again for the keys BatchGetItem left unprocessed, and only for those", async () => {
    const ids = Array.from({ length: 250 }, (_, i) => `kiro#1.${i}#amd64`);
    const items = new Map(
      ids.map((id, i) => [id, recordToItem(rekey(kiro, "kiro", `1.${i}`, "amd64"))]),
    );
    const requested: string[][] = [];
    const { store, waits } = faultyStore((command, call) => {
      if (!(command instanceof BatchGetItemCommand)) throw new Error("unexpected command");
      const keys = (command.input.RequestItems?.["packages-test"]?.Keys ?? []).map(
        (k) => k.package_id?.S ?? "",
      );
      requested.push(keys);
      // The first answer leaves its last 30 keys unprocessed.
      const [done, left] = call === 1 ? [keys.slice(0, -30), keys.slice(-30)] : [keys, []];
      return {
        ...meta,
        Responses: {
          "packages-test": done.flatMap((id) => {
            const item = items.get(id);
            return item === undefined ? [] : [item];
          }),
        },
        UnprocessedKeys:
          left.length > 0
            ? { "packages-test": { Keys: left.map((id) => ({ package_id: { S: id } })) } }
            : {},
      };
    });
    const result = await store.getMany([...ids, ...ids.slice(0, 10), "absent#1#all"]);
    expect(requested.map((r) => r.length)).toEqual([100, 30, 100, 51]);
    expect(requested[1]).toEqual(ids.slice(70, 100));
    expect(waits.length).toBe(1);
    expect([...result.keys()]).toEqual([...ids, "absent#1#all"]);
    for (const id of ids)
      expect(result.get(id)).toMatchObject({ ok: true, record: { package_id: id } });
    expect(result.get("absent#1#all")).toBeUndefined();
  });

  it("gives up on keys that stay unprocessed, naming them", async () => {
    const { store, commands } = faultyStore((command) => {
      const keys =
        (command as BatchGetItemCommand).input.RequestItems?.["packages-test"]?.Keys ?? [];
      return { ...meta, Responses: {}, UnprocessedKeys: { "packages-test": { Keys: keys } } };
    }, 2);
    const error = await store.getMany(["a#1#all"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).message).toBe(
      'getMany: failed after 3 attempts: UnprocessedKeysError: 1 keys left unprocessed ("a#1#all")',
    );
    expect(commands.length).toBe(3);
  });

  it("resumes a scan after a dropped connection, from the page it was on", async () => {
    const pages = [0, 1, 2].map((p) => ({
      ...meta,
      Items: [recordToItem(rekey(kiro, "kiro", `1.${p}`, "amd64"))],
      LastEvaluatedKey: p < 2 ? { package_id: { S: `kiro#1.${p}#amd64` } } : undefined,
    }));
    const starts: (string | undefined)[] = [];
    const { store } = faultyStore((command, call) => {
      const start = (command as ScanCommand).input.ExclusiveStartKey?.package_id?.S;
      starts.push(start);
      if (call === 2) throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      return pages[start === undefined ? 0 : Number(start.split("#")[1]?.slice(2)) + 1];
    });
    const { records, invalid } = await store.all();
    expect(records.map((r) => r.version)).toEqual(["1.0", "1.1", "1.2"]);
    expect(invalid).toEqual([]);
    expect(starts).toEqual([undefined, "kiro#1.0#amd64", "kiro#1.0#amd64", "kiro#1.1#amd64"]);
  });

  it("reads the stored item itself where a failed condition does not return it", async () => {
    const stored = recordToItem({ ...kiro, sha256_hash: "f".repeat(64) });
    const { store, commands } = faultyStore((command) => {
      if (command instanceof PutItemCommand) {
        throw new ConditionalCheckFailedException({ message: "failed", $metadata: {} });
      }
      if (command instanceof GetItemCommand) {
        expect(command.input.ConsistentRead).toBe(true);
        return { ...meta, Item: stored };
      }
      throw new Error("unexpected command");
    });
    const error = await store.put(toRecord(kiro)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VersionExistsError);
    expect((error as VersionExistsError).differences).toEqual(["sha256_hash"]);
    expect(commands.map((c) => c.constructor.name)).toEqual(["PutItemCommand", "GetItemCommand"]);
  });
});

function flipHex(hex: string): string {
  return (hex[0] === "0" ? "1" : "0") + hex.slice(1);
}

function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
