// The upstream poller: one schedule per `source.type: upstream` package (its `schedule`), all
// invoking one function linked to exactly the package table and the bucket. Failed runs go to
// the dead-letter queue after the scheduler's and Lambda's retries.
//
// A deep import, as in config.ts: the sources index would pull the AWS clients into the deploy.
import { parseSourceSettings, sourceSettings } from "../packages/core/src/sources/settings";
import type { StageSetup } from "./config";
import type { Storage } from "./storage";

export function poller(stage: StageSetup, storage: Storage, deadLetters: sst.aws.Queue) {
  const { packages, bucket } = storage;
  const settingsJson = JSON.stringify(sourceSettings(stage.config));
  // The handler parses this at cold start; a mismatch must fail the deploy, not every run.
  parseSourceSettings(settingsJson, "POLLER_SETTINGS");
  const upstream = [...stage.config.packages.values()].filter((p) => p.source.type === "upstream");

  const fn = new sst.aws.Function("Poller", {
    runtime: "nodejs22.x",
    handler: "packages/functions/src/poll.handler",
    description: "Reads the upstream release feeds and ingests new versions",
    link: [packages, bucket],
    environment: { POLLER_SETTINGS: settingsJson },
    // Streams each .deb (hundreds of MB) through memory in 5 MiB parts, never to /tmp.
    memory: "1024 MB",
    timeout: "15 minutes",
    logging: { retention: "1 month" },
    retries: 2,
    // What it does, spelled out (so it holds whatever the links grant): read and write-once
    // records; stage, copy and check .debs; list and remove its own staging objects.
    permissions: [
      { actions: ["sqs:SendMessage"], resources: [deadLetters.arn] },
      {
        actions: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
        resources: [packages.arn, $interpolate`${packages.arn}/index/*`],
      },
      {
        actions: [
          "s3:PutObject",
          "s3:GetObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ],
        resources: [$interpolate`${bucket.arn}/staging/*`, $interpolate`${bucket.arn}/pool/*`],
      },
      { actions: ["s3:DeleteObject"], resources: [$interpolate`${bucket.arn}/staging/*`] },
      {
        actions: ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
        resources: [bucket.arn],
      },
      {
        effect: "deny",
        actions: [
          "dynamodb:DeleteTable",
          "dynamodb:UpdateTable",
          "dynamodb:DeleteItem",
          "dynamodb:UpdateTimeToLive",
          "dynamodb:PutResourcePolicy",
          "dynamodb:DeleteResourcePolicy",
        ],
        resources: [packages.arn],
      },
      {
        effect: "deny",
        actions: [
          "s3:DeleteBucket",
          "s3:DeleteBucketPolicy",
          "s3:PutBucketPolicy",
          "s3:PutBucketAcl",
          "s3:PutBucketPublicAccessBlock",
          "s3:PutBucketCORS",
          "s3:PutLifecycleConfiguration",
          "s3:PutObjectAcl",
          "s3:PutObjectVersionAcl",
        ],
        resources: [bucket.arn, $interpolate`${bucket.arn}/*`],
      },
      // It deletes its own staging objects, never what the repository serves.
      {
        effect: "deny",
        actions: ["s3:DeleteObject", "s3:DeleteObjectVersion"],
        resources: [
          $interpolate`${bucket.arn}/pool/*`,
          $interpolate`${bucket.arn}/dists/*`,
          $interpolate`${bucket.arn}/internal/*`,
        ],
      },
    ],
    transform: {
      eventInvokeConfig: (args) => {
        args.destinationConfig = { onFailure: { destination: deadLetters.arn } };
      },
    },
  });

  const schedules = upstream.map((pkg) => {
    if (pkg.source.type !== "upstream") throw new Error("unreachable");
    // A stable name per package: `kiro` → PollKiro.
    const name = `Poll${pkg.name
      .split(/[^A-Za-z0-9]+/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join("")}`;
    return new sst.aws.CronV2(name, {
      function: fn,
      event: { package: pkg.name },
      schedule: pkg.source.schedule as `rate(${string})` | `cron(${string})`,
      retries: 2,
      dlq: deadLetters.arn,
    });
  });

  return { fn, schedules };
}
