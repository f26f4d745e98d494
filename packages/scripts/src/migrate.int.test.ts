// migrate against DynamoDB Local, s3rver (a repository bucket and the old deployment's bucket),
// a fake vendor on 127.0.0.1 for deb_url, the publisher and apt in an isolated root: the control
// paragraph comes from the .deb (Depends, Installed-Size), the copy crosses buckets (server-side,
// or streamed when denied), hashes are computed or checked, and a rerun writes nothing. Then a
// property over generated legacy tables.
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { debHashes, getField, parseParagraphs, writeDeb } from "@app/core/debian";
import { ensureTable, PackageStore } from "@app/core/store";
import { aptRoot, runAsync, scratch } from "@app/core/testing";
import {
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
  ScanCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { InitializeMiddleware } from "@smithy/types";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./cli";
import { type FakeUpstream, startFakeUpstream } from "./integration/fake-upstream";
import { logger, startWorld, type World, writeWorldStack } from "./integration/world";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local/dynamodb-local";
import { localS3ClientConfig } from "./local/s3-local";
import { legacyResources, type MigrateParams, migrate } from "./migrate";

const LEGACY_BUCKET = "legacy-deployment";
let world: World;
let vendor: FakeUpstream;
let backups: ReturnType<typeof scratch>;
let tables = 0;

type Refuse = (command: string, input: Record<string, unknown>) => Error | undefined;

/** Counts the commands a client sends (by name), refusing some (fault injection). */
function counter<I extends object, O extends object>(
  counts: Map<string, number>,
  refuse?: Refuse,
): InitializeMiddleware<I, O> {
  return (next, context) => async (args) => {
    const name = context.commandName ?? "?";
    counts.set(name, (counts.get(name) ?? 0) + 1);
    const error = refuse?.(name, args.input as Record<string, unknown>);
    if (error !== undefined) throw error;
    return next(args);
  };
}

function instrumented<C extends S3Client | DynamoDBClient>(
  client: C,
  refuse?: Refuse,
): { client: C; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const options = { step: "initialize", name: "countAndRefuse" } as const;
  if (client instanceof S3Client) client.middlewareStack.add(counter(counts, refuse), options);
  else client.middlewareStack.add(counter(counts, refuse), options);
  return { client, counts };
}

const WRITES =
  /^(Put|Copy|Delete|CreateMultipart|UploadPart|CompleteMultipart|Update|BatchWrite|TransactWrite)/;
const writes = (counts: Map<string, number>) =>
  [...counts].filter(([name]) => WRITES.test(name)).reduce((n, [, c]) => n + c, 0);

function s3Client(): S3Client {
  return new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
}
function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({
    endpoint: process.env.AWS_ENDPOINT_URL_DYNAMODB as string,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
}

const accessDenied = () =>
  Object.assign(new Error("Access Denied"), {
    name: "AccessDenied",
    $metadata: { httpStatusCode: 403 },
  });

/** A kiro .deb as the vendor built them: its own Depends, and Installed-Size (writeDeb adds it). */
function kiroDeb(version: string, depends = "libgtk-3-0, libnss3"): Uint8Array {
  return writeDeb({
    control: [
      { name: "Package", value: "kiro" },
      { name: "Version", value: version },
      { name: "Architecture", value: "amd64" },
      { name: "Maintainer", value: "Kiro Team <support@kiro.dev>" },
      { name: "Depends", value: depends },
      { name: "Section", value: "devel" },
      { name: "Priority", value: "optional" },
      { name: "Homepage", value: "https://kiro.dev" },
      { name: "X-Vendor-Build", value: `${version}-build` },
      { name: "Description", value: `Kiro ${version}\n The vendor's own description.` },
    ],
    files: [{ path: "/usr/share/kiro/README", content: `kiro ${version}\n` }],
    compression: "gzip",
  });
}

async function putLegacyDeb(key: string, body: Uint8Array): Promise<void> {
  await world.s3.send(new PutObjectCommand({ Bucket: LEGACY_BUCKET, Key: key, Body: body }));
}

async function legacyTable(items: readonly Record<string, unknown>[]): Promise<string> {
  const name = `kiro-legacy-${++tables}`;
  await world.dynamo.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [{ AttributeName: "version", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "version", KeyType: "HASH" }],
    }),
  );
  await waitUntilTableExists({ client: world.dynamo, maxWaitTime: 60 }, { TableName: name });
  for (const item of items) {
    await world.dynamo.send(
      new PutItemCommand({
        TableName: name,
        Item: marshall(item, { removeUndefinedValues: true }),
      }),
    );
  }
  return name;
}

