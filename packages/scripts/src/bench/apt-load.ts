#!/usr/bin/env -S npx tsx
// `npm run bench:apt-load`: apt clients in a loop against the local stack while records are
// written and deleted in bursts. The goal is zero failed `apt-get update`s: S3 is atomic per
// object, so the local stage (s3rver with the atomic store) must be too. Loopback only.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { debHashes, writeDeb } from "@app/core/debian";
import { createLogger } from "@app/core/log";
import {
  fileAttributes,
  type PackageRecord,
  packageId,
  poolPath,
  recordControl,
  toRecord,
} from "@app/core/record";
import { PackageStore } from "@app/core/store";
import { type AptRoot, aptRoot, scratch } from "@app/core/testing";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as v from "valibot";
import { PROJECT_ROOT, parseCommandLine, runScript, stepper, UsageError } from "../cli";
import { freePort } from "../local/ports";
import { localS3ClientConfig } from "../local/s3-local";
import { type RunningStack, startStack } from "../local/stack";

const HELP = `Usage: npm run bench:apt-load -- [options]

Starts the local stack (DynamoDB Local, s3rver, the stream poller; free loopback ports, a
scratch data directory), then for the given time runs several apt-get update loops, each in
its own isolated apt root, while a writer puts bursts of records (with their pool files) and
deletes them again. An update fails on any W:, E:, Err: or Ign: line. Prints the counts as
JSON and exits 1 if any update failed.

  --seconds N      how long the clients and the writer run (default 60, 5-600)
  --clients N      apt clients in parallel (default 2, 1-8)
  --burst N        records per burst (default 20, 1-200)
  --store KIND     the local S3 store: atomic (default) or s3rver (its own, for comparison)
  --out DIR        also write the result as JSON there (default .local/bench)
  --help           this text
`;

const int = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.regex(/^\d+$/, "must be a whole number"),
    v.transform(Number),
    v.minValue(min),
    v.maxValue(max),
  );

const argsSchema = v.object({
  seconds: v.optional(int(5, 600), "60"),
  clients: v.optional(int(1, 8), "2"),
  burst: v.optional(int(1, 200), "20"),
  store: v.optional(v.picklist(["atomic", "s3rver"]), "atomic"),
  out: v.optional(v.pipe(v.string(), v.nonEmpty()), join(PROJECT_ROOT, ".local/bench")),
});

export interface AptLoadResult {
  readonly store: "atomic" | "s3rver";
  readonly seconds: number;
  readonly clients: number;
  readonly updates: number;
  readonly failedUpdates: number;
  /** The first lines of the first few failures, to see what apt said. */
  readonly failures: string[];
  readonly writes: number;
  readonly deletes: number;
  readonly bursts: number;
}

/** A record of a small real package and its .deb, so the record is publishable as is. */
function loadPackage(slot: number, generation: number): { record: PackageRecord; deb: Uint8Array } {
  const name = `load-${slot}`;
  const version = `1.${generation}`;
  const fields = {
    package_id: packageId(name, version, "amd64"),
    package_name: name,
    version,
    architecture: "amd64" as const,
    source: "manual" as const,
    maintainer: "Kiro Team <support@kiro.dev>",
    description: `${name} load-test package`,
    processed_timestamp: new Date().toISOString(),
  };
  const deb = writeDeb({
    control: recordControl(fields),
    files: [{ path: `/usr/share/doc/${name}/README`, content: `${name} ${version}\n` }],
    compression: "gzip",
  });
  const filename = poolPath("main", name, version, "amd64");
  return { record: toRecord({ ...fields, ...fileAttributes(filename, debHashes(deb)) }), deb };
}

async function aptLoop(apt: AptRoot, until: number, result: { updates: number; failed: string[] }) {
  while (Date.now() < until) {
    result.updates++;
    try {
      await apt.update();
    } catch (error) {
      result.failed.push((error as Error).message.split("\n").slice(0, 6).join("\n"));
    }
  }
}

