// build-kiro-repo against DynamoDB Local: the record it writes is a valid build record whose
// .deb dpkg-deb reads, a dry run writes nothing, versions increment, failures name their step.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { keyringPath, sourcesPath } from "@app/core/config";
import { buildRecordDeb } from "@app/core/publish";
import { generateSigningKey } from "@app/core/signing";
import { ensureTable, PackageStore } from "@app/core/store";
import { runOk, scratch } from "@app/core/testing";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildKiroRepo, STEPS } from "./build-kiro-repo";
import { PROJECT_ROOT, StepError } from "./cli";
import { type DynamoDbLocal, startDynamoDbLocal } from "./local/dynamodb-local";
import { freePort } from "./local/ports";
import { localDynamoDbClient } from "./local/testing";

let ddb: DynamoDbLocal | undefined;
let client: DynamoDBClient;
let signingKeys: string;
let tableCount = 0;

beforeAll(async () => {
  ddb = await startDynamoDbLocal({ port: await freePort() });
  client = localDynamoDbClient(ddb.endpoint, 1);
  signingKeys = (await generateSigningKey({ name: "Test Repo", email: "repo@example.org" }))
    .privateKeyArmored;
});

afterAll(async () => {
  client?.destroy();
  await ddb?.stop();
});

async function freshTable(): Promise<string> {
  const name = `packages-${++tableCount}`;
  await ensureTable(client, name);
  return name;
}

/** A logger whose lines the test reads. */
function capture() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const logger = pino(
    { level: "info" },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

async function itemCount(table: string): Promise<number> {
  const out = await client.send(new ScanCommand({ TableName: table, Select: "COUNT" }));
  return out.Count ?? 0;
}

const base = () => ({ root: PROJECT_ROOT, stage: "local", client, signingKeys });

describe("build-kiro-repo", () => {
  it("writes a valid build record whose .deb dpkg-deb reads, logging each step", async () => {
    const tableName = await freshTable();
    const { logger, messages } = capture();
    const result = await buildKiroRepo({ ...base(), tableName, version: "2.3.4", logger });
    expect(result.outcome).toBe("created");
    expect(messages().filter((m) => m.startsWith("step "))).toEqual(
      STEPS.map((s, i) => `step ${i + 1}/${STEPS.length}: ${s}`),
    );

    const store = new PackageStore({ client, tableName, logger });
    const stored = await store.get("kiro-repo#2.3.4#all");
    if (stored === undefined || !stored.ok)
      throw new Error(`not stored: ${JSON.stringify(stored)}`);
    const record = stored.record;
    expect(record.source).toBe("build");
    expect(record.sha256_hash).toBeUndefined(); // the publisher pins it
    const paths = record.contents?.map((c) => c.path) ?? [];
    expect(paths).toContain(keyringPath("kiro-archive-keyring"));
    expect(paths).toContain(sourcesPath("kiro"));
    const sources = record.contents?.find((c) => c.path === sourcesPath("kiro"))?.content;
    expect(sources).toContain("URIs: http://127.0.0.1:8080/kiro-apt-local");

    // Oracle: the stored record builds a .deb that dpkg-deb accepts, naming this version.
    const { dir, cleanup } = scratch("kiro-repo-");
    try {
      const deb = join(dir, "kiro-repo.deb");
      writeFileSync(deb, buildRecordDeb(record));
      const fields = runOk("dpkg-deb", ["--field", deb, "Package", "Version", "Architecture"]);
      expect(fields.stdout).toBe("Package: kiro-repo\nVersion: 2.3.4\nArchitecture: all\n");
      expect(runOk("dpkg-deb", ["--contents", deb]).stdout).toContain(
        `.${keyringPath("kiro-archive-keyring")}`,
      );
    } finally {
      cleanup();
    }
  });

  it("--dry-run validates and builds but writes nothing", async () => {
    const tableName = await freshTable();
    const { logger, lines, messages } = capture();
    const result = await buildKiroRepo({ ...base(), tableName, dryRun: true, logger });
    expect(result.outcome).toBe("dry-run");
    expect(result.record.version).toBe("1.0.0");
    expect(result.debSize).toBeGreaterThan(0);
    expect(messages().some((m) => m.startsWith("dry run: would write kiro-repo#1.0.0#all"))).toBe(
      true,
    );
    const shown = lines.find((l) => l.msg.startsWith("dry run: would write"))?.record as {
      contents: { path: string; size: string }[];
    };
    expect(shown.contents.map((c) => c.path)).toEqual(result.record.contents?.map((c) => c.path));
    expect(shown.contents.every((c) => /^\d+ bytes$/.test(c.size))).toBe(true);
    expect(await itemCount(tableName)).toBe(0);
  });

  it("a run without --version increments the newest recorded version", async () => {
    const tableName = await freshTable();
    const logger = capture().logger;
    const first = await buildKiroRepo({ ...base(), tableName, logger });
    const second = await buildKiroRepo({ ...base(), tableName, logger });
    expect(first.record.version).toBe("1.0.0");
    expect(second.record.version).toBe("1.0.1");
    await buildKiroRepo({ ...base(), tableName, version: "1.9", logger });
    expect((await buildKiroRepo({ ...base(), tableName, logger })).record.version).toBe("1.10");
    expect(await itemCount(tableName)).toBe(4);
  });

  it("a --version lower than the newest recorded is refused unless --force", async () => {
    const tableName = await freshTable();
    const logger = capture().logger;
    await buildKiroRepo({ ...base(), tableName, version: "1.10", logger });
    const error = await buildKiroRepo({ ...base(), tableName, version: "1.9", logger }).catch(
      (e: unknown) => e,
    );
    expect((error as StepError).step).toBe("assemble record");
    expect((error as StepError).message).toContain(
      "--version 1.9 is lower than the newest recorded 1.10",
    );
    expect(await itemCount(tableName)).toBe(1);
    const forced = await buildKiroRepo({
      ...base(),
      tableName,
      version: "1.9",
      force: true,
      logger,
    });
    expect(forced.outcome).toBe("created");
    expect(await itemCount(tableName)).toBe(2);
  });

  it("points apt at the given repository URL (the running stack's port), not local.yaml's", async () => {
    const tableName = await freshTable();
    const url = "http://127.0.0.1:18080/kiro-apt-local";
    const result = await buildKiroRepo({
      ...base(),
      tableName,
      repoUrl: url,
      dryRun: true,
      logger: capture().logger,
    });
    const sources = result.record.contents?.find((c) => c.path === sourcesPath("kiro"))?.content;
    expect(sources).toContain(`URIs: ${url}`);
    expect(sources).not.toContain(":8080/");
  });

  it("fails naming the step, writing nothing", async () => {
    const tableName = await freshTable();
    const logger = capture().logger;
    const cases = [
      { params: { version: "not a version" }, step: "validate config" },
      { params: { stage: "no-such-stage" }, step: "validate config" },
      { params: { signingKeys: "not a key" }, step: "assemble record" },
    ];
    for (const c of cases) {
      const error = await buildKiroRepo({ ...base(), tableName, logger, ...c.params }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StepError);
      expect((error as StepError).step).toBe(c.step);
      expect((error as StepError).message).toMatch(new RegExp(`^step "${c.step}" failed: `));
    }
    expect(await itemCount(tableName)).toBe(0);
  });
});
