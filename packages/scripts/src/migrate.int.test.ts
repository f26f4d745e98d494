// migrate against DynamoDB Local and s3rver: a legacy table keyed by version, one item without
// hashes (its .deb under the old key), one complete, one with an invalid version.
import { readFileSync } from "node:fs";
import { controlDescription, loadConfig } from "@app/core/config";
import { debHashes, parseParagraph, writeDeb } from "@app/core/debian";
import { poolPath, toRecord } from "@app/core/record";
import { ensureTable, PackageStore } from "@app/core/store";
import { scratch } from "@app/core/testing";
import {
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./cli";
import { type DynamoDbLocal, startDynamoDbLocal } from "./local/dynamodb-local";
import { freePort } from "./local/ports";
import { localS3ClientConfig, type S3Local, startS3Local } from "./local/s3-local";
import { localDynamoDbClient } from "./local/testing";
import { type MigrateParams, migrate, normaliseTimestamp } from "./migrate";

const BUCKET = "repo";
let ddb: DynamoDbLocal | undefined;
let s3local: S3Local | undefined;
let dynamo: DynamoDBClient;
let s3: S3Client;
let backups: ReturnType<typeof scratch>;
let tables = 0;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

const deb = writeDeb({
  control: parseParagraph(
    "Package: kiro\nVersion: 0.7.45\nArchitecture: amd64\nMaintainer: Kiro Team <support@kiro.dev>\nDescription: Kiro\n",
  ),
  files: [{ path: "/usr/share/kiro/README", content: "kiro\n" }],
});
const LEGACY_KEY = "pool/main/k/kiro/kiro-ide-0.7.45-stable-linux-x64.deb";

const legacyItems = [
  {
    version: "0.7.45",
    deb_url:
      "https://prod.download.desktop.kiro.dev/releases/stable/linux-x64/signed/0.7.45/deb/kiro-ide-0.7.45-stable-linux-x64.deb",
    certificate_url: "https://prod.download.desktop.kiro.dev/0.7.45/certificate.pem",
    signature_url: "https://prod.download.desktop.kiro.dev/0.7.45/signature.bin",
    notes: "Fixes.",
    pub_date: "2025-10-01T12:00:00Z",
    actual_filename: "kiro-ide-0.7.45-stable-linux-x64.deb",
    processed_timestamp: "2025-10-01T13:00:00.123456",
  },
  {
    version: "0.7.40",
    actual_filename: "kiro-ide-0.7.40-stable-linux-x64.deb",
    file_size: 1234,
    md5_hash: "a".repeat(32),
    sha1_hash: "b".repeat(40),
    sha256_hash: "c".repeat(64),
    sha512_hash: "d".repeat(128),
    processed_timestamp: "2025-09-01T10:00:00+02:00",
  },
  { version: "not a version!", processed_timestamp: "2025-08-01T00:00:00" },
];

beforeAll(async () => {
  ddb = await startDynamoDbLocal({ port: await freePort() });
  s3local = await startS3Local({ port: await freePort(), buckets: [BUCKET] });
  dynamo = localDynamoDbClient(ddb.endpoint, 1);
  s3 = new S3Client(localS3ClientConfig(s3local.endpoint));
  backups = scratch("migrate-backups-");
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: LEGACY_KEY, Body: deb }));
});

afterAll(async () => {
  dynamo?.destroy();
  s3?.destroy();
  backups?.cleanup();
  await s3local?.stop();
  await ddb?.stop();
});

/** A legacy table holding the three items, and an empty package table. */
async function tablesWithLegacyItems(): Promise<{ legacyTable: string; tableName: string }> {
  const n = ++tables;
  const legacyTable = `kiro-legacy-${n}`;
  await dynamo.send(
    new CreateTableCommand({
      TableName: legacyTable,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "version", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "version", KeyType: "HASH" }],
    }),
  );
  await waitUntilTableExists({ client: dynamo, maxWaitTime: 60 }, { TableName: legacyTable });
  for (const item of legacyItems) {
    await dynamo.send(new PutItemCommand({ TableName: legacyTable, Item: marshall(item) }));
  }
  const tableName = `packages-${n}`;
  await ensureTable(dynamo, tableName);
  return { legacyTable, tableName };
}

function params(t: { legacyTable: string; tableName: string }, now: Date): MigrateParams {
  return {
    root: PROJECT_ROOT,
    stage: "local",
    dynamo,
    s3,
    bucket: BUCKET,
    backupDir: backups.dir,
    logger,
    now,
    ...t,
  };
}

async function items(table: string): Promise<Record<string, unknown>[]> {
  const out = await dynamo.send(new ScanCommand({ TableName: table }));
  return (out.Items ?? []).map((i) => unmarshall(i));
}

