import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keyringPath, sourcesPath } from "@app/core/config";
import { buildRecordDeb } from "@app/core/publish";
import type { PackageRecord } from "@app/core/record";
import { type Bucket, indexLocation, isPublished } from "@app/core/sources";
import { ensureTable, PackageStore } from "@app/core/store";
import { type AptRoot, aptRoot, runAsync, runOk, scratch } from "@app/core/testing";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ScanCommand } from "@aws-sdk/client-dynamodb";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildKiroRepo, STEPS, upgradeCommand } from "./build-kiro-repo";
import { PROJECT_ROOT, StepError } from "./cli";
import { logger as silent, startWorld, type World } from "./integration/world";

let world: World;
let client: DynamoDBClient;
let signingKeys: string;
let tableCount = 0;
const roots: AptRoot[] = [];

beforeAll(async () => {
  world = await startWorld();
  client = world.dynamo;
  signingKeys = world.signingKeys;
});

afterAll(async () => {
  for (const r of roots) r.cleanup();
  await world?.stop();
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
    // Without a wait it stops after writing.
    expect(messages().filter((m) => m.startsWith("step "))).toEqual(
      STEPS.slice(0, -1).map((s, i) => `step ${i + 1}/${STEPS.length}: ${s}`),
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

  it("takes the config's source.version when --version is absent, with the same check", async () => {
    const root = mkdtempSync(join(tmpdir(), "kiro-repo-config-"));
    try {
      cpSync(join(PROJECT_ROOT, "config"), join(root, "config"), { recursive: true });
      const file = join(root, "config/packages/kiro-repo.yaml");
      writeFileSync(
        file,
        readFileSync(file, "utf8").replace("  type: build\n", "  type: build\n  version: 4.2.0\n"),
      );
      const tableName = await freshTable();
      const logger = capture().logger;
      const pinned = await buildKiroRepo({ ...base(), root, tableName, logger });
      expect(pinned.record.version).toBe("4.2.0");
      expect(
        (await buildKiroRepo({ ...base(), root, tableName, version: "4.3", logger })).record
          .version,
      ).toBe("4.3");
      const error = await buildKiroRepo({ ...base(), root, tableName, logger }).catch(
        (e: unknown) => e,
      );
      expect((error as StepError).message).toContain(
        "source.version 4.2.0 is lower than the newest recorded 4.3",
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
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

describe("build-kiro-repo --wait", () => {
  // The world's table and bucket, which its publisher reads and writes: a record appears in
  // the index only when the test runs the publisher, so nothing is published by accident.
  const bucket = (): Bucket => ({ s3: world.s3, name: world.bucket, logger: silent });
  const published = (record: PackageRecord) =>
    isPublished(
      bucket(),
      record,
      indexLocation(record, { suite: "stable", component: "main", architectures: ["amd64"] }),
    );
  const target = () => ({ ...base(), client: world.dynamo, tableName: world.tables.packages });

  /** Runs the publisher once the record is in the table, checking the wait has not returned. */
  async function publishWhenRecorded(id: string, settled: () => boolean): Promise<void> {
    while (!(await world.store.get(id))) await new Promise((r) => setTimeout(r, 100));
    // Nothing has published it yet, so a wait that returned now would not have waited.
    expect(settled()).toBe(false);
    await world.publisher.rebuild();
  }

  it("--wait returns once the published index lists the version, which apt then sees", async () => {
    const { logger, messages } = capture();
    let settled = false;
    const building = buildKiroRepo({
      ...target(),
      version: "3.0.0",
      wait: { bucket: bucket(), timeoutMs: 60_000, intervalMs: 100 },
      logger,
    }).finally(() => {
      settled = true;
    });
    const [result] = await Promise.all([
      building,
      publishWhenRecorded("kiro-repo#3.0.0#all", () => settled),
    ]);
    expect(result.outcome).toBe("created");
    expect(result.published).toBe(true);
    expect(messages()).toContain(`step ${STEPS.length}/${STEPS.length}: wait for publication`);
    expect(messages()).toContain("published");
    expect(await published(result.record)).toBe(true);

    // Oracle: apt, reading the signed repository, offers the version.
    const apt = aptRoot({
      url: world.repoUrl,
      suite: "stable",
      components: ["main"],
      keyring: world.keyringFile,
    });
    roots.push(apt);
    await apt.update();
    expect(await apt.versions("kiro-repo")).toEqual(["3.0.0"]);
  });

  it("--no-wait returns at once with the record written and not yet published", async () => {
    const { logger, messages } = capture();
    const result = await buildKiroRepo({ ...target(), version: "3.0.1", logger });
    expect(result.outcome).toBe("created");
    expect(result.published).toBe(false);
    expect(messages()).not.toContain(`step ${STEPS.length}/${STEPS.length}: wait for publication`);
    const stored = await world.store.get("kiro-repo#3.0.1#all");
    expect(stored?.ok && stored.record.version).toBe("3.0.1");
    expect(await published(result.record)).toBe(false);
  });

  it("a wait that runs out fails naming the wait step, the record written", async () => {
    const error = await buildKiroRepo({
      ...target(),
      version: "3.0.2",
      wait: { bucket: bucket(), timeoutMs: 300, intervalMs: 50 },
      logger: capture().logger,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).step).toBe("wait for publication");
    expect((error as StepError).message).toBe(
      'step "wait for publication" failed: not published after 0.3 s: kiro-repo#3.0.2#all',
    );
    expect(await world.store.get("kiro-repo#3.0.2#all")).toBeDefined();
  });

  it("runs as the operator runs it: --wait prints the apt line, --timeout runs out with exit 1, bad flags exit 2", async () => {
    const tsx = join(PROJECT_ROOT, "node_modules/.bin/tsx");
    const script = "scripts/build-kiro-repo.ts";
    const env = {
      ...process.env,
      LOG_FORMAT: "json",
      SST_RESOURCE_App: JSON.stringify({ name: "kiro-apt", stage: "local" }),
      SST_RESOURCE_Packages: JSON.stringify({
        name: world.tables.packages,
        type: "sst.aws.Dynamo",
      }),
      SST_RESOURCE_Repository: JSON.stringify({ name: world.bucket, type: "sst.aws.Bucket" }),
      SST_RESOURCE_SigningKey: JSON.stringify({ value: signingKeys, type: "sst.sst.Secret" }),
      SST_RESOURCE_Cdn: JSON.stringify({ url: world.repoUrl, type: "sst.aws.Router" }),
    };

    let settled = false;
    const waiting = runAsync(tsx, [script, "--version", "3.1.0", "--wait", "--timeout", "120"], {
      cwd: PROJECT_ROOT,
      env,
    }).finally(() => {
      settled = true;
    });
    const [waited] = await Promise.all([
      waiting,
      publishWhenRecorded("kiro-repo#3.1.0#all", () => settled),
    ]);
    expect(waited.status, waited.stderr).toBe(0);
    // The log lines share stdout (JSON when it is not a terminal); the apt line ends it.
    expect(waited.stdout.split("\n").slice(-3)).toEqual([
      "kiro-repo#3.1.0#all is published. To upgrade:",
      `  ${upgradeCommand("kiro-repo")}`,
      "",
    ]);
    expect(upgradeCommand("kiro-repo")).toBe(
      "sudo apt-get update && sudo apt-get install --only-upgrade kiro-repo",
    );

    // No publisher runs: the wait runs out after --timeout and names its step.
    const timedOut = await runAsync(
      tsx,
      [script, "--version", "3.1.1", "--timeout", "1", "--wait"],
      { cwd: PROJECT_ROOT, env },
    );
    expect(timedOut.status).toBe(1);
    expect(timedOut.stderr).toContain(
      'step "wait for publication" failed: not published after 1 s: kiro-repo#3.1.1#all',
    );
    expect(timedOut.stdout).not.toContain("To upgrade");

    // Stdout is a pipe here, so without a flag it does not wait (a terminal would).
    const piped = await runAsync(tsx, [script, "--version", "3.1.2"], { cwd: PROJECT_ROOT, env });
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stdout).not.toContain("wait for publication");
    expect(piped.stdout).not.toContain("To upgrade");
    expect(await world.store.get("kiro-repo#3.1.2#all")).toBeDefined();

    for (const [args, message] of [
      [["--wait", "--no-wait"], "--wait and --no-wait exclude each other"],
      [["--timeout", "0"], "--timeout must be a whole number of seconds"],
      [["--timeout", "soon"], "--timeout must be a whole number of seconds"],
    ] as const) {
      const usage = await runAsync(tsx, [script, ...args], { cwd: PROJECT_ROOT, env });
      expect(usage.status).toBe(2);
      expect(usage.stderr).toContain(message);
    }
  });
});
