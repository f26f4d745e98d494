#!/usr/bin/env -S npx tsx
// What the repository holds and whether it is healthy, without reading Lambda logs: per suite
// and package, the versions recorded and the ones the served index lists; invalid records with
// every failed field; records whose pool file is missing or has another size; the Release's
// Date, Valid-Until and the keys that signed it; the dead-letter queue's depth. Exits 1 when
// anything is wrong, so it can gate a deploy.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { loadConfig } from "@app/core/config";
import { compareVersions, getField, parseParagraphs, parseRelease } from "@app/core/debian";
import { createLogger, type Logger } from "@app/core/log";
import { listedPool, poolProblem, S3ObjectStore } from "@app/core/publish";
import type { PackageRecord } from "@app/core/record";
import { describeKeyIdMismatch, keyIdMismatch, signatureFingerprints } from "@app/core/signing";
import { PackageStore } from "@app/core/store";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Resource } from "sst";
import { isMain, PROJECT_ROOT, parseCommandLine, runScript, stageOf, stepper } from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/status.ts [--json] [--from-url]
       npm run shell -- scripts/status.ts [--json] [--from-url]      (local stage)

Reports, per suite and package, the versions recorded in the package table and the ones the
published index lists; invalid records and why (every failed field); records whose pool file is
missing or has another size than recorded; each suite's Release Date, Valid-Until and signing
keys (checked against signing.key_ids); the dead-letter queue's depth. Writes nothing.

Options:
  --json       the report as JSON on stdout (logs go to stderr)
  --from-url   read the index through the repository URL (what users get, through the CDN)
               instead of the bucket
  --stage <s>  the stage whose config to use (default: the stage SST's links name)
  --help       this text

Exit codes: 0 all is well, 1 something is wrong (listed) or a step failed (named), 2 bad usage.
`;

export const STEPS = [
  "validate config",
  "read records",
  "read published indices",
  "check pool files",
  "read dead letters",
] as const;

/** Where the published files are read from: the bucket, or the served URL. */
export interface RepositoryReader {
  readonly where: string;
  /** The object's bytes; undefined when it does not exist. */
  get(key: string): Promise<Uint8Array | undefined>;
}

export function bucketReader(s3: S3Client, bucket: string): RepositoryReader {
  const store = new S3ObjectStore(s3, bucket);
  return { where: `s3://${bucket}`, get: (key) => store.get(key) };
}

