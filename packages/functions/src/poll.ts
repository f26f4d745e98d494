// The upstream poller: `{ "package": "<name>" }`, on the package's schedule. Reads the feed and
// ingests every new version; fails (so the schedule's retries and dead-letter queue see it)
// when any version failed, after trying them all.
import { createLogger } from "@app/core/log";
import { parseSourceSettings, pollUpstream, sourceContext } from "@app/core/sources";
import { Resource } from "sst";
import * as v from "valibot";

const logger = createLogger("poller");
const eventSchema = v.object({ package: v.string('expected { "package": "<name>" }') });

export async function handler(event: unknown) {
  const parsed = v.safeParse(eventSchema, event);
  if (!parsed.success) throw new Error(`poll: ${parsed.issues[0].message}`);
  const context = sourceContext({
    settings: parseSourceSettings(process.env.POLLER_SETTINGS, "POLLER_SETTINGS"),
    packagesTable: Resource.Packages.name,
    bucket: Resource.Repository.name,
    logger,
  });
  const report = await pollUpstream(context, { name: parsed.output.package });
  const summary = {
    ingested: report.ingested.length,
    skipped: report.skipped.length,
    failed: report.failed,
  };
  logger.info(summary, "poll finished");
  if (report.failed.length > 0) {
    throw new Error(
      `poll ${parsed.output.package}: ${report.failed.length} version(s) failed: ${report.failed.map((f) => f.error).join("; ")}`,
    );
  }
  return summary;
}
