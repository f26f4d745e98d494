// The publisher: the stream consumer that turns table changes into signed indices, the rebuild
// function, and the daily schedule that runs it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { publisherStatements } from "../packages/core/src/permissions/publisher";
import type { StageSetup } from "./config";
import type { Storage } from "./storage";

/** Stream batches: enough to coalesce a release's records, small enough to bisect quickly. */
const BATCH_SIZE = 100;
/** Waits this long to gather a burst of writes into one publication. */
const BATCH_WINDOW_SECONDS = 5;
/** Then the batch goes to the dead-letter queue; the daily rebuild repairs what it missed. */
const MAX_RETRIES = 10;
/** Daily at 03:17 UTC (off the full hour, when scheduled jobs crowd). */
const REBUILD_SCHEDULE = "cron(17 3 * * ? *)";

/**
 * The version of @napi-rs/lzma the tests ran against. It loads a prebuilt native binary, which
 * esbuild cannot bundle: SST installs it into the function for Lambda's OS and CPU instead.
 */
function lzmaVersion(root: string): string {
  const manifest = join(root, "node_modules", "@napi-rs", "lzma", "package.json");
  const { version } = JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown };
  if (typeof version !== "string") throw new Error(`${manifest}: no version`);
  return version;
}

export function publisher(stage: StageSetup, storage: Storage, root: string) {
  const { packages, state, bucket } = storage;

  // The armored private key(s): `sst secret set SigningKey --stage <stage> < key.asc`.
  const signingKey = new sst.Secret("SigningKey");

  // Stream batches that exhausted their retries (the message names the shard and sequence
  // numbers, not the records), failed rebuilds and schedules that could not invoke.
  const deadLetters = new sst.aws.Queue("DeadLetters", {
    transform: {
      queue: (args) => {
        args.messageRetentionSeconds = 14 * 24 * 3600; // SQS's maximum: time to look
      },
    },
  });

  const sendToDeadLetters = { actions: ["sqs:SendMessage"], resources: [deadLetters.arn] };

  // Links carry only the names the handlers read (Resource.Packages.name, …): SST's default
  // link grants `dynamodb:*` and `s3:*`, with which a buggy or compromised publisher could delete
  // package records and pool files. The handlers get exactly what they do instead
  // (packages/core/src/permissions, tested there).
  sst.Linkable.wrap(sst.aws.Dynamo, (table) => ({ properties: { name: table.name } }));
  sst.Linkable.wrap(sst.aws.Bucket, (b) => ({ properties: { name: b.name } }));
  const { root: rootFiles } = stage.settings;
  const statements = publisherStatements(
    {
      packagesTable: packages.arn,
      stateTable: state.arn,
      bucket: bucket.arn,
      sub: (arn, suffix) => $interpolate`${arn}${suffix}`,
    },
    {
      rootFiles: [
        "index.html",
        `${rootFiles.keyring}.gpg`,
        `${rootFiles.keyring}.asc`,
        rootFiles.repoCopyKey,
      ],
      buildPackages: [...stage.config.packages.values()]
        .filter((p) => p.source.type === "build")
        .map((p) => p.name),
      components: stage.settings.components,
    },
  );
  const permissions = statements.map((st) => ({
    effect: st.effect,
    actions: [...st.actions],
    resources: [...st.resources],
    ...(st.conditions === undefined
      ? {}
      : { conditions: st.conditions.map((c) => ({ ...c, values: [...c.values] })) }),
  }));

  const handlerDefaults = {
    runtime: "nodejs22.x",
    link: [packages, state, bucket, signingKey],
    environment: { PUBLISHER_SETTINGS: stage.settingsJson },
    nodejs: { install: { "@napi-rs/lzma": lzmaVersion(root) } },
    logging: { retention: "1 month" },
    permissions,
  } satisfies Partial<sst.aws.FunctionArgs>;

  const subscriber = packages.subscribe(
    "Publisher",
    {
      ...handlerDefaults,
      handler: "packages/functions/src/publish.handler",
      description: "Publishes the APT repository from the package table's stream",
      timeout: "5 minutes",
      memory: "1024 MB", // xz compression of the indices
      // The event source mapping sends a failed batch's description with the function's role.
      permissions: [...handlerDefaults.permissions, sendToDeadLetters],
    },
    {
      transform: {
        eventSourceMapping: (args) => {
          // SST's default is LATEST, which skips what was written before the mapping existed.
          args.startingPosition = "TRIM_HORIZON";
          args.batchSize = BATCH_SIZE;
          args.maximumBatchingWindowInSeconds = BATCH_WINDOW_SECONDS;
          // A failing record is isolated by halving the batch; the handler reports the records
          // that failed, so the rest are neither re-published nor dropped.
          args.bisectBatchOnFunctionError = true;
          args.functionResponseTypes = ["ReportBatchItemFailures"];
          // AWS's default retries until the record expires (24 h), blocking the shard.
          args.maximumRetryAttempts = MAX_RETRIES;
          args.destinationConfig = { onFailure: { destinationArn: deadLetters.arn } };
          // One batch per shard at a time keeps each shard's changes in order.
          args.parallelizationFactor = 1;
        },
      },
    },
  );

  const rebuild = new sst.aws.Function("Rebuild", {
    ...handlerDefaults,
    handler: "packages/functions/src/rebuild.handler",
    description: 'Rebuilds every index from the package table ({ "force_rebuild": true })',
    timeout: "15 minutes",
    memory: "2048 MB",
    // Scheduled runs are asynchronous: Lambda retries twice, then the event goes to the DLQ.
    retries: 2,
    permissions: [...handlerDefaults.permissions, sendToDeadLetters],
    transform: {
      eventInvokeConfig: (args) => {
        args.destinationConfig = { onFailure: { destination: deadLetters.arn } };
      },
    },
  });

  // EventBridge Scheduler invokes the function asynchronously with this event. The rebuild
  // repairs anything the stream missed; it is also the run that has to re-sign Release before
  // a configured Valid-Until lapses (which config.ts keeps at two days or more).
  const schedule = new sst.aws.CronV2("DailyRebuild", {
    function: rebuild,
    event: { force_rebuild: true },
    schedule: REBUILD_SCHEDULE,
    retries: 2,
    dlq: deadLetters.arn,
  });

  return { signingKey, deadLetters, subscriber, rebuild, schedule };
}
