#!/usr/bin/env -S npx tsx
import { createLogger, type Logger } from "@app/core/log";
// Forces a full rebuild of the repository from the package table, by invoking the Rebuild
// function (in the cloud through `sst shell`, locally through `npm run shell`).
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { Resource } from "sst";
import * as v from "valibot";
import { isMain, parseCommandLine, runScript, stepper } from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/rebuild.ts [--dry-run]
       npm run shell -- scripts/rebuild.ts [--dry-run]          (local stage)

Invokes the Rebuild function and waits for it: it regenerates every index from DynamoDB alone
(and one listing of pool/) and re-signs the Release; publishes records whose pool file has
appeared, and names those still held back (pool file missing, or of another size or MD5) and
the invalid ones. --dry-run names the function and payload it would invoke and stops.

Exit codes: 0 rebuilt, 1 the invocation failed (the function's error on stderr), 2 bad usage.
`;

export const STEPS = ["invoke rebuild"] as const;

/** The payload the Rebuild function accepts (packages/functions/src/rebuild.ts). */
export const REBUILD_PAYLOAD = { force_rebuild: true } as const;

/** What the function returns (the publisher's report), as far as this script reads it. */
const reportSchema = v.looseObject({
  published: v.array(v.string()),
  invalid: v.array(v.looseObject({ key: v.string() })),
  heldBack: v.array(v.looseObject({ id: v.string(), filename: v.string(), problem: v.string() })),
});
export type RebuildReport = v.InferOutput<typeof reportSchema>;

/** Lambda's error payload for a failed invocation. */
const functionErrorSchema = v.looseObject({
  errorType: v.optional(v.string()),
  errorMessage: v.optional(v.string()),
});

export interface RebuildParams {
  readonly lambda: LambdaClient;
  readonly functionName: string;
  readonly dryRun?: boolean;
  readonly logger: Logger;
}

/** Invokes the function synchronously (RequestResponse: returns when the rebuild is done). */
export async function rebuild(params: RebuildParams): Promise<RebuildReport | undefined> {
  const { logger, functionName } = params;
  const step = stepper(logger, STEPS);
  return step("invoke rebuild", async () => {
    const payload = JSON.stringify(REBUILD_PAYLOAD);
    if (params.dryRun) {
      logger.info(`dry run: would invoke ${functionName} with ${payload}`);
      return undefined;
    }
    logger.info(`invoking ${functionName} (a full rebuild; waiting for it to finish)`);
    const out = await params.lambda.send(
      new InvokeCommand({
        FunctionName: functionName,
        InvocationType: "RequestResponse",
        Payload: payload,
      }),
    );
    const body = out.Payload ? new TextDecoder().decode(out.Payload) : "";
    if (out.FunctionError) {
      let shown = body;
      try {
        const e = v.parse(functionErrorSchema, JSON.parse(body));
        shown = `${e.errorType ?? out.FunctionError}: ${e.errorMessage ?? body}`;
      } catch {
        // Not Lambda's JSON error: show the body as it came.
      }
      throw new Error(`${functionName} failed (${out.FunctionError}): ${shown}`);
    }
    const parsed = v.safeParse(reportSchema, JSON.parse(body || "null"));
    if (!parsed.success) {
      throw new Error(`${functionName} returned an unexpected report: ${body.slice(0, 200)}`);
    }
    const report = parsed.output;
    for (const i of report.invalid) logger.warn({ key: i.key }, "invalid record (not published)");
    for (const h of report.heldBack) {
      logger.error(h, "held back: pool file missing or not the record's");
    }
    logger.info(
      `rebuilt: published ${report.published.join(", ") || "nothing new"}; ${report.invalid.length} invalid record(s); ${report.heldBack.length} record(s) held back for their pool file`,
    );
    return report;
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, { "dry-run": { type: "boolean" } });
  await rebuild({
    lambda: new LambdaClient({}),
    functionName: Resource.Rebuild.name,
    dryRun: args["dry-run"] === true,
    logger: createLogger("rebuild"),
  });
  return 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