async function scan(table: string): Promise<Record<string, unknown>[]> {
  const out = await world.dynamo.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (out.Items ?? [])
    .map((i) => unmarshall(i))
    .sort((a, b) => String(a.package_id).localeCompare(String(b.package_id)));
}

async function keys(bucket: string, prefix = ""): Promise<string[]> {
  const out = await world.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key as string).sort();
}

async function object(bucket: string, key: string): Promise<Buffer> {
  const out = await world.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from((await out.Body?.transformToByteArray()) ?? []);
}

function params(overrides: Partial<MigrateParams> & { legacyTable: string }): MigrateParams {
  return {
    root: PROJECT_ROOT,
    stage: "local",
    dynamo: world.dynamo,
    s3: world.s3,
    legacyBucket: LEGACY_BUCKET,
    tableName: world.tables.packages,
    bucket: world.bucket,
    backupDir: backups.dir,
    logger,
    retry: { retries: 1, baseMs: 1, maxMs: 5 },
    progress: () => ({ tick: () => undefined, done: () => undefined }),
    ...overrides,
  };
}

beforeAll(async () => {
  world = await startWorld();
  vendor = await startFakeUpstream();
  backups = scratch("migrate-backups-");
  await world.s3.send(new CreateBucketCommand({ Bucket: LEGACY_BUCKET }));
});

afterAll(async () => {
  backups?.cleanup();
  await vendor?.stop();
  await world?.stop();
});