describe("migrate", () => {
  it("migrates the valid items, reports the invalid one, backs up first, and reruns skip", async () => {
    const t = await tablesWithLegacyItems();
    const report = await migrate(params(t, new Date("2026-01-01T00:00:00Z")));
    expect(report.total).toBe(3);
    expect(report.migrated).toBe(2);
    expect(report.skipped).toBe(0);
    expect(report.errors.map((e) => [e.key, e.step])).toEqual([
      ["version=not a version!", "transform and validate"],
    ]);
    expect(report.errors[0]?.problems.join("\n")).toMatch(/^version: /m);

    // The backup: every legacy item, as DynamoDB JSON, one a line.
    if (report.backup === undefined) throw new Error("no backup");
    const lines = readFileSync(report.backup, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    const restored = lines.map((l) => unmarshall(JSON.parse(l)));
    expect(restored.map((i) => i.version).sort()).toEqual(legacyItems.map((i) => i.version).sort());

    const config = await loadConfig(PROJECT_ROOT, "local");
    const kiro = config.packages.get("kiro");
    if (kiro === undefined) throw new Error("no kiro config");
    const store = new PackageStore({ client: dynamo, tableName: t.tableName, logger });
    const hashed = await store.get("kiro#0.7.45#amd64");
    if (!hashed?.ok) throw new Error(`0.7.45 not migrated: ${JSON.stringify(hashed)}`);
    const h = debHashes(deb);
    expect(hashed.record).toMatchObject({
      package_name: "kiro",
      architecture: "amd64",
      source: "migration",
      filename: poolPath("main", "kiro", "0.7.45", "amd64"),
      file_size: h.size,
      md5_hash: h.md5,
      sha1_hash: h.sha1,
      sha256_hash: h.sha256,
      sha512_hash: h.sha512,
      maintainer: kiro.maintainer,
      description: controlDescription(kiro),
      section: kiro.section,
      priority: kiro.priority,
      homepage: kiro.homepage,
      notes: "Fixes.",
      processed_timestamp: "2025-10-01T13:00:00.123Z",
    });
    // The .deb found under its legacy key is now at its pool path too, byte for byte.
    const copied = await s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: poolPath("main", "kiro", "0.7.45", "amd64") }),
    );
    expect(Buffer.from((await copied.Body?.transformToByteArray()) ?? [])).toEqual(
      Buffer.from(deb),
    );

    const complete = await store.get("kiro#0.7.40#amd64");
    if (!complete?.ok) throw new Error(`0.7.40 not migrated: ${JSON.stringify(complete)}`);
    expect(complete.record).toMatchObject({
      file_size: 1234,
      sha256_hash: "c".repeat(64),
      processed_timestamp: "2025-09-01T08:00:00.000Z",
    });
    expect(await items(t.tableName)).toHaveLength(2);

    // Rerun: both are already there.
    const again = await migrate(params(t, new Date("2026-01-01T00:05:00Z")));
    expect(again).toMatchObject({ total: 3, migrated: 0, skipped: 2 });
    expect(again.errors).toHaveLength(1);
    expect(again.backup).not.toBe(report.backup);
    expect(await items(t.tableName)).toHaveLength(2);
  });

  it("--dry-run shows old and new forms and writes nothing", async () => {
    const t = await tablesWithLegacyItems();
    const report = await migrate({ ...params(t, new Date()), dryRun: true });
    expect(report).toMatchObject({ total: 3, migrated: 0, skipped: 0, backup: undefined });
    expect(report.plan).toHaveLength(3);
    const byVersion = new Map(report.plan.map((p) => [p.old.version, p.new?.package_id]));
    expect(byVersion).toEqual(
      new Map([
        ["0.7.45", "kiro#0.7.45#amd64"],
        ["0.7.40", "kiro#0.7.40#amd64"],
        ["not a version!", undefined],
      ]),
    );
    expect(await items(t.tableName)).toHaveLength(0);
  });

  it("reports an item whose .deb is nowhere and a conflicting version; stops on a missing table", async () => {
    const t = await tablesWithLegacyItems();
    await dynamo.send(
      new PutItemCommand({
        TableName: t.legacyTable,
        Item: marshall({ version: "0.6.1", actual_filename: "kiro-ide-0.6.1.deb" }),
      }),
    );
    // Another writer already holds 0.7.40 with other bytes: a version is written once.
    const store = new PackageStore({ client: dynamo, tableName: t.tableName, logger });
    const other = (await migrate({ ...params(t, new Date()), dryRun: true })).plan.find(
      (p) => p.old.version === "0.7.40",
    )?.new;
    if (other === undefined) throw new Error("no plan for 0.7.40");
    await store.put(toRecord({ ...other, source: "manual", sha256_hash: "e".repeat(64) }));

    const report = await migrate(params(t, new Date("2026-02-01T00:00:00Z")));
    expect(report.migrated).toBe(1);
    const missing = report.errors.find((e) => e.key === "version=0.6.1");
    expect(missing?.problems.join()).toMatch(/no \.deb to compute them from/);
    const conflict = report.errors.find((e) => e.key === "version=0.7.40");
    expect(conflict?.step).toBe("write records");
    expect(conflict?.problems.join()).toMatch(/sha256_hash/);
    expect(report.errors).toHaveLength(3);

    const failed = await migrate({
      ...params(t, new Date("2026-02-01T00:01:00Z")),
      legacyTable: "no-such-table",
    }).catch((e: unknown) => e);
    expect((failed as { step?: string }).step).toBe("back up legacy table");
  });
});

describe("normaliseTimestamp", () => {
  it("reads legacy timestamps as UTC when they have no zone", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(normaliseTimestamp("2025-01-02T03:04:05", now)).toBe("2025-01-02T03:04:05.000Z");
    expect(normaliseTimestamp("2025-01-02T03:04:05+01:00", now)).toBe("2025-01-02T02:04:05.000Z");
    expect(normaliseTimestamp(undefined, now)).toBe(now.toISOString());
    expect(() => normaliseTimestamp("yesterday", now)).toThrow(/not a date/);
  });
});
