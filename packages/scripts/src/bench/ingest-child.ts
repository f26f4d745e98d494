// The measured side of the ingest benchmark: one import of one .deb in a fresh process, so its
// peak RSS is the ingestion's (and Node's own), nothing else's. Prints one JSON line: seconds,
// its CPU seconds (user + system), maxRssKb, the outcome, and when the staging upload and the
// pool copy returned.
import { loadConfig } from "@app/core/config";
import { createLogger } from "@app/core/log";
import { importDebs, sourceContext, sourceSettings } from "@app/core/sources";

async function main(): Promise<void> {
  const [root, file, table, bucket, mode] = process.argv.slice(2) as [
    string,
    string,
    string,
    string,
    "upload" | "dry-run" | "idle",
  ];
  const config = await loadConfig(root, "local");
  const logger = createLogger("bench-ingest", { level: "warn" });
  const context = sourceContext({
    settings: sourceSettings(config),
    packagesTable: table,
    bucket,
    logger,
  });
  const cpu = () => {
    const u = process.resourceUsage();
    return (u.userCPUTime + u.systemCPUTime) / 1e6;
  };
  const cpuBefore = cpu();
  const started = performance.now();
  const marks: Record<string, number> = {};
  // When each S3 call returned, by command: where the time goes.
  context.target.bucket.s3.middlewareStack.add(
    (next, info) => async (args) => {
      const out = await next(args);
      marks[info.commandName ?? "?"] = (performance.now() - started) / 1000;
      return out;
    },
    { step: "initialize", name: "benchMarks" },
  );
  if (mode === "idle") {
    // Node and the loaded modules: the floor under every measurement.
    process.stdout.write(
      `${JSON.stringify({ seconds: 0, maxRssKb: process.resourceUsage().maxRSS, outcome: "idle" })}\n`,
    );
    return;
  }
  const report = await importDebs(
    context,
    { inputs: [file] },
    mode === "dry-run" ? { dryRun: true } : {},
  );
  const seconds = (performance.now() - started) / 1000;
  if (report.failed.length > 0) throw new Error(report.failed.map((f) => f.error).join("; "));
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      cpuSeconds: cpu() - cpuBefore,
      maxRssKb: process.resourceUsage().maxRSS,
      outcome: report.ingested[0]?.outcome,
      uploadedAt: marks.CompleteMultipartUploadCommand,
      copiedAt: marks.CopyObjectCommand,
    })}\n`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