describe("migrate from the old deployment", () => {
  const deb45 = kiroDeb("0.7.45");
  const deb40 = kiroDeb("0.7.40", "libgtk-3-0");
  const deb30 = kiroDeb("0.7.30");
  const deb20 = kiroDeb("0.7.20");
  const h40 = debHashes(deb40);
  let table: string;
  let first: Awaited<ReturnType<typeof migrate>>;

  it("migrates from the legacy bucket and deb_url with the .deb's own control paragraph, and reports the rest", async () => {
    await putLegacyDeb("pool/main/k/kiro/kiro-ide-0.7.45-stable-linux-x64.deb", deb45);
    await putLegacyDeb("releases/kiro-ide-0.7.40.deb", deb40);
    await putLegacyDeb("pool/main/k/kiro/kiro-ide-0.7.30-stable-linux-x64.deb", deb30);
    vendor.serve("/releases/0.7.20/kiro-ide-0.7.20-stable-linux-x64.deb", { body: deb20 });
    table = await legacyTable([
      // No hashes: computed while the .deb streams.
      {
        version: "0.7.45",
        actual_filename: "kiro-ide-0.7.45-stable-linux-x64.deb",
        notes: "Fixes.",
        processed_timestamp: "2025-10-01T13:00:00.123456",
      },
      // Its hashes, right; its own key.
      {
        version: "0.7.40",
        s3_key: "releases/kiro-ide-0.7.40.deb",
        file_size: h40.size,
        md5_hash: h40.md5.toUpperCase(),
        sha256_hash: h40.sha256,
      },
      // Hashes the bytes contradict.
      {
        version: "0.7.30",
        actual_filename: "kiro-ide-0.7.30-stable-linux-x64.deb",
        sha256_hash: "c".repeat(64),
      },
      // In neither bucket, but its deb_url says where it is.
      {
        version: "0.7.20",
        deb_url: `${vendor.url}/releases/0.7.20/kiro-ide-0.7.20-stable-linux-x64.deb`,
        actual_filename: "kiro-ide-0.7.20-stable-linux-x64.deb",
      },
      { version: "0.7.10", actual_filename: "kiro-ide-0.7.10.deb" },
      { version: "not a version!" },
      { version: "0:0.7.45" },
    ]);
    first = await migrate(params({ legacyTable: table, now: new Date("2026-01-01T00:00:00Z") }));
    expect({ total: first.total, migrated: first.migrated, skipped: first.skipped }).toEqual({
      total: 7,
      migrated: 3,
      skipped: 0,
    });
    const byKey = new Map(first.outcomes.map((o) => [o.key, o]));
    expect(byKey.get("version=0.7.45")).toMatchObject({
      kind: "migrated",
      via: "server-side copy",
    });
    expect(byKey.get("version=0.7.40")).toMatchObject({
      kind: "migrated",
      via: "server-side copy",
    });
    expect(byKey.get("version=0.7.20")).toMatchObject({ kind: "migrated", via: "deb_url" });
    const problems = new Map(first.errors.map((e) => [e.key, [e.step, e.problems.join("; ")]]));
    expect(problems.get("version=0.7.30")?.[0]).toBe("write records");
    expect(problems.get("version=0.7.30")?.[1]).toMatch(/contradicts.*sha256/);
    expect(problems.get("version=0.7.10")?.[1]).toMatch(
      /no \.deb: not in s3:\/\/repo\/pool\/main\/k\/kiro\/kiro_0\.7\.10_amd64\.deb, s3:\/\/legacy-deployment\/pool\/main\/k\/kiro\/kiro-ide-0\.7\.10\.deb.*no deb_url/,
    );
    expect(problems.get("version=not a version!")?.[0]).toBe("transform and validate");
    expect(problems.get("version=0:0.7.45")?.[1]).toMatch(/duplicate of version=0\.7\.45/);
    expect(first.errors).toHaveLength(4);

    // The backup: every legacy item, as DynamoDB JSON, one a line.
    const lines = readFileSync(first.backup as string, "utf8")
      .trimEnd()
      .split("\n");
    expect(lines.map((l) => unmarshall(JSON.parse(l)).version).sort()).toHaveLength(7);

    // The records: the .deb's control paragraph, not kiro.yaml's fields.
    const store = new PackageStore({
      client: world.dynamo,
      tableName: world.tables.packages,
      logger,
    });
    const r45 = await store.get("kiro#0.7.45#amd64");
    if (!r45?.ok) throw new Error(`0.7.45 not migrated: ${JSON.stringify(r45)}`);
    const h45 = debHashes(deb45);
    expect(r45.record).toMatchObject({
      source: "migration",
      filename: "pool/main/k/kiro/kiro_0.7.45_amd64.deb",
      depends: "libgtk-3-0, libnss3",
      description: "Kiro 0.7.45\n The vendor's own description.",
      control_extra: { "X-Vendor-Build": "0.7.45-build" },
      file_size: h45.size,
      md5_hash: h45.md5,
      sha1_hash: h45.sha1,
      sha256_hash: h45.sha256,
      sha512_hash: h45.sha512,
      notes: "Fixes.",
      actual_filename: "kiro-ide-0.7.45-stable-linux-x64.deb",
      processed_timestamp: "2025-10-01T13:00:00.123Z",
    });
    expect(r45.record.installed_size).toBeGreaterThan(0);
    const r20 = await store.get("kiro#0.7.20#amd64");
    expect(r20?.ok && r20.record.deb_url).toBe(
      `${vendor.url}/releases/0.7.20/kiro-ide-0.7.20-stable-linux-x64.deb`,
    );
    // Pool files, byte for byte; nothing left in staging.
    expect(await object(world.bucket, "pool/main/k/kiro/kiro_0.7.45_amd64.deb")).toEqual(
      Buffer.from(deb45),
    );
    expect(await object(world.bucket, "pool/main/k/kiro/kiro_0.7.20_amd64.deb")).toEqual(
      Buffer.from(deb20),
    );
    expect(await keys(world.bucket, "staging/")).toEqual([]);
    expect(await keys(world.bucket, "pool/main/k/kiro/kiro_0.7.30")).toEqual([]);

    // Published: the stanza carries Depends and Installed-Size, and apt sees them.
    await world.publisher.rebuild();
    const index = gunzipSync(
      await object(world.bucket, "dists/stable/main/binary-amd64/Packages.gz"),
    ).toString("utf8");
    const stanza = parseParagraphs(index, "Packages").find(
      (p) => getField(p, "Package") === "kiro" && getField(p, "Version") === "0.7.45",
    );
    if (stanza === undefined) throw new Error(`0.7.45 not published:\n${index}`);
    expect(getField(stanza, "Depends")).toBe("libgtk-3-0, libnss3");
    expect(Number(getField(stanza, "Installed-Size"))).toBeGreaterThan(0);
    expect(getField(stanza, "X-Vendor-Build")).toBe("0.7.45-build");
    const apt = aptRoot({
      url: world.repoUrl,
      suite: "stable",
      components: ["main"],
      keyring: world.keyringFile,
    });
    try {
      await apt.update();
      const shown = await apt.apt("apt-cache", ["show", "kiro=0.7.45"]);
      expect(shown.status).toBe(0);
      expect(shown.output).toMatch(/^Depends: libgtk-3-0, libnss3$/m);
      expect(shown.output).toMatch(/^Installed-Size: \d+$/m);
      expect([...(await apt.versions("kiro"))].sort()).toEqual(["0.7.20", "0.7.40", "0.7.45"]);
    } finally {
      apt.cleanup();
    }
  });

  it("a rerun skips what is migrated, reports the same, and writes nothing", async () => {
    const before = await scan(world.tables.packages);
    const bucketBefore = await keys(world.bucket, "pool/");
    const s3 = instrumented(s3Client());
    const dynamo = instrumented(dynamoClient());
    const again = await migrate(
      params({ legacyTable: table, s3: s3.client, legacyS3: s3.client, dynamo: dynamo.client }),
    );
    expect(again).toMatchObject({ total: 7, migrated: 0, skipped: 3 });
    expect(again.errors.map((e) => e.key).sort()).toEqual(first.errors.map((e) => e.key).sort());
    expect(writes(s3.counts)).toBe(0);
    expect(writes(dynamo.counts)).toBe(0);
    expect(await scan(world.tables.packages)).toEqual(before);
    expect(await keys(world.bucket, "pool/")).toEqual(bucketBefore);
    expect(again.backup).not.toBe(first.backup);
    s3.client.destroy();
    dynamo.client.destroy();
  });

  it("streams the .deb when the server-side copy from the legacy bucket is denied", async () => {
    const deb = kiroDeb("0.8.1");
    await putLegacyDeb("pool/main/k/kiro/kiro-ide-0.8.1.deb", deb);
    const t = await legacyTable([{ version: "0.8.1", actual_filename: "kiro-ide-0.8.1.deb" }]);
    const denied = instrumented(s3Client(), (command, input) =>
      command === "CopyObjectCommand" && String(input.CopySource).startsWith(`${LEGACY_BUCKET}/`)
        ? accessDenied()
        : undefined,
    );
    const tableName = `packages-denied-${++tables}`;
    await ensureTable(world.dynamo, tableName);
    const report = await migrate(
      params({ legacyTable: t, tableName, s3: denied.client, legacyS3: denied.client }),
    );
    expect(report.errors).toEqual([]);
    expect(report.outcomes).toMatchObject([{ kind: "migrated", via: "streamed (copy denied)" }]);
    // Streamed into the staging upload (one PutObject: smaller than a part), copied in-bucket.
    expect(denied.counts.get("PutObjectCommand")).toBe(1);
    expect(await object(world.bucket, "pool/main/k/kiro/kiro_0.8.1_amd64.deb")).toEqual(
      Buffer.from(deb),
    );
    const [record] = await scan(tableName);
    expect(record).toMatchObject({
      depends: "libgtk-3-0, libnss3",
      sha256_hash: debHashes(deb).sha256,
    });
    expect(await keys(world.bucket, "staging/")).toEqual([]);
    denied.client.destroy();
  });

  it("reports a legacy .deb that changed between the read and the copy", async () => {
    await putLegacyDeb("pool/main/k/kiro/kiro-ide-0.8.2.deb", kiroDeb("0.8.2"));
    const t = await legacyTable([{ version: "0.8.2", actual_filename: "kiro-ide-0.8.2.deb" }]);
    const changed = instrumented(s3Client(), (command, input) =>
      command === "CopyObjectCommand" && input.CopySourceIfMatch !== undefined
        ? Object.assign(
            new Error("At least one of the pre-conditions you specified did not hold"),
            {
              name: "PreconditionFailed",
              $metadata: { httpStatusCode: 412 },
            },
          )
        : undefined,
    );
    const tableName = `packages-changed-${++tables}`;
    await ensureTable(world.dynamo, tableName);
    const report = await migrate(
      params({ legacyTable: t, tableName, s3: changed.client, legacyS3: changed.client }),
    );
    expect(report.errors[0]?.problems.join()).toMatch(/changed while it was being migrated/);
    expect(await scan(tableName)).toEqual([]);
    changed.client.destroy();
  });

  it("--dry-run shows old and new forms and writes nothing", async () => {
    const deb = kiroDeb("0.9.1");
    await putLegacyDeb("pool/main/k/kiro/kiro-ide-0.9.1.deb", deb);
    const t = await legacyTable([
      { version: "0.9.1", actual_filename: "kiro-ide-0.9.1.deb" },
      { version: "0.9.0" },
    ]);
    const s3 = instrumented(s3Client());
    const dynamo = instrumented(dynamoClient());
    const tableName = `packages-dry-${++tables}`;
    await ensureTable(world.dynamo, tableName);
    const report = await migrate(
      params({
        legacyTable: t,
        tableName,
        dryRun: true,
        s3: s3.client,
        legacyS3: s3.client,
        dynamo: dynamo.client,
      }),
    );
    expect(report).toMatchObject({ total: 2, migrated: 0, skipped: 0, backup: undefined });
    const byVersion = new Map(report.plan.map((p) => [p.old.version, p.new]));
    expect(byVersion.get("0.9.1")).toMatchObject({
      package_id: "kiro#0.9.1#amd64",
      depends: "libgtk-3-0, libnss3",
      sha256_hash: debHashes(deb).sha256,
    });
    expect(byVersion.get("0.9.0")).toBeUndefined();
    expect(writes(s3.counts)).toBe(0);
    expect(writes(dynamo.counts)).toBe(0);
    expect(await scan(tableName)).toEqual([]);
    s3.client.destroy();
    dynamo.client.destroy();
  });

  it("copies within one bucket when no legacy bucket is named (the old layout)", async () => {
    const deb = kiroDeb("0.9.5");
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.bucket, Key: "old/kiro-ide-0.9.5.deb", Body: deb }),
    );
    const t = await legacyTable([{ version: "0.9.5", s3_key: "old/kiro-ide-0.9.5.deb" }]);
    const tableName = `packages-same-${++tables}`;
    await ensureTable(world.dynamo, tableName);
    const { legacyBucket: _, ...rest } = params({ legacyTable: t, tableName });
    const report = await migrate(rest);
    expect(report.outcomes).toMatchObject([{ kind: "migrated", via: "server-side copy" }]);
    expect(await object(world.bucket, "pool/main/k/kiro/kiro_0.9.5_amd64.deb")).toEqual(
      Buffer.from(deb),
    );
  });

  it("fetches a deb_url over https only, outside the local stage", async () => {
    const t = await legacyTable([{ version: "0.9.7", deb_url: `${vendor.url}/kiro-0.9.7.deb` }]);
    const tableName = `packages-prod-${++tables}`;
    await ensureTable(world.dynamo, tableName);
    vendor.serve("/kiro-0.9.7.deb", { body: kiroDeb("0.9.7") });
    const report = await migrate(params({ legacyTable: t, tableName, stage: "prod" }));
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]?.problems.join()).toMatch(/must be an https URL/);
    expect(vendor.hits.get("/kiro-0.9.7.deb")).toBeUndefined();
    expect(await scan(tableName)).toEqual([]);
  });

  it("stops at the backup when the legacy table does not exist", async () => {
    const failed = await migrate(params({ legacyTable: "no-such-table" })).catch((e: unknown) => e);
    expect((failed as { step?: string }).step).toBe("back up legacy table");
  });
});

