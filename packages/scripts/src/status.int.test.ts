// status against DynamoDB Local and s3rver with the real publisher: a healthy repository is
// OK; each kind of trouble (unpublished suite, invalid record, missing and mis-sized pool files,
// dead letters, keys other than signing.key_ids) is reported and makes it not OK; the script
// itself, run as the README writes it, prints JSON and exits 1 on trouble, 2 on bad usage.
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadSigningKeys } from "@app/core/signing";
import { runAsync, scratch } from "@app/core/testing";
import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT, StepError } from "./cli";
import { logger, startWorld, type World, writeWorldStack } from "./integration/world";
import { type StatusParams, status, urlReader } from "./status";

let world: World;
let dir: ReturnType<typeof scratch>;
let deadLetters: string;
let fingerprint: string;

beforeAll(async () => {
  world = await startWorld();
  dir = scratch("status-");
  deadLetters = join(dir.dir, "dead-letters.jsonl");
  fingerprint = (await loadSigningKeys(world.signingKeys))[0]?.fingerprint as string;
});

afterAll(async () => {
  await world?.stop();
  dir?.cleanup();
});

const params = (extra: Partial<StatusParams> = {}): StatusParams => ({
  root: PROJECT_ROOT,
  stage: "local",
  dynamo: world.dynamo,
  tableName: world.tables.packages,
  s3: world.s3,
  bucket: world.bucket,
  deadLetterUrl: pathToFileURL(deadLetters).href,
  logger,
  ...extra,
});

