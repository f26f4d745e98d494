#!/usr/bin/env -S npx tsx
// Imports .debs an operator holds (files or https URLs) through the same ingestion path as the
// upstream poller: the control file is read as the bytes stream to a staging object, checked
// against the config (the package is known, its architecture allowed), the file is copied to
// its pool path and only then the record is written. The stream publishes it.
import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { type LoadedConfig, loadConfig } from "@app/core/config";
import { createLogger, type Logger } from "@app/core/log";
import { suiteSchema } from "@app/core/record";
import {
  importDebs,
  type RunReport,
  type SourceContext,
  sourceContext,
  sourceSettings,
  waitUntilPublished,
} from "@app/core/sources";
import { Resource } from "sst";
import * as v from "valibot";
import {
  isMain,
  PROJECT_ROOT,
  type Progress,
  progress,
  runScript,
  stageOf,
  stepper,
  UsageError,
} from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/import-deb.ts <file.deb | https URL>... [options]
       npm run shell -- scripts/import-deb.ts <file.deb | https URL>... [options]   (local stage)

Imports Debian packages into the repository: each .deb is streamed to a private staging object
while its control file is read and its hashes computed; the package must be named in
config/packages with its architecture allowed; then the file is copied to its pool path and
the record written (source: manual). Several files (e.g. amd64 and arm64 of one release) are
one command; each succeeds or fails on its own. Importing the same bytes again changes
nothing; other bytes under a recorded version are refused, naming the differing hashes.

Options:
  --suite <s>      record them in this suite (default: the stage's)
  --stage <s>      the stage whose config to use (default: the stage SST's links name)
  --dry-run        read and check every file, print the records; write nothing
  --wait           then wait until the published index lists every imported version
  --timeout <sec>  how long --wait waits (default 300)
  --help           this text

Progress (local files): a bar with MiB read and rate on a terminal (stderr), plain lines
otherwise.

Exit codes: 0 all imported, 1 a file or step failed (named on stderr), 2 bad usage.
`;

export const STEPS = ["validate config", "import", "wait for publication"] as const;

export interface ImportParams {
  readonly inputs: readonly string[];
  readonly config: LoadedConfig;
  readonly context: SourceContext;
  readonly suite?: string;
  readonly dryRun?: boolean;
  /** Wait this long for the index to list them; undefined: do not wait. */
  readonly waitMs?: number;
  readonly logger: Logger;
  /** Byte progress over the local files (default: a bar on a terminal, lines otherwise). */
  readonly progress?: (totalBytes: number) => Progress;
}

/** The local files' total size, or undefined when an input is a URL (sizes unknown up front). */
function localBytes(inputs: readonly string[]): number | undefined {
  let total = 0;
  for (const input of inputs) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return undefined;
    try {
      total += statSync(input).size;
    } catch {
      // The ingestion names the unreadable file.
    }
  }
  return total;
}

export async function importDebFiles(params: ImportParams): Promise<RunReport> {
  const { logger, context } = params;
  const step = stepper(logger, STEPS);
  const total = localBytes(params.inputs);
  const bar =
    total === undefined
      ? undefined
      : (params.progress ?? ((t) => progress(logger, "import", t, { unit: "bytes" })))(total);
  const report = await step("import", () =>
    importDebs(
      context,
      {
        inputs: params.inputs,
        ...(params.suite === undefined ? {} : { suite: params.suite }),
        ...(bar === undefined ? {} : { onBytes: (_input: string, n: number) => bar.tick(n) }),
      },
      params.dryRun ? { dryRun: true } : {},
    ),
  ).finally(() => bar?.done());
  for (const r of report.results) {
    logger.info(
      { id: r.record.package_id, filename: r.record.filename, sha256: r.hashes.sha256 },
      r.outcome === "dry-run"
        ? "dry run: would record"
        : r.outcome === "created"
          ? "imported"
          : "already recorded with these bytes: nothing written",
    );
  }
  const waitMs = params.waitMs;
  if (waitMs !== undefined && !params.dryRun && report.results.length > 0) {
    await step("wait for publication", () => {
      const stage = params.config.stage;
      return waitUntilPublished(
        context.target.bucket,
        report.results.map((r) => r.record),
        {
          defaults: {
            suite: stage.default_suite,
            component: stage.default_component,
            architectures: stage.architectures,
          },
          timeoutMs: waitMs,
          onPublished: (record, at) =>
            logger.info({ id: record.package_id, suite: at.suite }, "published"),
        },
      );
    });
  }
  return report;
}

async function main(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (positionals.length === 0) throw new UsageError("no .deb files or URLs given");
  if (values.suite !== undefined && !v.is(suiteSchema, values.suite)) {
    throw new UsageError(`--suite ${values.suite}: not a suite name`);
  }
  const timeout = values.timeout === undefined ? 300 : Number(values.timeout);
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new UsageError("--timeout must be a whole number of seconds");
  }
  const logger = createLogger("import-deb");
  const step = stepper(logger, STEPS);
  const stage = stageOf(values.stage);
  const config = await step("validate config", () =>
    loadConfig(PROJECT_ROOT, stage, { warn: (w) => logger.warn(w) }),
  );
  const context = sourceContext({
    settings: sourceSettings(config),
    packagesTable: Resource.Packages.name,
    bucket: Resource.Repository.name,
    logger,
  });
  const report = await importDebFiles({
    inputs: positionals,
    config,
    context,
    ...(values.suite === undefined ? {} : { suite: values.suite }),
    dryRun: values["dry-run"] === true,
    ...(values.wait ? { waitMs: timeout * 1000 } : {}),
    logger,
  });
  for (const f of report.failed) process.stderr.write(`refused ${f.label}: ${f.error}\n`);
  return report.failed.length > 0 ? 1 : 0;
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    options: {
      suite: { type: "string" },
      stage: { type: "string" },
      "dry-run": { type: "boolean" },
      wait: { type: "boolean" },
      timeout: { type: "string" },
    },
    strict: true,
    allowPositionals: true,
  });
}

if (isMain(import.meta.url)) runScript(HELP, main);
