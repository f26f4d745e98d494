#!/usr/bin/env -S npx tsx
// Runs the upstream poller now (what the schedule runs): reads each upstream package's feed and
// ingests the versions not yet recorded.
import { loadConfig } from "@app/core/config";
import { createLogger } from "@app/core/log";
import { pollUpstream, sourceContext, sourceSettings } from "@app/core/sources";
import { Resource } from "sst";
import {
  isMain,
  PROJECT_ROOT,
  parseCommandLine,
  runScript,
  stageOf,
  stepper,
  UsageError,
} from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/poll.ts [options]
       npm run shell -- scripts/poll.ts [options]     (local stage)

Polls the release feed of every package with source type upstream (or only --package), as the
scheduled poller does: validates the feed, skips recorded versions, and ingests the others
oldest first (download stream → staging → checks → pool → record). A version that fails does
not stop the others.

Options:
  --package <name>  only this package
  --stage <s>       the stage whose config to use (default: the stage SST's links name)
  --dry-run         read the feed and download and check the new versions; write nothing
  --help            this text

Exit codes: 0 done, 1 a version or step failed (named on stderr), 2 bad usage.
`;

const STEPS = ["validate config", "poll"] as const;

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    package: { type: "string" },
    stage: { type: "string" },
    "dry-run": { type: "boolean" },
  });
  const logger = createLogger("poll");
  const step = stepper(logger, STEPS);
  const config = await step("validate config", () =>
    loadConfig(PROJECT_ROOT, stageOf(args.stage), { warn: (w) => logger.warn(w) }),
  );
  const upstream = [...config.packages.values()]
    .filter((p) => p.source.type === "upstream")
    .map((p) => p.name);
  const names = args.package === undefined ? upstream : [args.package];
  for (const name of names) {
    if (!upstream.includes(name)) {
      throw new UsageError(`${name} is not an upstream package (upstream: ${upstream.join(", ")})`);
    }
  }
  const context = sourceContext({
    settings: sourceSettings(config),
    packagesTable: Resource.Packages.name,
    bucket: Resource.Repository.name,
    logger,
  });
  let failed = 0;
  await step("poll", async () => {
    for (const name of names) {
      const report = await pollUpstream(context, { name }, { dryRun: args["dry-run"] === true });
      logger.info(
        { package: name, ingested: report.ingested, skipped: report.skipped.length },
        "polled",
      );
      for (const f of report.failed) process.stderr.write(`failed ${f.label}: ${f.error}\n`);
      failed += report.failed.length;
    }
  });
  return failed > 0 ? 1 : 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