async function writer(
  running: RunningStack,
  burst: number,
  until: number,
  counts: { writes: number; deletes: number; bursts: number },
): Promise<void> {
  const { stack } = running;
  const logger = createLogger("apt-load", { level: "warn" });
  const store = new PackageStore({
    client: new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: stack.region,
      credentials: stack.credentials,
    }),
    tableName: stack.tables.packages,
    logger,
  });
  const s3 = new S3Client(localS3ClientConfig(stack.endpoints.s3));
  try {
    for (let generation = 0; Date.now() < until; generation++) {
      // A burst: every record of it at once, as a batch upload would write them.
      const written = await Promise.all(
        Array.from({ length: burst }, async (_, slot) => {
          const { record, deb } = loadPackage(slot, generation);
          await s3.send(
            new PutObjectCommand({ Bucket: stack.bucket, Key: record.filename, Body: deb }),
          );
          await store.put(record);
          counts.writes++;
          return record.package_id;
        }),
      );
      counts.bursts++;
      // Let the stream publish the burst while the clients read, then delete it in a burst.
      await new Promise((r) => setTimeout(r, 300));
      await Promise.all(
        written.map(async (id) => {
          await store.delete(id);
          counts.deletes++;
        }),
      );
      counts.bursts++;
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    s3.destroy();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const values = parseCommandLine(argv, {
    seconds: { type: "string" },
    clients: { type: "string" },
    burst: { type: "string" },
    store: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean" },
  });
  const { help: _help, ...rest } = values;
  const parsed = v.safeParse(
    argsSchema,
    Object.fromEntries(Object.entries(rest).filter(([, x]) => x !== undefined)),
  );
  if (!parsed.success) {
    throw new UsageError(parsed.issues.map((i) => `--${v.getDotPath(i)}: ${i.message}`).join("\n"));
  }
  const args = parsed.output;
  const logger = createLogger("apt-load");
  const step = stepper(logger, [
    "start the local stack",
    "run the clients and the writer",
    "report",
  ]);
  const data = scratch("apt-load-");
  const roots: AptRoot[] = [];
  let running: RunningStack | undefined;
  try {
    running = await step("start the local stack", async () =>
      startStack({
        root: PROJECT_ROOT,
        dataDir: data.dir,
        port: await freePort(),
        dynamodbPort: await freePort(),
        lambdaPort: await freePort(),
        logger: createLogger("local", { level: "warn" }),
        s3Store: args.store,
      }),
    );
    const stack = running.stack;
    await running.idle();
    const outcome = await step("run the clients and the writer", async () => {
      const until = Date.now() + args.seconds * 1000;
      const clients = Array.from({ length: args.clients }, () => ({
        updates: 0,
        failed: [] as string[],
      }));
      for (let i = 0; i < args.clients; i++) {
        roots.push(
          aptRoot({
            url: stack.repoUrl,
            suite: running?.config.stage.suite ?? "stable",
            components: running?.config.stage.components ?? ["main"],
            keyring: stack.publicKey.gpg,
          }),
        );
      }
      const counts = { writes: 0, deletes: 0, bursts: 0 };
      const progress = setInterval(() => {
        const updates = clients.reduce((s, c) => s + c.updates, 0);
        const failed = clients.reduce((s, c) => s + c.failed.length, 0);
        logger.info({ updates, failed, ...counts }, "progress");
      }, 10_000);
      try {
        await Promise.all([
          writer(running as RunningStack, args.burst, until, counts),
          ...roots.map((apt, i) => aptLoop(apt, until, clients[i] as (typeof clients)[number])),
        ]);
      } finally {
        clearInterval(progress);
      }
      return { clients, counts };
    });
    return await step("report", async () => {
      const failures = outcome.clients.flatMap((c) => c.failed);
      const result: AptLoadResult = {
        store: args.store,
        seconds: args.seconds,
        clients: args.clients,
        updates: outcome.clients.reduce((s, c) => s + c.updates, 0),
        failedUpdates: failures.length,
        failures: failures.slice(0, 5),
        ...outcome.counts,
      };
      await mkdir(args.out, { recursive: true });
      const file = join(
        args.out,
        `apt-load-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
      );
      await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\nwritten to ${file}\n`);
      return result.failedUpdates === 0 ? 0 : 1;
    });
  } finally {
    for (const root of roots) root.cleanup();
    await running?.stop();
    data.cleanup();
  }
}

runScript(HELP, main);
