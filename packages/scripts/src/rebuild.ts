#!/usr/bin/env -S npx tsx
// Forces a full rebuild of the repository from the package table, by invoking the Rebuild
// function (in the cloud through `sst shell`, locally through `npm run shell`).
import { pathToFileURL } from "node:url";
import { createLogger } from "@app/core/log";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { Resource } from "sst";
import * as v from "valibot";
import { parseCommandLine, runScript, stepper } from "./cli";

const HELP = `Usage: sst shell --stage <stage> -- tsx packages/scripts/src/rebuild.ts [--dry-run]
       npm run shell -- tsx packages/scripts/src/rebuild.ts          (local stage)

Regenerates every index from DynamoDB (and one listing of pool/) and re-signs the Release;
publishes records whose pool file has appeared, and names those still held back (pool file
missing, or of another size or MD5). --dry-run names the function it would invoke and stops.
`;

/** What the Rebuild function answers (the parts this script prints). */
const reportSchema = v.object({
  published: v.array(v.string()),
  invalid: v.array(v.unknown()),
  heldBack: v.array(v.object({ id: v.string(), filename: v.string(), problem: v.string() })),
});

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, { "dry-run": { type: "boolean" } });
  const logger = createLogger("rebuild");
  const step = stepper(logger, ["invoke rebuild"]);
  const name = Resource.Rebuild.name;
  if (args["dry-run"]) {
    logger.info(`would invoke ${name} with {"force_rebuild": true}`);
    return 0;
  }
  const report = await step("invoke rebuild", async () => {
    logger.info({ function: name }, "a full rebuild; this can take a while");
    const out = await new LambdaClient({}).send(
      new InvokeCommand({ FunctionName: name, Payload: JSON.stringify({ force_rebuild: true }) }),
    );
    const body = out.Payload ? new TextDecoder().decode(out.Payload) : "";
    if (out.FunctionError) throw new Error(body);
    const parsed = v.safeParse(reportSchema, JSON.parse(body));
    if (!parsed.success) {
      throw new Error(`the Rebuild function's answer: ${v.summarize(parsed.issues)}`);
    }
    return parsed.output;
  });
  for (const h of report.heldBack)
    logger.error(h, "held back: pool file missing or not the record's");
  logger.info(
    `rebuilt: published ${report.published.join(", ") || "nothing new"}; ${report.invalid.length} invalid record(s); ${report.heldBack.length} record(s) held back for their pool file`,
  );
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) runScript(HELP, main);
