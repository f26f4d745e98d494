#!/usr/bin/env -S npx tsx
// Moves the legacy table (one item per kiro release, keyed by `version`, as the old Python
// Lambda wrote it) into the package table. A JSONL backup of the legacy table comes first;
// every item is validated and decided on before anything is written (migrate, skip, report:
// @app/core/migration's planMigration); each .deb then goes through the sources' single
// ingestion path (the control paragraph verbatim from the .deb, the digests as it streams, the
// pool file before the record). Reruns skip what is already migrated and write nothing.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadConfig } from "@app/core/config";
import { createLogger, type Logger } from "@app/core/log";
import {
  type CopyState,
  type ItemOutcome,
  type LegacyBucket,
  legacyIds,
  migrateItem,
  planMigration,
  readTerraformState,
  TerraformStateError,
} from "@app/core/migration";
import type { PackageRecord } from "@app/core/record";
import { type SourceContext, sourcesS3Client } from "@app/core/sources";
import {
  describeError,
  isTransientAwsError,
  PackageStore,
  type RetryOptions,
  withRetry,
} from "@app/core/store";
import { type AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import type { S3Client } from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { Resource } from "sst";
import {
  isMain,
  PROJECT_ROOT,
  type Progress,
  parseCommandLine,
  progress,
  runScript,
  StepError,
  stageOf,
  stepper,
  UsageError,
} from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/migrate.ts (--tfstate FILE | --legacy-table NAME) [options]
       npm run shell -- scripts/migrate.ts --legacy-table NAME [options]   (local stage)

Moves the kiro releases of the old deployment's table (keyed by version) into the package
table, as records of kiro amd64 with source "migration". Each record is made as the poller
makes one: its control paragraph comes from the .deb itself, verbatim, every field (Depends,
Installed-Size, ...); size and hashes are computed while the .deb streams, and must match any
the legacy item states. The .deb is taken from, in this order: the repository bucket's pool
path; the legacy bucket (the keys its s3_key or actual_filename name), by a server-side copy,
or streamed when the copy is denied (another account); the item's deb_url (https). It is never
held whole in memory. An item that cannot be migrated (a bad version, a duplicate of another's
version as dpkg compares them, hashes the bytes contradict, no .deb anywhere) is reported and
left out; the others go on.

Steps: validate config, back up legacy table (JSONL, one DynamoDB JSON item per line),
transform and validate every item, write records. Reruns skip items already migrated and
write nothing for them.

Options:
  --tfstate <file>        the old deployment's Terraform state (local JSON, e.g. from
                          \`terraform state pull > terraform.tfstate\`): the legacy table and
                          bucket from its outputs, else its aws_dynamodb_table/aws_s3_bucket
  --legacy-table <name>   the legacy table (overrides --tfstate)
  --legacy-bucket <name>  the legacy bucket (overrides --tfstate; default: the repository
                          bucket, for a legacy table whose .debs are already there)
  --bucket <name>         the repository bucket (default: the stage's Repository)
  --backup-dir <dir>      where the backup goes (default .local/backups)
  --stage <s>             the stage whose config to use (default: the stage SST's links name)
  --dry-run               show each item's old and new form; write nothing (no backup either)
  --help                  this text

Progress: a bar with counts and rate on a terminal (stderr), plain progress lines otherwise.

Exit codes: 0 every item migrated or already there, 1 a step failed or some items could not be
migrated (named on stderr; the backup is kept), 2 bad usage (a missing flag, an unreadable or
ambiguous --tfstate).
`;

export const STEPS = [
  "validate config",
  "back up legacy table",
  "transform and validate",
  "write records",
] as const;

export interface MigrateParams {
  readonly root: string;
  readonly stage: string;
  /** Reads the legacy table and writes the package table. */
  readonly dynamo: DynamoDBClient;
  /** The repository bucket's client. */
  readonly s3: S3Client;
  readonly legacyTable: string;
  /** The old deployment's bucket (default: the repository bucket) and its client. */
  readonly legacyBucket?: string;
  readonly legacyS3?: S3Client;
  readonly tableName: string;
  readonly bucket: string;
  readonly backupDir: string;
  readonly dryRun?: boolean;
  readonly logger: Logger;
  readonly now?: Date;
  /** The ingestion's retries (tests shorten them). */
  readonly retry?: Omit<RetryOptions, "isRetryable" | "onRetry">;
  /** Progress reporting (default: a bar on a terminal, log lines otherwise). */
  readonly progress?: (total: number) => Progress;
}

export interface ItemError {
  /** The legacy key, e.g. `version=0.7.45`. */
  readonly key: string;
  /** Where it failed: "transform and validate" (its data) or "write records" (its .deb). */
  readonly step: (typeof STEPS)[number];
  readonly problems: readonly string[];
}

export interface MigrationReport {
  readonly total: number;
  readonly migrated: number;
  readonly skipped: number;
  readonly errors: readonly ItemError[];
  /** The backup file (undefined in a dry run). */
  readonly backup: string | undefined;
  /** Every readable item's outcome, in the legacy table's scan order. */
  readonly outcomes: readonly ItemOutcome[];
  /** Dry run: each item's old and new form (new undefined where it failed or was skipped). */
  readonly plan: readonly { old: Record<string, unknown>; new: PackageRecord | undefined }[];
}

/** Transient DynamoDB failures retried (three times, backoff), each retry logged. */
function retrying<T>(logger: Logger, what: string, run: () => Promise<T>): Promise<T> {
  return withRetry(run, {
    retries: 3,
    isRetryable: isTransientAwsError,
    onRetry: (info) =>
      logger.warn({ what, attempt: info.attempt, error: describeError(info.error) }, "retrying"),
  });
}

export async function migrate(params: MigrateParams): Promise<MigrationReport> {
  const { logger, dynamo } = params;
  const now = params.now ?? new Date();
  const dryRun = params.dryRun === true;
  const step = stepper(logger, STEPS);
  let backup: string | undefined;

  const context = await step("validate config", async (): Promise<SourceContext> => {
    const config = await loadConfig(params.root, params.stage, { warn: (w) => logger.warn(w) });
    if (!config.packages.has("kiro")) {
      throw new Error("no package config named kiro in config/packages");
    }
    const store = new PackageStore({ client: dynamo, tableName: params.tableName, logger });
    return {
      stage: config.stage,
      packages: config.packages,
      target: { bucket: { s3: params.s3, name: params.bucket, logger }, store, logger },
      ...(params.retry === undefined ? {} : { retry: params.retry }),
    };
  });
  const legacy: LegacyBucket = {
    s3: params.legacyS3 ?? params.s3,
    name: params.legacyBucket ?? params.bucket,
  };

  const items = await step("back up legacy table", async () => {
    const raw: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const from = start;
      const page = await retrying(logger, `scan ${params.legacyTable}`, () =>
        dynamo.send(
          new ScanCommand({
            TableName: params.legacyTable,
            ExclusiveStartKey: from,
            ConsistentRead: true,
          }),
        ),
      );
      raw.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    const stamp = now.toISOString().replace(/[:.]/g, "-");
    const file = resolve(params.backupDir, `${params.legacyTable}-${stamp}.jsonl`);
    if (dryRun) {
      logger.info(`dry run: would back up ${raw.length} item(s) to ${file}`);
    } else {
      await mkdir(params.backupDir, { recursive: true });
      // DynamoDB JSON, one item a line: restorable with put-item, numbers and binaries intact.
      await writeFile(file, raw.map((item) => `${JSON.stringify(item)}\n`).join(""), {
        flag: "wx",
      });
      backup = file;
      logger.info(`backed up ${raw.length} item(s) to ${file}`);
    }
    return raw;
  });

  const errors: ItemError[] = [];
  const { olds, decisions } = await step("transform and validate", async () => {
    const olds: Record<string, unknown>[] = [];
    for (const raw of items) {
      try {
        olds.push(unmarshall(raw));
      } catch (error) {
        errors.push({
          key: "(unreadable item)",
          step: "transform and validate",
          problems: [(error as Error).message],
        });
      }
    }
    const existing = await context.target.store.getMany(legacyIds(olds));
    const decisions = planMigration(olds, existing, now);
    const count = (kind: string) => decisions.filter((d) => d.kind === kind).length;
    logger.info(
      { migrate: count("migrate"), skip: count("skip"), report: count("report") },
      `${olds.length} item(s): ${count("migrate")} to migrate, ${count("skip")} already there, ${count("report")} cannot be`,
    );
    return { olds, decisions };
  });

  let migrated = 0;
  let skipped = 0;
  const outcomes: ItemOutcome[] = [];
  const plan: MigrationReport["plan"][number][] = [];
  await step("write records", async () => {
    const copyState: CopyState = { denied: false };
    const bar = (params.progress ?? ((total) => progress(logger, "migrate", total)))(
      decisions.length,
    );
    try {
      for (const [i, decision] of decisions.entries()) {
        let outcome: ItemOutcome;
        try {
          outcome = await migrateItem(context, legacy, decision, { dryRun, copyState });
        } catch (error) {
          throw new Error(
            `${decision.key}: ${describeError(error)}; ${migrated} migrated before it${backup ? ` (backup kept at ${backup})` : ""}`,
            { cause: error },
          );
        }
        outcomes.push(outcome);
        switch (outcome.kind) {
          case "migrated":
            migrated++;
            logger.info(
              { key: outcome.key, id: outcome.id, via: outcome.via },
              `migrated ${outcome.key} as ${outcome.id} (${outcome.via})`,
            );
            break;
          case "dry-run":
            logger.info(
              { key: outcome.key, id: outcome.id, via: outcome.via },
              `dry run: would migrate ${outcome.key} as ${outcome.id} (${outcome.via})`,
            );
            break;
          case "skipped":
            skipped++;
            logger.info(
              { key: outcome.key, id: outcome.id },
              `${outcome.key}: ${outcome.reason}; skipped`,
            );
            break;
          case "reported":
            errors.push({
              key: outcome.key,
              step: decision.kind === "report" ? "transform and validate" : "write records",
              problems: outcome.problems,
            });
            logger.error(
              { key: outcome.key, problems: outcome.problems },
              `cannot migrate ${outcome.key}`,
            );
            break;
        }
        if (dryRun) {
          const old = olds[i] as Record<string, unknown>;
          const record = outcome.kind === "dry-run" ? outcome.record : undefined;
          plan.push({ old, new: record });
          logger.info({ old, new: record }, "dry run: old and new form");
        }
        bar.tick();
      }
    } finally {
      bar.done();
    }
  });

  const report: MigrationReport = {
    total: items.length,
    migrated,
    skipped,
    errors,
    backup,
    outcomes,
    plan,
  };
  logger.info(
    { total: report.total, migrated, skipped, errors: errors.length, backup },
    `migration ${dryRun ? "dry run " : ""}report: ${report.total} total, ${migrated} migrated, ${skipped} skipped, ${errors.length} error(s)`,
  );
  return report;
}

/** The legacy table and bucket: the flags, else the Terraform state (a usage error if neither). */
export async function legacyResources(args: {
  readonly tfstate?: string | undefined;
  readonly table?: string | undefined;
  readonly bucket?: string | undefined;
}): Promise<{ table: string; bucket: string | undefined }> {
  const table = args.table === "" ? undefined : args.table;
  const bucket = args.bucket === "" ? undefined : args.bucket;
  if (args.tfstate === undefined) {
    if (table === undefined) throw new UsageError("--legacy-table or --tfstate is required");
    return { table, bucket };
  }
  try {
    const found = await readTerraformState(resolve(args.tfstate), {
      table: table === undefined,
      bucket: bucket === undefined,
    });
    return { table: table ?? (found.table as string), bucket: bucket ?? found.bucket };
  } catch (error) {
    if (error instanceof TerraformStateError) throw new UsageError(error.message);
    throw error;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    tfstate: { type: "string" },
    "legacy-table": { type: "string" },
    "legacy-bucket": { type: "string" },
    bucket: { type: "string" },
    "backup-dir": { type: "string" },
    stage: { type: "string" },
    "dry-run": { type: "boolean" },
  });
  const resources = await legacyResources({
    tfstate: args.tfstate,
    table: args["legacy-table"],
    bucket: args["legacy-bucket"],
  });
  const logger = createLogger("migrate");
  logger.info(
    { legacyTable: resources.table, legacyBucket: resources.bucket ?? "(the repository bucket)" },
    "legacy resources",
  );
  const report = await migrate({
    root: PROJECT_ROOT,
    stage: stageOf(args.stage),
    dynamo: new DynamoDBClient({ maxAttempts: 1 }),
    s3: sourcesS3Client(),
    legacyS3: sourcesS3Client(),
    legacyTable: resources.table,
    ...(resources.bucket === undefined ? {} : { legacyBucket: resources.bucket }),
    tableName: Resource.Packages.name,
    bucket: args.bucket ?? Resource.Repository.name,
    backupDir: resolve(args["backup-dir"] ?? join(PROJECT_ROOT, ".local", "backups")),
    dryRun: args["dry-run"] === true,
    logger,
  });
  if (report.errors.length > 0) {
    const steps = [...new Set(report.errors.map((e) => e.step))];
    throw new StepError(
      steps.join(", "),
      `${report.errors.length} item(s) not migrated: ${report.errors.map((e) => `${e.key} (${e.problems.join("; ")})`).join(", ")}${report.backup ? ` (backup kept at ${report.backup})` : ""}`,
    );
  }
  return 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
