#!/usr/bin/env -S npx tsx
// Moves the legacy table (one item per kiro release, keyed by `version`, as the old Python
// Lambda wrote it) into the package table. A JSONL backup of the legacy table comes first;
// every item is transformed and validated before anything is written; reruns skip what is
// already migrated. Items that cannot be migrated are reported, never half-written.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { controlDescription, loadConfig, type PackageConfig } from "@app/core/config";
import { debHashes } from "@app/core/debian";
import { createLogger, type Logger } from "@app/core/log";
import { isS3NotFound } from "@app/core/publish";
import {
  type PackageRecord,
  type PackageRecordInput,
  packageId,
  parseRecord,
  poolPath,
} from "@app/core/record";
import {
  describeError,
  isTransientAwsError,
  PackageStore,
  VersionExistsError,
  withRetry,
} from "@app/core/store";
import { type AttributeValue, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import {
  CopyObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { Resource } from "sst";
import * as v from "valibot";
import {
  isMain,
  PROJECT_ROOT,
  parseCommandLine,
  runScript,
  StepError,
  stageOf,
  stepper,
  UsageError,
} from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/migrate.ts --legacy-table <name> [options]
       npm run shell -- scripts/migrate.ts --legacy-table <name> [options]   (local stage)

Moves the kiro releases of the legacy table (keyed by version) into the package table:
package_name kiro, architecture amd64, Debian fields from config/packages/kiro.yaml, source
"migration", the pool path as filename. Size and hashes the legacy item lacks are computed from
the .deb in the bucket (its legacy key, else the pool path); a .deb found only under a legacy key
is copied to its pool path. An item that cannot be migrated is reported and left out.

Steps: validate config, back up the legacy table (JSONL, one DynamoDB JSON item per line),
transform and validate every item, write. Reruns skip items already migrated.

Options:
  --legacy-table <name>  the legacy table (required)
  --bucket <name>        the repository bucket (default: the stage's Repository)
  --backup-dir <dir>     where the backup goes (default .local/backups)
  --stage <s>            the stage whose config to use (default: the stage SST's links name)
  --dry-run              show each item's old and new form; write nothing (no backup either)
  --help                 this text

Exit codes: 0 every item migrated or already there, 1 a step failed or some items could not be
migrated (named on stderr; the backup is kept), 2 bad usage.
`;

export const STEPS = [
  "validate config",
  "back up legacy table",
  "transform and validate",
  "write records",
] as const;

/** The legacy item as the old Lambda wrote it; what it did not write is optional. */
const legacyItemSchema = v.looseObject({
  version: v.pipe(v.string(), v.nonEmpty()),
  deb_url: v.optional(v.string()),
  certificate_url: v.optional(v.string()),
  signature_url: v.optional(v.string()),
  notes: v.optional(v.string()),
  pub_date: v.optional(v.string()),
  actual_filename: v.optional(v.string()),
  s3_key: v.optional(v.string()),
  file_size: v.optional(v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/))])),
  md5_hash: v.optional(v.string()),
  sha1_hash: v.optional(v.string()),
  sha256_hash: v.optional(v.string()),
  sha512_hash: v.optional(v.string()),
  processed_timestamp: v.optional(v.string()),
});
type LegacyItem = v.InferOutput<typeof legacyItemSchema>;

const HASHES = ["md5_hash", "sha1_hash", "sha256_hash", "sha512_hash"] as const;

export interface MigrateParams {
  readonly root: string;
  readonly stage: string;
  readonly dynamo: DynamoDBClient;
  readonly s3: S3Client;
  readonly legacyTable: string;
  readonly tableName: string;
  readonly bucket: string;
  readonly backupDir: string;
  readonly dryRun?: boolean;
  /** Log progress every this many items (default 50). */
  readonly progressEvery?: number;
  readonly logger: Logger;
  readonly now?: Date;
}

export interface ItemError {
  /** The legacy key, e.g. `version=0.7.45`. */
  readonly key: string;
  /** Where it failed: "transform and validate", or "write records" (a conflicting version). */
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
  /** Dry run: each item's old and new form (new undefined where it failed). */
  readonly plan: readonly { old: Record<string, unknown>; new: PackageRecord | undefined }[];
}

/** The legacy timestamp as ISO 8601 with zone: the old Lambda wrote UTC without one. */
export function normaliseTimestamp(text: string | undefined, now: Date): string {
  if (text === undefined || text.trim() === "") return now.toISOString();
  const trimmed = text.trim();
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed) ? trimmed : `${trimmed}Z`;
  const date = new Date(zoned);
  if (Number.isNaN(date.getTime()))
    throw new Error(`processed_timestamp ${JSON.stringify(text)} is not a date`);
  return date.toISOString();
}

/** Where the legacy .deb may be: what the item names, then the old pool's directory. */
export function legacyKeys(item: LegacyItem): string[] {
  const keys: string[] = [];
  if (item.s3_key !== undefined) keys.push(item.s3_key.replace(/^\/+/, ""));
  const file = item.actual_filename;
  if (file !== undefined && file !== "") {
    if (file.includes("/")) keys.push(file.replace(/^\/+/, ""));
    else keys.push(`pool/main/k/kiro/${file}`, file);
  }
  return [...new Set(keys)];
}

const isMissing = isS3NotFound;

/** Transient S3/DynamoDB failures retried (three times, backoff), each retry logged. */
function retrying<T>(logger: Logger, what: string, run: () => Promise<T>): Promise<T> {
  return withRetry(run, {
    retries: 3,
    isRetryable: isTransientAwsError,
    onRetry: (info) =>
      logger.warn({ what, attempt: info.attempt, error: describeError(info.error) }, "retrying"),
  });
}

interface Planned {
  readonly legacy: LegacyItem;
  readonly record: PackageRecord;
  /** A legacy key to copy to the pool path before the record is written. */
  readonly copyFrom: string | undefined;
}

export async function migrate(params: MigrateParams): Promise<MigrationReport> {
  const { logger, dynamo, s3, bucket } = params;
  const now = params.now ?? new Date();
  const every = params.progressEvery ?? 50;
  const step = stepper(logger, STEPS);
  let backup: string | undefined;

  const { pkg, component } = await step("validate config", async () => {
    const config = await loadConfig(params.root, params.stage, { warn: (w) => logger.warn(w) });
    const pkg = config.packages.get("kiro");
    if (pkg === undefined) throw new Error("no package config named kiro in config/packages");
    return { pkg, component: config.stage.default_component };
  });

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
    if (params.dryRun) {
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
  const planned: Planned[] = [];
  const plan: { old: Record<string, unknown>; new: PackageRecord | undefined }[] = [];
  await step("transform and validate", async () => {
    let done = 0;
    for (const raw of items) {
      let old: Record<string, unknown>;
      try {
        old = unmarshall(raw);
      } catch (error) {
        errors.push({
          key: "(unreadable item)",
          step: "transform and validate",
          problems: [(error as Error).message],
        });
        continue;
      }
      const key = `version=${typeof old.version === "string" ? old.version : JSON.stringify(old.version)}`;
      const result = await transform(old, { pkg, component, now, s3, bucket, logger });
      if (result.ok) planned.push(result.planned);
      else errors.push({ key, step: "transform and validate", problems: result.problems });
      if (params.dryRun) plan.push({ old, new: result.ok ? result.planned.record : undefined });
      if (++done % every === 0) logger.info(`transformed ${done}/${items.length}`);
    }
    for (const e of errors)
      logger.error({ key: e.key, problems: e.problems }, `cannot migrate ${e.key}`);
    if (params.dryRun) {
      for (const p of plan) logger.info({ old: p.old, new: p.new }, "dry run: old and new form");
    }
  });

  let migrated = 0;
  let skipped = 0;
  await step("write records", async () => {
    if (params.dryRun) {
      logger.info(`dry run: would write ${planned.length} record(s) to ${params.tableName}`);
      return;
    }
    const store = new PackageStore({ client: dynamo, tableName: params.tableName, logger });
    let done = 0;
    for (const { record, copyFrom } of planned) {
      const filename = record.filename as string;
      try {
        if (copyFrom !== undefined) {
          await retrying(logger, `copy ${copyFrom}`, () =>
            s3.send(
              new CopyObjectCommand({
                Bucket: bucket,
                Key: filename,
                CopySource: `${bucket}/${copyFrom.split("/").map(encodeURIComponent).join("/")}`,
                ContentType: "application/vnd.debian.binary-package",
                MetadataDirective: "REPLACE",
              }),
            ),
          );
          logger.info(`copied ${copyFrom} to ${filename}`);
        }
        const outcome = await store.put(record);
        if (outcome === "created") migrated++;
        else {
          skipped++;
          logger.info(`${record.package_id} is already migrated; skipped`);
        }
      } catch (error) {
        if (!(error instanceof VersionExistsError)) {
          throw new Error(
            `${record.package_id}: ${describeError(error)} (backup kept at ${backup}); ${migrated} migrated before it`,
            { cause: error },
          );
        }
        errors.push({
          key: `version=${record.version}`,
          step: "write records",
          problems: [error.message],
        });
        logger.error({ id: record.package_id }, error.message);
      }
      if (++done % every === 0) logger.info(`written ${done}/${planned.length}`);
    }
  });

  const report: MigrationReport = {
    total: items.length,
    migrated,
    skipped,
    errors,
    backup,
    plan,
  };
  logger.info(
    { total: report.total, migrated, skipped, errors: errors.length, backup },
    `migration ${params.dryRun ? "dry run " : ""}report: ${report.total} total, ${migrated} migrated, ${skipped} skipped, ${errors.length} error(s)`,
  );
  return report;
}

type Transformed = { ok: true; planned: Planned } | { ok: false; problems: string[] };

async function transform(
  old: Record<string, unknown>,
  ctx: {
    pkg: PackageConfig;
    component: string;
    now: Date;
    s3: S3Client;
    bucket: string;
    logger: Logger;
  },
): Promise<Transformed> {
  const parsed = v.safeParse(legacyItemSchema, old, { abortEarly: false });
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.issues.map((i) => `${v.getDotPath(i) ?? "(item)"}: ${i.message}`),
    };
  }
  const legacy = parsed.output;
  const { pkg, component, s3, bucket, logger } = ctx;
  const arch = "amd64";
  const name = pkg.name;
  let processed: string;
  try {
    processed = normaliseTimestamp(legacy.processed_timestamp, ctx.now);
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  // A version dpkg would refuse cannot make a pool path: let the schema say why.
  let filename: string;
  try {
    filename = poolPath(component, name, legacy.version, arch);
  } catch {
    filename = "";
  }
  const input: PackageRecordInput = {
    package_id: packageId(name, legacy.version, arch),
    package_name: name,
    version: legacy.version,
    architecture: arch,
    source: "migration",
    filename,
    maintainer: pkg.maintainer,
    description: controlDescription(pkg),
    section: pkg.section,
    priority: pkg.priority,
    homepage: pkg.homepage,
    ...(typeof pkg.depends === "string" ? { depends: pkg.depends } : {}),
    ...(legacy.file_size === undefined ? {} : { file_size: Number(legacy.file_size) }),
    ...Object.fromEntries(
      HASHES.flatMap((h) => (legacy[h] === undefined ? [] : [[h, legacy[h].toLowerCase()]])),
    ),
    ...(legacy.deb_url === undefined ? {} : { deb_url: legacy.deb_url }),
    ...(legacy.certificate_url === undefined ? {} : { certificate_url: legacy.certificate_url }),
    ...(legacy.signature_url === undefined ? {} : { signature_url: legacy.signature_url }),
    ...(legacy.notes === undefined ? {} : { notes: legacy.notes }),
    ...(legacy.pub_date === undefined ? {} : { pub_date: legacy.pub_date }),
    ...(legacy.actual_filename === undefined ? {} : { actual_filename: legacy.actual_filename }),
    processed_timestamp: processed,
  };
  // Validate before touching the bucket: an invalid version needs no file to be rejected.
  const first = parseRecord({ ...input, ...placeholderFile(input) });
  if (!first.ok)
    return { ok: false, problems: first.issues.map((i) => `${i.field}: ${i.message}`) };

  const complete = input.file_size !== undefined && HASHES.every((h) => input[h] !== undefined);
  const candidates = [filename, ...legacyKeys(legacy).filter((k) => k !== filename)];
  let found: string | undefined;
  let bytes: Uint8Array | undefined;
  for (const key of candidates) {
    try {
      if (complete) {
        await retrying(logger, `head ${key}`, () =>
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })),
        );
      } else {
        const out = await retrying(logger, `get ${key}`, () =>
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
        );
        bytes = await out.Body?.transformToByteArray();
      }
      found = key;
      break;
    } catch (error) {
      if (!isMissing(error)) {
        return {
          ok: false,
          problems: [`cannot read s3://${bucket}/${key}: ${describeError(error)}`],
        };
      }
    }
  }
  let record: PackageRecordInput = input;
  if (bytes !== undefined) {
    const h = debHashes(bytes);
    const computed = {
      file_size: h.size,
      md5_hash: h.md5,
      sha1_hash: h.sha1,
      sha256_hash: h.sha256,
      sha512_hash: h.sha512,
    };
    const disagree = Object.entries(computed)
      .filter(
        ([k, value]) =>
          input[k as keyof typeof computed] !== undefined &&
          input[k as keyof typeof computed] !== value,
      )
      .map(([k]) => k);
    if (disagree.length > 0) {
      return {
        ok: false,
        problems: [`the legacy ${disagree.join(", ")} differ from s3://${bucket}/${found}`],
      };
    }
    record = { ...input, ...computed };
  } else if (!complete) {
    return {
      ok: false,
      problems: [
        `missing ${["file_size", ...HASHES].filter((a) => input[a as keyof PackageRecordInput] === undefined).join(", ")} and no .deb to compute them from (looked for ${candidates.map((k) => `s3://${bucket}/${k}`).join(", ")})`,
      ],
    };
  } else if (found === undefined) {
    // The table is the truth: the record is complete, so it is published; the publisher and
    // the status script report the missing pool file.
    logger.warn(
      { id: input.package_id, filename },
      "pool file missing; migrating the record anyway",
    );
  }
  const result = parseRecord(record);
  if (!result.ok)
    return { ok: false, problems: result.issues.map((i) => `${i.field}: ${i.message}`) };
  return {
    ok: true,
    planned: {
      legacy,
      record: result.record,
      copyFrom: found !== undefined && found !== filename ? found : undefined,
    },
  };
}