describe("migrate: the legacy table and bucket from flags or a Terraform state", () => {
  const exec = promisify(execFile);
  const script = join(PROJECT_ROOT, "packages/scripts/src/migrate.ts");
  const run = async (args: string[]) =>
    exec(join(PROJECT_ROOT, "node_modules/.bin/tsx"), [script, ...args], {
      cwd: PROJECT_ROOT,
    }).then(
      (r) => ({ code: 0, stderr: r.stderr }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );

  it("reads the old deployment's outputs and resources", async () => {
    const dir = backups.dir;
    const file = join(dir, "terraform.tfstate");
    writeFileSync(
      file,
      JSON.stringify({
        version: 4,
        terraform_version: "1.5.7",
        outputs: { dynamodb_table_name: { value: "kiro-versions", type: "string" } },
        resources: [
          {
            mode: "managed",
            type: "aws_s3_bucket",
            name: "repo",
            instances: [
              { attributes: { bucket: "kiro-apt-old", arn: "arn:aws:s3:::kiro-apt-old" } },
            ],
          },
        ],
      }),
    );
    expect(await legacyResources({ tfstate: file })).toEqual({
      table: "kiro-versions",
      bucket: "kiro-apt-old",
    });
    expect(await legacyResources({ tfstate: file, bucket: "other" })).toEqual({
      table: "kiro-versions",
      bucket: "other",
    });
  });

  it("exits 2 naming the file and what is missing", async () => {
    const missing = await run(["--tfstate", "no-such.tfstate"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no-such\.tfstate: no such file/);
    const notJson = join(backups.dir, "bad.tfstate");
    writeFileSync(notJson, "not json");
    const bad = await run(["--tfstate", notJson]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.tfstate: is not JSON/);
    const empty = join(backups.dir, "empty.tfstate");
    writeFileSync(empty, JSON.stringify({ version: 4, outputs: {}, resources: [] }));
    const none = await run(["--tfstate", empty, "--legacy-bucket", "b"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/empty\.tfstate: no legacy table: .*pass --legacy-table/);
    const neither = await run([]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--legacy-table or --tfstate is required/);
  });
});

describe("migrate: a property over generated legacy tables", () => {
  type Kind = "hashed" | "unhashed" | "url" | "bad-version" | "missing" | "wrong-hash" | "dup";
  const kinds: Kind[] = [
    "hashed",
    "unhashed",
    "url",
    "bad-version",
    "missing",
    "wrong-hash",
    "dup",
  ];
  let run = 0;

  /** The legacy items of one generated table, with what each must become on the first run. */
  async function build(
    spec: readonly { kind: Kind; partial: boolean }[],
  ): Promise<{ items: Record<string, unknown>[]; expected: Map<string, "migrated" | "reported"> }> {
    const r = ++run;
    const items: Record<string, unknown>[] = [];
    const expected = new Map<string, "migrated" | "reported">();
    const versions: string[] = [];
    for (const [i, { kind: wanted, partial }] of spec.entries()) {
      const version = `${100 + r}.${i}`;
      const kind: Kind = wanted === "dup" && versions.length === 0 ? "missing" : wanted;
      const deb = kiroDeb(version, partial ? "libc6" : "libgtk-3-0, libnss3");
      const h = debHashes(deb);
      const file = `kiro-ide-${version}.deb`;
      let item: Record<string, unknown>;
      switch (kind) {
        case "hashed":
          await putLegacyDeb(`pool/main/k/kiro/${file}`, deb);
          item = {
            version,
            actual_filename: file,
            file_size: h.size,
            sha256_hash: h.sha256,
            ...(partial ? {} : { md5_hash: h.md5, sha1_hash: h.sha1, sha512_hash: h.sha512 }),
          };
          break;
        case "unhashed":
          await putLegacyDeb(`legacy/${file}`, deb);
          item = { version, s3_key: `legacy/${file}` };
          break;
        case "url":
          vendor.serve(`/property/${file}`, { body: deb });
          item = {
            version,
            deb_url: `${vendor.url}/property/${file}`,
            ...(partial ? { sha256_hash: h.sha256 } : {}),
          };
          break;
        case "wrong-hash":
          await putLegacyDeb(`pool/main/k/kiro/${file}`, deb);
          item = partial
            ? { version, actual_filename: file, file_size: h.size + 1 }
            : { version, actual_filename: file, sha512_hash: "0".repeat(128) };
          break;
        case "bad-version":
          item = { version: `bad_${r}_${i}` };
          break;
        case "missing":
          item = { version, actual_filename: file };
          break;
        case "dup": {
          const target = versions[i % versions.length] as string;
          item = { version: partial ? `0:${target}` : `${target}-0` };
          break;
        }
      }
      if (kind !== "bad-version" && kind !== "dup") versions.push(version);
      items.push(item);
      expected.set(
        `version=${item.version as string}`,
        kind === "hashed" || kind === "unhashed" || kind === "url" ? "migrated" : "reported",
      );
    }
    return { items, expected };
  }

  it("migrates or reports every item exactly once, and a rerun writes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ kind: fc.constantFrom(...kinds), partial: fc.boolean() }), {
          minLength: 1,
          maxLength: 6,
        }),
        async (spec) => {
          const { items, expected } = await build(spec);
          const legacy = await legacyTable(items);
          const tableName = `packages-property-${run}`;
          await ensureTable(world.dynamo, tableName);
          const first = await migrate(params({ legacyTable: legacy, tableName }));
          const keysOf = (r: typeof first) => r.outcomes.map((o) => o.key).sort();
          // Every item once, as the generator says it must end.
          expect(keysOf(first)).toEqual([...expected.keys()].sort());
          expect(new Map(first.outcomes.map((o) => [o.key, o.kind]))).toEqual(expected);
          expect(first.errors.map((e) => e.key).sort()).toEqual(
            [...expected]
              .filter(([, k]) => k === "reported")
              .map(([key]) => key)
              .sort(),
          );
          const migratedIds = first.outcomes.flatMap((o) => (o.kind === "migrated" ? [o.id] : []));
          const records = await scan(tableName);
          expect(records.map((x) => x.package_id).sort()).toEqual([...migratedIds].sort());
          for (const record of records) {
            expect(record.source).toBe("migration");
            expect(record.depends).toMatch(/^libc6$|^libgtk-3-0, libnss3$/);
            const pool = await object(world.bucket, record.filename as string);
            expect(pool.length).toBe(record.file_size);
          }
          expect(await keys(world.bucket, "staging/")).toEqual([]);

          // The rerun: the same outcomes but skipped for what was migrated; not one write.
          const s3 = instrumented(s3Client());
          const dynamo = instrumented(dynamoClient());
          try {
            const again = await migrate(
              params({
                legacyTable: legacy,
                tableName,
                s3: s3.client,
                legacyS3: s3.client,
                dynamo: dynamo.client,
              }),
            );
            expect(keysOf(again)).toEqual(keysOf(first));
            for (const o of again.outcomes) {
              expect(o.kind).toBe(expected.get(o.key) === "migrated" ? "skipped" : "reported");
            }
            expect(writes(s3.counts)).toBe(0);
            expect(writes(dynamo.counts)).toBe(0);
            expect(await scan(tableName)).toEqual(records);
          } finally {
            s3.client.destroy();
            dynamo.client.destroy();
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("migrate through the local shell, as the README writes it", () => {
  it("reads the Terraform state, migrates, reruns, and names what it could not migrate", async () => {
    const dir = scratch("migrate-shell-");
    try {
      writeWorldStack(world, dir.dir);
      await putLegacyDeb("pool/main/k/kiro/kiro-ide-1.5.0.deb", kiroDeb("1.5.0"));
      const table = await legacyTable([
        { version: "1.5.0", actual_filename: "kiro-ide-1.5.0.deb" },
      ]);
      const tfstate = join(dir.dir, "terraform.tfstate");
      writeFileSync(
        tfstate,
        JSON.stringify({
          version: 4,
          outputs: {
            dynamodb_table_name: { value: table },
            s3_bucket_name: { value: LEGACY_BUCKET },
          },
          resources: [],
        }),
      );
      // Asynchronously: s3rver runs in this process and must keep answering.
      const run = (args: string[]) =>
        runAsync(
          "npm",
          [
            "run",
            "--silent",
            "shell",
            "--",
            "scripts/migrate.ts",
            "--tfstate",
            tfstate,
            "--backup-dir",
            join(dir.dir, "backups"),
            ...args,
          ],
          {
            cwd: PROJECT_ROOT,
            env: { ...process.env, KIRO_APT_DATA_DIR: dir.dir, LOG_FORMAT: "json" },
          },
        );
      const dry = await run(["--dry-run"]);
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toContain("dry run: would migrate version=1.5.0 as kiro#1.5.0#amd64");
      const done = await run([]);
      expect(done.status, done.stderr).toBe(0);
      expect(done.stdout).toContain(
        "migrated version=1.5.0 as kiro#1.5.0#amd64 (server-side copy)",
      );
      expect(done.stdout).toContain("migrate: 1/1 (100%)");
      expect(done.stdout).toContain("1 total, 1 migrated, 0 skipped, 0 error(s)");
      const store = new PackageStore({
        client: world.dynamo,
        tableName: world.tables.packages,
        logger,
      });
      const record = await store.get("kiro#1.5.0#amd64");
      expect(record?.ok && record.record.depends).toBe("libgtk-3-0, libnss3");

      await world.dynamo.send(
        new PutItemCommand({ TableName: table, Item: marshall({ version: "1.4_bad" }) }),
      );
      const again = await run([]);
      expect(again.status).toBe(1);
      expect(again.stdout).toContain("2 total, 0 migrated, 1 skipped, 1 error(s)");
      expect(again.stderr).toMatch(
        /step "transform and validate" failed: 1 item\(s\) not migrated: version=1\.4_bad \(version: /,
      );
      expect(again.stderr).toContain("backup kept at");
    } finally {
      dir.cleanup();
    }
  });
});
