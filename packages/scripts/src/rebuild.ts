#!/usr/bin/env -S npx tsx
// Forces a full rebuild of the repository from the package table, by invoking the Rebuild
// function (in the cloud through `sst shell`, locally through `npm run shell`).
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { Resource } from "sst";

const HELP = `Usage: sst shell --stage <stage> -- tsx packages/scripts/src/rebuild.ts [--dry-run]
       npm run shell -- tsx packages/scripts/src/rebuild.ts          (local stage)

Regenerates every index from DynamoDB alone and re-signs the Release; reports records whose
pool file is missing. --dry-run names the function it would invoke and stops.
`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(HELP);
    return 0;
  }
  const unknown = argv.filter((a) => a !== "--dry-run");
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown[0]}\n\n${HELP}`);
    return 2;
  }
  const name = Resource.Rebuild.name;
  if (argv.includes("--dry-run")) {
    console.log(`would invoke ${name} with {"force_rebuild": true}`);
    return 0;
  }
  console.log(`step 1/1: invoking ${name} (a full rebuild; this can take a while)`);
  const out = await new LambdaClient({}).send(
    new InvokeCommand({ FunctionName: name, Payload: JSON.stringify({ force_rebuild: true }) }),
  );
  const body = out.Payload ? new TextDecoder().decode(out.Payload) : "";
  if (out.FunctionError) {
    console.error(`step "invoke rebuild" failed: ${body}`);
    return 1;
  }
  const report = JSON.parse(body) as {
    published: string[];
    invalid: unknown[];
    missingFiles: unknown[];
  };
  console.log(
    `rebuilt: published ${report.published.join(", ") || "nothing new"}; ${report.invalid.length} invalid record(s); ${report.missingFiles.length} missing pool file(s)`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`rebuild failed: ${(error as Error).message}`);
    process.exit(1);
  },
);
