#!/usr/bin/env -S npx tsx
// Forces a full rebuild of the repository from the package table, by invoking the Rebuild
// function (in the cloud through `sst shell`, locally through `npm run shell`).
import { pathToFileURL } from "node:url";
import { createLogger } from "@app/core/log";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { Resource } from "sst";
import { parseCommandLine, runScript, stepper } from "./cli";

const HELP = `Usage: sst shell --stage <stage> -- tsx packages/scripts/src/rebuild.ts [--dry-run]
       npm run shell -- tsx packages/scripts/src/rebuild.ts          (local stage)

Regenerates every index from DynamoDB alone and re-signs the Release; reports records whose
pool file is missing. --dry-run names the function it would invoke and stops.
`;

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
    return JSON.parse(body) as { published: string[]; invalid: unknown[]; missingFiles: unknown[] };
  });
  logger.info(
    `rebuilt: published ${report.published.join(", ") || "nothing new"}; ${report.invalid.length} invalid record(s); ${report.missingFiles.length} missing pool file(s)`,
  );
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) runScript(HELP, main);
