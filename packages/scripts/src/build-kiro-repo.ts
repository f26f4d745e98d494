#!/usr/bin/env -S npx tsx
// Records a new version of the setup package (kiro-repo) for a stage: a build record in the
// package table. The publisher (the stream consumer) builds the .deb from it, uploads it to the
// pool and pins its hashes; this script only writes DynamoDB, then (--wait) reads the published
// index until it lists the version. The .deb is built here too, in memory, so a broken template
// fails now and not in the publisher.
import { loadConfig } from "@app/core/config";
import { compareVersions, readDeb, versionSchema } from "@app/core/debian";
import { createLogger, type Logger } from "@app/core/log";
import { buildRecordDeb } from "@app/core/publish";
import { type PackageRecord, toRecord } from "@app/core/record";
import { nextVersion, setupPackageRecord } from "@app/core/setup";
import { exportKeyring, loadSigningKeys } from "@app/core/signing";
import { type Bucket, sourcesS3Client, waitUntilPublished } from "@app/core/sources";
import { PackageStore } from "@app/core/store";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Resource } from "sst";
import * as v from "valibot";
import {
  describeContent,
  isMain,
  PROJECT_ROOT,
  parseCommandLine,
  runScript,
  stageOf,
  stepper,
  UsageError,
} from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/build-kiro-repo.ts [options]
       npm run shell -- scripts/build-kiro-repo.ts [options]     (local stage)

Records a new version of the setup package (kiro-repo) for the stage: validates the config,
renders the package from config/packages/kiro-repo.yaml with the stage's repository URL and the
public keys of the signing key, builds the .deb in memory as a check, and writes the build record
to the package table. The publisher then builds, uploads and publishes the .deb; with --wait
the script reads the published index until it lists the new version and prints the apt line
that upgrades to it.

