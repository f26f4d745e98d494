// End to end: put-item -> DynamoDB stream -> the local stream poller -> handleStreamBatch ->
// a new signed InRelease in the bucket, timed from the put to the moment a reader of the bucket
// sees the new binary-amd64 Packages hash in InRelease.
import { join } from "node:path";
import { handleStreamBatch, type Publisher, type PublisherSettings } from "@app/core/publish";
import type { PackageRecord } from "@app/core/record";
import type { PackageStore } from "@app/core/store";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { startStreamPoller } from "../local/stream-poller";
import { extraRecord } from "./fixtures";
import { median, onCleanup, progress, round } from "./proc";
import { enableStream } from "./table";

/** The local stage's poller settings (local/stack.ts). */
const POLLER = { batchSize: 100, batchWindowMs: 50, pollIntervalMs: 100 } as const;

export interface EndToEnd {
  readonly samplesMs: number[];
  readonly medianMs: number;
  /** Per sample: put-item to the handler's start (stream + poller), and the handler's run. */
  readonly parts: { deliveryMs: number; handlerMs: number; batches: number }[];
  readonly poller: { batchSize: number; batchWindowMs: number; pollIntervalMs: number };
}

/**
 * The lines of the InRelease that name binary-amd64's uncompressed Packages (hash, size);
 * undefined when the read failed (s3rver under load may drop a connection: poll again).
 */
async function amd64Lines(
  s3: S3Client,
  bucket: string,
  suite: string,
): Promise<string | undefined> {
  try {
    return await readAmd64Lines(s3, bucket, suite);
  } catch {
    return undefined;
  }
}

async function readAmd64Lines(s3: S3Client, bucket: string, suite: string): Promise<string> {
  const out = await s3.send(
    new GetObjectCommand({ Bucket: bucket, Key: `dists/${suite}/InRelease` }),
  );
  const text = (await out.Body?.transformToString()) ?? "";
  return text
    .split("\n")
    .filter((l) => l.endsWith(" main/binary-amd64/Packages"))
    .join("\n");
}

/** Three samples, each after `settle()`; `seen` is told when each new InRelease appeared. */
export async function measureEndToEnd(o: {
  readonly client: DynamoDBClient;
  readonly table: string;
  readonly publisher: Publisher;
  readonly settings: PublisherSettings;
  readonly store: PackageStore;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly work: string;
  readonly n: number;
  readonly settle: () => Promise<void>;
  /** Uploads a record's pool object (before the record is put, as writers do). */
  readonly pool: (record: PackageRecord) => Promise<void>;
  readonly seen: (at: number) => void;
  readonly logger: Logger;
}): Promise<EndToEnd> {
  const { client, table, publisher, settings, store, s3, bucket, work, n, settle, logger } = o;
  const suite = settings.defaultSuite;
  await enableStream(client, table);
  const invocations: { start: number; end: number }[] = [];
  const poller = startStreamPoller({
    client,
    tableName: table,
    handler: async (event) => {
      const invocation = { start: performance.now(), end: Number.NaN };
      invocations.push(invocation);
      try {
        return await handleStreamBatch(publisher, event, settings, logger);
      } finally {
        invocation.end = performance.now();
      }
    },
    checkpointFile: join(work, "checkpoint.json"),
    deadLetterFile: join(work, "dead-letters.jsonl"),
    maxRetries: 3,
    ...POLLER,
    logger: {
      info: () => {},
      warn: (fields, m) => progress(`  stream poller: ${m} ${JSON.stringify(fields)}`),
      error: (fields, m) => progress(`  stream poller: ${m} ${JSON.stringify(fields)}`),
    },
  });
  const stopPoller = onCleanup(() => poller.stop());
  try {
    await poller.idle();
    const e2e: number[] = [];
    const parts: { deliveryMs: number; handlerMs: number; batches: number }[] = [];
    for (let k = 20; k < 23; k++) {
      await settle();
      const before = await readAmd64Lines(s3, bucket, suite);
      const record = extraRecord(n, k);
      await o.pool(record);
      const start = performance.now();
      await store.put(record);
      for (;;) {
        const now = await amd64Lines(s3, bucket, suite);
        if (now !== undefined && now !== before) break;
        if (performance.now() - start > 120_000) {
          throw new Error(`end to end: no new InRelease 120 s after putting ${record.package_id}`);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      const seen = performance.now();
      o.seen(seen);
      e2e.push(round(seen - start));
      await poller.idle();
      // The handler goes on after InRelease (the sweep): its end is read once the poller idles.
      const mine = invocations.filter((i) => i.start >= start && i.start <= seen);
      const first = mine[0];
      const last = mine.at(-1);
      parts.push({
        deliveryMs: first ? round(first.start - start) : Number.NaN,
        handlerMs: first && last ? round(last.end - first.start) : Number.NaN,
        batches: mine.length,
      });
    }
    return { samplesMs: e2e, medianMs: median(e2e), parts, poller: { ...POLLER } };
  } finally {
    await stopPoller();
  }
}
