#!/usr/bin/env -S npx tsx
// Retention: deletes the records beyond the N newest versions (dpkg's order) of each package.
// Deleting a record unpublishes it on the next publication (the stream carries the removal);
// the publisher removes pool files once no record refers to them. Invalid items are left alone.
import { compareVersions } from "@app/core/debian";
import { createLogger, type Logger } from "@app/core/log";
import type { PackageRecord } from "@app/core/record";
import { PackageStore } from "@app/core/store";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Resource } from "sst";
import { isMain, parseCommandLine, runScript, stepper, UsageError } from "./cli";

const HELP = `Usage: sst shell --stage <stage> scripts/prune.ts --keep N [--package P] [--dry-run]
       npm run shell -- scripts/prune.ts --keep N [--package P] [--dry-run]   (local stage)

Deletes from the package table every record beyond the N newest versions (dpkg's order, every
architecture of a kept version is kept) of each package, or of package P only. The stream then
unpublishes them; the publisher deletes their pool files after the by-hash grace period, once
no record refers to them. Invalid items are left alone (status lists them).

Options:
  --keep N       versions to keep per package (at least 1)
  --package P    only this package
  --dry-run      list what would be deleted; delete nothing
  --help         this text

Exit codes: 0 done, 1 a step failed (named on stderr), 2 bad usage.
`;

export const STEPS = ["read records", "delete records"] as const;

/**
 * The records to delete: for each package, those whose version is not among its `keep` newest
 * distinct versions (dpkg's order). Sorted by package, then version.
 */
export function pruneSelection(
  records: readonly PackageRecord[],
  keep: number,
  only?: string,
): PackageRecord[] {
  const byPackage = new Map<string, PackageRecord[]>();
  for (const r of records) {
    if (only !== undefined && r.package_name !== only) continue;
    byPackage.set(r.package_name, [...(byPackage.get(r.package_name) ?? []), r]);
  }
  const doomed: PackageRecord[] = [];
  for (const name of [...byPackage.keys()].sort()) {
    const list = byPackage.get(name) ?? [];
    // Distinct versions newest first; versions dpkg deems equal (1.0, 1.00) count once.
    const versions = [...list].sort((a, b) => compareVersions(b.version, a.version));
    const kept: string[] = [];
    for (const r of versions) {
      if (kept.length < keep && !kept.some((k) => compareVersions(k, r.version) === 0))
        kept.push(r.version);
    }
    doomed.push(
      ...list
        .filter((r) => !kept.some((k) => compareVersions(k, r.version) === 0))
        .sort(
          (a, b) => compareVersions(a.version, b.version) || (a.package_id < b.package_id ? -1 : 1),
        ),
    );
  }
  return doomed;
}

export interface PruneParams {
  readonly dynamo: DynamoDBClient;
  readonly tableName: string;
  readonly keep: number;
  readonly packageName?: string;
  readonly dryRun?: boolean;
  readonly logger: Logger;
}

export async function prune(params: PruneParams): Promise<{ deleted: string[] }> {
  const { logger } = params;
  const step = stepper(logger, STEPS);
  const store = new PackageStore({ client: params.dynamo, tableName: params.tableName, logger });
  const doomed = await step("read records", async () => {
    const { records } = await store.all();
    const selected = pruneSelection(records, params.keep, params.packageName);
    logger.info(`${records.length} record(s); ${selected.length} beyond the ${params.keep} newest`);
    return selected;
  });
  return step("delete records", async () => {
    const deleted: string[] = [];
    for (const [i, r] of doomed.entries()) {
      if (params.dryRun) {
        logger.info(`dry run: would delete ${r.package_id}`);
      } else {
        await store.delete(r.package_id);
        logger.info(`deleted ${r.package_id} (${i + 1}/${doomed.length})`);
      }
      deleted.push(r.package_id);
    }
    return { deleted };
  });
}

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCommandLine(argv, {
    keep: { type: "string" },
    package: { type: "string" },
    "dry-run": { type: "boolean" },
  });
  const keep = Number(args.keep);
  if (args.keep === undefined || !/^\d+$/.test(args.keep) || keep < 1)
    throw new UsageError("--keep N is required, N a whole number >= 1");
  if (args.package === "") throw new UsageError("--package needs a name");
  await prune({
    dynamo: new DynamoDBClient({ maxAttempts: 1 }),
    tableName: Resource.Packages.name,
    keep,
    ...(args.package === undefined ? {} : { packageName: args.package }),
    dryRun: args["dry-run"] === true,
    logger: createLogger("prune"),
  });
  return 0;
}

if (isMain(import.meta.url)) runScript(HELP, main);