/** Stand-ins for absent file attributes, so a first validation reports only real problems. */
function placeholderFile(input: PackageRecordInput): Partial<PackageRecordInput> {
  return {
    file_size: input.file_size ?? 0,
    md5_hash: input.md5_hash ?? "0".repeat(32),
    sha1_hash: input.sha1_hash ?? "0".repeat(40),
    sha256_hash: input.sha256_hash ?? "0".repeat(64),
    sha512_hash: input.sha512_hash ?? "0".repeat(128),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    "legacy-table": { type: "string" },
    bucket: { type: "string" },
    "backup-dir": { type: "string" },
    stage: { type: "string" },
    "dry-run": { type: "boolean" },
  });
  const legacyTable = args["legacy-table"];
  if (legacyTable === undefined || legacyTable === "")
    throw new UsageError("--legacy-table is required");
  const logger = createLogger("migrate");
  const report = await migrate({
    root: PROJECT_ROOT,
    stage: stageOf(args.stage),
    dynamo: new DynamoDBClient({ maxAttempts: 1 }),
    s3: new S3Client({ maxAttempts: 1 }),
    legacyTable,
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
      `${report.errors.length} item(s) not migrated: ${report.errors.map((e) => e.key).join(", ")}${report.backup ? ` (backup kept at ${report.backup})` : ""}`,
    );
  }
  return 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