export function urlReader(baseUrl: string): RepositoryReader {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    where: base,
    async get(key) {
      const response = await fetch(`${base}/${key}`, { headers: { "cache-control": "no-cache" } });
      if (response.status === 404 || response.status === 403) return undefined;
      if (!response.ok) throw new Error(`GET ${base}/${key}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
  };
}

/** The dead-letter queue: SQS in the cloud, the local stage's JSONL file (a `file:` URL). */
export async function deadLetterDepth(url: string): Promise<number> {
  if (url.startsWith("file:")) {
    try {
      const text = await readFile(fileURLToPath(url), "utf8");
      return text.split("\n").filter((l) => l.trim() !== "").length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw error;
    }
  }
  const out = await new SQSClient({}).send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  const a = out.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

export interface PackageStatus {
  readonly name: string;
  /** Versions recorded (valid records), oldest first by dpkg's order, as `version (arch)`. */
  readonly recorded: readonly string[];
  /** Versions the published index lists, same form. */
  readonly published: readonly string[];
}

export interface SuiteStatus {
  readonly suite: string;
  readonly release:
    | {
        readonly date: string;
        readonly validUntil: string | undefined;
        /** Issuer fingerprints of InRelease's signatures. */
        readonly signedBy: readonly string[];
      }
    | undefined;
  readonly packages: readonly PackageStatus[];
}

export interface StatusReport {
  readonly stage: string;
  readonly ok: boolean;
  /** Everything wrong, one sentence each. */
  readonly problems: readonly string[];
  readonly suites: readonly SuiteStatus[];
  readonly invalid: readonly {
    key: string;
    issues: readonly { field: string; message: string }[];
  }[];
  readonly poolFiles: readonly { id: string; filename: string; problem: string }[];
  readonly deadLetters: { readonly where: string; readonly depth: number } | undefined;
}

export interface StatusParams {
  readonly root: string;
  readonly stage: string;
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly s3: S3Client;
  readonly bucket: string;
  /** Where the index is read (default: the bucket). */
  readonly reader?: RepositoryReader;
  /** The dead-letter queue's URL (SQS, or file: locally); undefined when there is none. */
  readonly deadLetterUrl: string | undefined;
  /** Overrides the stage's signing.key_ids (tests). */
  readonly keyIds?: readonly string[];
  readonly logger: Logger;
  readonly now?: Date;
}

const label = (version: string, arch: string) => `${version} (${arch})`;

export async function status(params: StatusParams): Promise<StatusReport> {
  const { logger } = params;
  const now = params.now ?? new Date();
  const step = stepper(logger, STEPS);
  const reader = params.reader ?? bucketReader(params.s3, params.bucket);
  const problems: string[] = [];

  const stage = await step("validate config", async () => {
    const config = await loadConfig(params.root, params.stage, { warn: (w) => logger.warn(w) });
    return config.stage;
  });
  const keyIds = params.keyIds ?? stage.signing.key_ids;

  const { records, invalid } = await step("read records", async () => {
    const store = new PackageStore({ client: params.dynamo, tableName: params.tableName, logger });
    const all = await store.all();
    logger.info(`${all.records.length} valid record(s), ${all.invalid.length} invalid`);
    return all;
  });
  for (const i of invalid) {
    problems.push(
      `invalid record ${i.key}: ${i.issues.map((x) => `${x.field}: ${x.message}`).join("; ")}`,
    );
  }

  const suiteOf = (r: PackageRecord) => r.suite ?? stage.default_suite;
  const suites = [...new Set([stage.suite, ...records.map(suiteOf)])].sort();
  const suiteStatus = await step("read published indices", async () => {
    const out: SuiteStatus[] = [];
    for (const suite of suites) {
      const release = await readRelease(reader, suite, problems);
      if (release !== undefined) {
        if (release.validUntil !== undefined && new Date(release.validUntil) <= now) {
          problems.push(`${suite}: the Release expired at ${release.validUntil} (Valid-Until)`);
        }
        const mismatch = keyIdMismatch(release.signedBy, keyIds);
        if (mismatch !== undefined) {
          problems.push(
            `${suite}: InRelease is signed by ${release.signedBy.join(", ") || "no key"}, not signing.key_ids: ${describeKeyIdMismatch({ unlisted: mismatch.unlisted, absent: mismatch.absent })}`,
          );
        }
      }
      // id -> the stanza's version and architecture, over every index of the suite.
      const listed = new Map<string, { name: string; version: string; arch: string }>();
      for (const component of stage.components) {
        for (const arch of stage.architectures) {
          const key = `dists/${suite}/${component}/binary-${arch}/Packages.gz`;
          const bytes = await reader.get(key);
          if (bytes === undefined) {
            if (release !== undefined) problems.push(`${suite}: ${key} is missing`);
            continue;
          }
          const text = gunzipSync(bytes).toString("utf8");
          for (const stanza of text.trim() === "" ? [] : parseParagraphs(text, key)) {
            const name = getField(stanza, "Package") ?? "";
            const version = getField(stanza, "Version") ?? "";
            const a = getField(stanza, "Architecture") ?? "";
            listed.set(`${name}#${version}#${a}`, { name, version, arch: a });
          }
        }
      }
      const mine = records.filter((r) => suiteOf(r) === suite);
      const names = [
        ...new Set([
          ...mine.map((r) => r.package_name),
          ...[...listed.values()].map((l) => l.name),
        ]),
      ].sort();
      const packages: PackageStatus[] = names.map((name) => {
        const rec = mine
          .filter((r) => r.package_name === name)
          .sort((a, b) => compareVersions(a.version, b.version));
        const pub = [...listed.values()]
          .filter((l) => l.name === name)
          .sort((a, b) => compareVersions(a.version, b.version));
        for (const r of rec) {
          if (!listed.has(r.package_id))
            problems.push(`${suite}: ${r.package_id} is recorded but not published`);
        }
        const ids = new Set(rec.map((r) => r.package_id));
        for (const [id] of [...listed].filter(([, l]) => l.name === name)) {
          if (!ids.has(id)) problems.push(`${suite}: ${id} is published but not recorded`);
        }
        return {
          name,
          recorded: rec.map((r) => label(r.version, r.architecture)),
          published: pub.map((l) => label(l.version, l.arch)),
        };
      });
      out.push({ suite, release, packages });
    }
    return out;
  });

  const poolFiles = await step("check pool files", async () => {
    // The publisher's own view and rule, so status flags exactly what the publisher holds back.
    const pool = await listedPool(new S3ObjectStore(params.s3, params.bucket));
    const found: { id: string; filename: string; problem: string }[] = [];
    for (const r of records) {
      // A build record gets its filename and size when the publisher has built it.
      if (r.filename === undefined || r.file_size === undefined || r.md5_hash === undefined) {
        if (r.source !== "build") continue;
        found.push({ id: r.package_id, filename: "", problem: "not built yet (no filename)" });
        continue;
      }
      const problem = poolProblem(await pool.file(r.filename), {
        file_size: r.file_size,
        md5_hash: r.md5_hash,
      });
      if (problem !== undefined) found.push({ id: r.package_id, filename: r.filename, problem });
    }
    for (const f of found)
      problems.push(`${f.id}: pool file ${f.filename} ${f.problem}`.replace("pool file  ", ""));
    logger.info(`pool files checked; ${found.length} problem(s)`);
    return found;
  });

  const deadLetters = await step("read dead letters", async () => {
    if (params.deadLetterUrl === undefined) {
      logger.warn("no dead-letter queue linked; not checked");
      return undefined;
    }
    const depth = await deadLetterDepth(params.deadLetterUrl);
    if (depth > 0) {
      problems.push(
        `${depth} message(s) in the dead-letter queue (${params.deadLetterUrl}): publications that failed every retry`,
      );
    }
    return { where: params.deadLetterUrl, depth };
  });

  return {
    stage: stage.stage,
    ok: problems.length === 0,
    problems,
    suites: suiteStatus,
    invalid: invalid.map((i) => ({
      key: i.key,
      issues: i.issues.map((x) => ({ field: x.field, message: x.message })),
    })),
    poolFiles,
    deadLetters,
  };
}