Options:
  --version <v>  the Debian version to record (default: the config's source.version, else the
                 newest recorded one, incremented); one lower than the newest recorded is
                 refused unless --force
  --force        record a --version lower than the newest recorded one
  --stage <s>    the stage whose config to use (default: the stage SST's links name; another
                 stage than the shell's is refused)
  --dry-run      validate and print the record it would write (contents summarised); write nothing
  --wait         after writing, wait until the published index lists the version, then print
                 the apt line to upgrade (the default when stdout is a terminal)
  --no-wait      return once the record is written (the default otherwise)
  --timeout <s>  how long --wait waits, in seconds (default 300); then exit 1
  --help         this text

Exit codes: 0 done, 1 a step failed (named on stderr), 2 bad usage.
`;

export const STEPS = [
  "validate config",
  "assemble record",
  "build .deb (check)",
  "write record",
  "wait for publication",
] as const;

/** What a user of the stage runs to get the new version. */
export function upgradeCommand(name: string): string {
  return `sudo apt-get update && sudo apt-get install --only-upgrade ${name}`;
}

export interface BuildKiroRepoParams {
  readonly root: string;
  readonly stage: string;
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Armored private signing key(s): only their public keys go into the package. */
  readonly signingKeys: string;
  readonly version?: string;
  /** Allows a version lower than the newest recorded one. */
  readonly force?: boolean;
  /** The repository URL the package points apt at (default: the stage's repo_url). */
  readonly repoUrl?: string;
  readonly dryRun?: boolean;
  /** The setup package's config name (default kiro-repo). */
  readonly packageName?: string;
  /** Wait until the index in this bucket lists the version; undefined: return once written. */
  readonly wait?: {
    readonly bucket: Bucket;
    readonly timeoutMs: number;
    readonly intervalMs?: number;
  };
  readonly logger: Logger;
  readonly now?: Date;
}

/** What the record holds, as a person reads it: contents by path and size, never keys. */
export function summariseRecord(record: PackageRecord): Record<string, unknown> {
  return {
    ...record,
    contents: record.contents?.map((c) => ({ path: c.path, size: describeContent(c.content) })),
    scripts:
      record.scripts === undefined
        ? undefined
        : Object.fromEntries(
            Object.entries(record.scripts).map(([name, text]) => [name, describeContent(text)]),
          ),
  };
}

export interface BuildKiroRepoResult {
  readonly record: PackageRecord;
  /** Size of the .deb built as a check. */
  readonly debSize: number;
  /** "dry-run" when nothing was written. */
  readonly outcome: "created" | "unchanged" | "dry-run";
  /** True once the published index was seen listing the version (only with `wait`). */
  readonly published: boolean;
}

export async function buildKiroRepo(params: BuildKiroRepoParams): Promise<BuildKiroRepoResult> {
  const { logger } = params;
  const now = params.now ?? new Date();
  const name = params.packageName ?? "kiro-repo";
  const step = stepper(logger, STEPS);

  const { pkg, stage } = await step("validate config", async () => {
    const config = await loadConfig(params.root, params.stage, {
      warn: (w) => logger.warn(w),
    });
    const pkg = config.packages.get(name);
    if (pkg === undefined) throw new Error(`no package config named ${name} in config/packages`);
    if (pkg.source.type !== "build") {
      throw new Error(`${name} has source type ${pkg.source.type}, not build`);
    }
    if (params.version !== undefined) {
      const version = v.safeParse(versionSchema, params.version);
      if (!version.success) {
        throw new Error(`--version ${params.version}: ${version.issues[0].message}`);
      }
    }
    return { pkg, stage: config.stage };
  });

  const store = new PackageStore({ client: params.client, tableName: params.tableName, logger });
  const record = await step("assemble record", async () => {
    const keys = await loadSigningKeys(params.signingKeys, undefined, now);
    const keyring = await exportKeyring(keys, now);
    // --version, else the config's pinned version, else the next one.
    const pinned = pkg.source.type === "build" ? pkg.source.version : undefined;
    let version = params.version ?? pinned;
    const from = params.version !== undefined ? "--version" : "source.version";
    const existing = (await store.versionsOf(name)).map((r) => r.version);
    if (version !== undefined && !params.force) {
      const newest = [...existing].sort(compareVersions).at(-1);
      if (newest !== undefined && compareVersions(version, newest) < 0) {
        throw new Error(
          `${from} ${version} is lower than the newest recorded ${newest}: apt would never upgrade to it (pass --force to record it anyway)`,
        );
      }
    }
    if (version === undefined) {
      version = nextVersion(existing);
      logger.info(
        `version ${version} (${existing.length === 0 ? "first version" : `after ${existing.length} recorded`})`,
      );
    }
    return toRecord(
      setupPackageRecord({
        pkg,
        stage: params.repoUrl === undefined ? stage : { ...stage, repo_url: params.repoUrl },
        keyring: Uint8Array.from(keyring.binary),
        version,
        now,
      }),
    );
  });

  const debSize = await step("build .deb (check)", () => {
    const deb = buildRecordDeb(record);
    // Read it back: what the publisher will upload must be a .deb dpkg can read.
    const info = readDeb(deb, record.package_id);
    const control = new Map(info.control.map((f) => [f.name, f.value]));
    if (
      control.get("Package") !== record.package_name ||
      control.get("Version") !== record.version
    ) {
      throw new Error(`the built .deb names ${control.get("Package")} ${control.get("Version")}`);
    }
    logger.info(`built ${record.package_id}: ${deb.length} bytes`);
    return deb.length;
  });

  const outcome = await step("write record", async () => {
    if (params.dryRun) {
      logger.info(
        { record: summariseRecord(record) },
        `dry run: would write ${record.package_id} to ${params.tableName}`,
      );
      return "dry-run" as const;
    }
    const outcome = await store.put(record);
    logger.info(
      outcome === "created"
        ? `recorded ${record.package_id} in ${params.tableName}; the publisher builds and publishes it`
        : `${record.package_id} is already recorded with the same contents; nothing written`,
    );
    return outcome;
  });

  const wait = params.wait;
  if (wait === undefined || outcome === "dry-run")
    return { record, debSize, outcome, published: false };
  await step("wait for publication", () =>
    waitUntilPublished(wait.bucket, [record], {
      defaults: {
        suite: stage.default_suite,
        component: stage.default_component,
        architectures: stage.architectures,
      },
      timeoutMs: wait.timeoutMs,
      ...(wait.intervalMs === undefined ? {} : { intervalMs: wait.intervalMs }),
      onPublished: (r, at) => logger.info({ id: r.package_id, suite: at.suite }, "published"),
    }),
  );
  return { record, debSize, outcome, published: true };
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    version: { type: "string" },
    stage: { type: "string" },
    force: { type: "boolean" },
    "dry-run": { type: "boolean" },
    wait: { type: "boolean" },
    "no-wait": { type: "boolean" },
    timeout: { type: "string" },
  });
  if (args.version === "") throw new UsageError("--version needs a value");
  if (args.wait && args["no-wait"]) throw new UsageError("--wait and --no-wait exclude each other");
  const timeout = args.timeout === undefined ? 300 : Number(args.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new UsageError("--timeout must be a whole number of seconds");
  }
  // Someone at a terminal wants to know it reached users; a pipeline gets the fast return.
  const wait = args.wait === true || (args["no-wait"] !== true && process.stdout.isTTY === true);
  // The table and secret are the shell's stage's: another stage's config would mix the two.
  if (args.stage !== undefined && "App" in Resource && Resource.App.stage !== args.stage) {
    throw new UsageError(
      `--stage ${args.stage} is not the stage this shell points at (${Resource.App.stage}): run it through \`sst shell --stage ${args.stage}\``,
    );
  }
  const stage = stageOf(args.stage);
  const logger = createLogger("build-kiro-repo");
  const result = await buildKiroRepo({
    root: PROJECT_ROOT,
    stage,
    // Locally, the port the running stack serves on (linked by the shell), not local.yaml's.
    ...(stage === "local" && "Cdn" in Resource ? { repoUrl: Resource.Cdn.url } : {}),
    force: args.force === true,
    client: new DynamoDBClient({ maxAttempts: 1 }),
    tableName: Resource.Packages.name,
    signingKeys: Resource.SigningKey.value,
    ...(args.version === undefined ? {} : { version: args.version }),
    dryRun: args["dry-run"] === true,
    ...(wait
      ? {
          wait: {
            bucket: { s3: sourcesS3Client(), name: Resource.Repository.name, logger },
            timeoutMs: timeout * 1000,
          },
        }
      : {}),
    logger,
  });
  if (result.published) {
    process.stdout.write(
      `${result.record.package_id} is published. To upgrade:\n  ${upgradeCommand(result.record.package_name)}\n`,
    );
  }
  return 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