describe("status", () => {
  it("an unpublished suite is a problem", async () => {
    const report = await status(params());
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([`stable: not published (no Release in s3://${world.bucket})`]);
  });

  it("a healthy repository is OK, listing versions recorded and published, Release and keys", async () => {
    for (const version of ["1.10", "1.9", "1.0~rc1"]) {
      await world.store.put(await world.manualPackage("kiro", version, "amd64"));
    }
    await world.store.put(await world.manualPackage("kiro-cli", "0.1", "all"));
    await world.publisher.rebuild();
    const report = await status(params());
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const [suite] = report.suites;
    expect(suite?.suite).toBe("stable");
    expect(suite?.release?.signedBy).toEqual([fingerprint]);
    expect(Date.parse(suite?.release?.date ?? "")).not.toBeNaN();
    const kiro = suite?.packages.find((p) => p.name === "kiro");
    // dpkg's order, not the strings' order.
    expect(kiro?.recorded).toEqual(["1.0~rc1 (amd64)", "1.9 (amd64)", "1.10 (amd64)"]);
    expect(kiro?.published).toEqual(kiro?.recorded);
    expect(suite?.packages.find((p) => p.name === "kiro-cli")?.published).toEqual(["0.1 (all)"]);
    expect(report.deadLetters).toEqual({ where: pathToFileURL(deadLetters).href, depth: 0 });

    // Through the served URL (what apt reads), the same answer.
    const viaUrl = await status(params({ reader: urlReader(world.repoUrl) }));
    expect(viaUrl.suites).toEqual(report.suites);
    expect(viaUrl.ok).toBe(true);
  });

  it("keys other than signing.key_ids are reported by fingerprint", async () => {
    const other = "ab".repeat(20);
    const report = await status(params({ keyIds: [other] }));
    expect(report.ok).toBe(false);
    expect(report.problems.join("\n")).toContain(fingerprint);
    expect(report.problems.join("\n")).toContain(other.toUpperCase());
    expect((await status(params({ keyIds: [fingerprint.toLowerCase()] }))).ok).toBe(true);
  });

  it("reports invalid records with every failed field, missing and mis-sized pool files, unpublished records and dead letters", async () => {
    await world.dynamo.send(
      new PutItemCommand({
        TableName: world.tables.packages,
        Item: {
          package_id: { S: "broken#1#amd64" },
          package_name: { S: "broken" },
          version: { S: "1" },
          architecture: { S: "amd64" },
          source: { S: "nonsense" },
          processed_timestamp: { S: "yesterday" },
        },
      }),
    );
    // A record whose .deb never reached the pool, and one whose pool file has other bytes.
    const missing = await world.manualPackage("kiro", "2.0", "amd64");
    const wrong = await world.manualPackage("kiro", "2.1", "amd64");
    await world.s3.send(
      new PutObjectCommand({
        Bucket: world.bucket,
        Key: missing.filename as string,
        Body: new Uint8Array(0),
      }),
    );
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.bucket, Key: wrong.filename as string, Body: "xyz" }),
    );
    const { DeleteObjectCommand } = await import("@aws-sdk/client-s3");
    await world.s3.send(
      new DeleteObjectCommand({ Bucket: world.bucket, Key: missing.filename as string }),
    );
    await world.store.put(missing);
    await world.store.put(wrong);
    appendFileSync(deadLetters, '{"reason":"a"}\n{"reason":"b"}\n');

    const report = await status(params());
    expect(report.ok).toBe(false);
    const broken = report.invalid.find((i) => i.key === '"broken#1#amd64"');
    const fields = broken?.issues.map((i) => i.field) ?? [];
    for (const f of ["source", "processed_timestamp", "maintainer", "description"]) {
      expect(fields).toContain(f);
    }
    expect(report.poolFiles).toEqual([
      { id: "kiro#2.0#amd64", filename: missing.filename, problem: "missing from the pool" },
      {
        id: "kiro#2.1#amd64",
        filename: wrong.filename,
        problem: `has 3 bytes, the record says ${wrong.file_size}`,
      },
    ]);
    const text = report.problems.join("\n");
    expect(text).toMatch(/invalid record "broken#1#amd64": .*source: must be one of/);
    expect(text).toContain("stable: kiro#2.0#amd64 is recorded but not published");
    expect(text).toContain("2 message(s) in the dead-letter queue");
  });

  it("a failing step is named", async () => {
    const error = await status(params({ stage: "no-such-stage" })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).step).toBe("validate config");
    // A dead-letter "file" that is a directory cannot be read.
    const unreadable = await status(params({ deadLetterUrl: pathToFileURL(dir.dir).href })).catch(
      (e: unknown) => e,
    );
    expect((unreadable as StepError).step).toBe("read dead letters");
  });

  it("the script: --json on stdout and exit 1 when something is wrong; bad usage exits 2", async () => {
    writeWorldStack(world, dir.dir);
    // Asynchronously: s3rver runs in this process and must keep answering.
    const run = (args: string[]) =>
      runAsync("npm", ["run", "--silent", "shell", "--", "scripts/status.ts", ...args], {
        cwd: PROJECT_ROOT,
        env: { ...process.env, KIRO_APT_DATA_DIR: dir.dir, LOG_FORMAT: "json" },
      });
    const out = await run(["--json"]);
    expect(out.status).toBe(1);
    const report = JSON.parse(out.stdout) as { ok: boolean; problems: string[] };
    expect(report.ok).toBe(false);
    expect(report.problems.join("\n")).toContain("kiro#2.0#amd64");
    // The dead letters the shell links are the data directory's file (two lines so far).
    expect(report.problems.join("\n")).toContain("2 message(s) in the dead-letter queue");
    appendFileSync(join(dir.dir, "dead-letters.jsonl"), '{"reason":"x"}\n');
    expect((await run(["--json", "--from-url"])).stdout).toContain(
      "3 message(s) in the dead-letter queue",
    );

    const human = await run([]);
    expect(human.status).toBe(1);
    expect(human.stdout).toContain("suite stable: Release Date ");
    expect(human.stdout).toMatch(/problem\(s\):\n {2}- /);

    const bad = await run(["--stage", "no-such-stage"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('step "validate config" failed');
    expect((await run(["--keep", "3"])).status).toBe(2);
  });
});