async function readRelease(
  reader: RepositoryReader,
  suite: string,
  problems: string[],
): Promise<SuiteStatus["release"]> {
  const releaseBytes = await reader.get(`dists/${suite}/Release`);
  const inRelease = await reader.get(`dists/${suite}/InRelease`);
  if (releaseBytes === undefined || inRelease === undefined) {
    problems.push(
      `${suite}: not published (${releaseBytes === undefined ? "no Release" : "no InRelease"} in ${reader.where})`,
    );
    return undefined;
  }
  const release = parseRelease(new TextDecoder().decode(releaseBytes), `dists/${suite}/Release`);
  const signedBy = await signatureFingerprints(new TextDecoder().decode(inRelease));
  return {
    date: release.date.toISOString(),
    validUntil: release.validUntil?.toISOString(),
    signedBy,
  };
}

/** The report as a person reads it. */
export function renderStatus(report: StatusReport): string {
  const lines: string[] = [`stage ${report.stage}`];
  for (const s of report.suites) {
    const r = s.release;
    lines.push(
      r === undefined
        ? `suite ${s.suite}: not published`
        : `suite ${s.suite}: Release Date ${r.date}, Valid-Until ${r.validUntil ?? "none"}, signed by ${r.signedBy.join(", ")}`,
    );
    for (const p of s.packages) {
      lines.push(`  ${p.name}`);
      lines.push(`    recorded:  ${p.recorded.join(", ") || "-"}`);
      lines.push(`    published: ${p.published.join(", ") || "-"}`);
    }
  }
  if (report.deadLetters !== undefined)
    lines.push(`dead letters: ${report.deadLetters.depth} (${report.deadLetters.where})`);
  lines.push(
    report.ok
      ? "OK: nothing wrong"
      : `${report.problems.length} problem(s):\n${report.problems.map((p) => `  - ${p}`).join("\n")}`,
  );
  return `${lines.join("\n")}\n`;
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    json: { type: "boolean" },
    "from-url": { type: "boolean" },
    stage: { type: "string" },
  });
  const json = args.json === true;
  // With --json, stdout carries the report alone.
  const logger = createLogger("status", json ? { stream: 2 } : {});
  const stage = stageOf(args.stage);
  // The URL users read: the CDN's as `sst shell` links it (locally, the running stack's).
  const repoUrl = async () =>
    "Cdn" in Resource ? Resource.Cdn.url : (await loadConfig(PROJECT_ROOT, stage)).stage.repo_url;
  const report = await status({
    root: PROJECT_ROOT,
    stage,
    dynamo: new DynamoDBClient({ maxAttempts: 1 }),
    tableName: Resource.Packages.name,
    s3: new S3Client({ forcePathStyle: process.env.AWS_ENDPOINT_URL_S3 !== undefined }),
    bucket: Resource.Repository.name,
    ...(args["from-url"] ? { reader: urlReader(await repoUrl()) } : {}),
    deadLetterUrl: "DeadLetters" in Resource ? Resource.DeadLetters.url : undefined,
    logger,
  });
  process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return report.ok ? 0 : 1;
}

if (isMain(import.meta.url)) runScript(HELP, main);
