/**
 * A DynamoDB stream poller with the semantics of Lambda's event source mapping, for the local
 * stage (DynamoDB Local has streams but no Lambda to consume them):
 *
 *     const poller = startStreamPoller({ client, tableName, handler, checkpointFile,
 *       deadLetterFile, batchSize: 100, batchWindowMs: 500, maxRetries: 3, pollIntervalMs: 250 });
 *     await poller.idle();   // caught up with everything written before this call
 *     await poller.stop();   // lets the in-flight batch finish and checkpoint
 *
 * Delivery (as the mapping configured in stacks/ with TRIM_HORIZON, bisect, partial batch
 * responses, a retry limit and an on-failure destination):
 * - Shards come from DescribeStream; a child shard is read only once its parent is finished
 *   (closed and processed) or gone from the stream. Records of a shard arrive in order.
 *   (DynamoDB Local, like DynamoDB, closes each shard after 4 hours and continues in a child.)
 * - Each shard resumes AFTER_SEQUENCE_NUMBER its checkpoint, or at TRIM_HORIZON without one.
 * - A batch is up to `batchSize` records, gathered for at most `batchWindowMs` once the first
 *   record is there (0: invoke with whatever one GetRecords returns).
 * - The handler gets `{ Records }` in Lambda's shape (eventSourceARN = the stream ARN).
 *   Returning nothing or an empty `batchItemFailures` succeeds. Reporting failures checkpoints
 *   just before the earliest failed record and retries from it (with the records after it).
 *   Throwing, or reporting an identifier that is empty or not in the batch, fails the batch:
 *   with `bisectOnError` (default) the batch is halved and the first half retried, down to
 *   single records; halving does not use up retries.
 * - After `maxRetries` retries of the same head record (i.e. maxRetries + 1 failed attempts)
 *   the failed records — the single record, or, without bisect, the whole failing batch — go to
 *   the dead-letter file (one JSON line per record with the record itself, the reason and the
 *   last error), are checkpointed, and processing moves on. Deliberate difference from Lambda:
 *   where Lambda discards the rest of a batch that exhausted its retries after a partial
 *   failure, this dead-letters only the record that kept failing and retries the rest afresh.
 * - The checkpoint (see checkpoint.ts) is written atomically after every batch, partial
 *   success or dead-lettering, so a restart neither loses nor repeats a processed record.
 *   Dead letters are written before the checkpoint moves past them.
 * - Shards are processed one batch at a time, shard after shard: stricter ordering than Lambda
 *   (which runs shards concurrently), and a failing record holds up the other shards too.
 * - Errors of the stream itself (DynamoDB Local restarting, an expired iterator) are logged and
 *   retried with backoff from the last checkpoint; a checkpoint past the stream's trim horizon
 *   (DynamoDB Local keeps 24 hours) restarts at TRIM_HORIZON and says records were lost (run a
 *   full rebuild). A recreated table (a new stream ARN) starts its new stream from the top.
 */
import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import * as v from "valibot";
import { type Checkpoint, readCheckpointSync, writeCheckpoint } from "./checkpoint";
import {
  type DynamoDbStreams,
  dynamoDbStreams,
  type Shard,
  type StreamRecord,
} from "./dynamodb-streams";

/** The subset of pino's logger the poller uses (a pino logger fits). */
export interface PollerLogger {
  debug?(object: object, message: string): void;
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

// biome-ignore lint/suspicious/noConfusingVoidType: Lambda's own handler type allows void.
export type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | void>;

const SettingsSchema = v.object({
  tableName: v.pipe(v.string(), v.nonEmpty()),
  checkpointFile: v.pipe(v.string(), v.nonEmpty()),
  deadLetterFile: v.pipe(v.string(), v.nonEmpty()),
  // Lambda's limits for DynamoDB streams: 1..10000 records, window up to 300 s.
  batchSize: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000)),
  batchWindowMs: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(300_000)),
  maxRetries: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(10_000)),
  pollIntervalMs: v.pipe(v.number(), v.integer(), v.minValue(1)),
  bisectOnError: v.optional(v.boolean(), true),
  /** Pause before retrying a failed batch; defaults to pollIntervalMs. */
  retryDelayMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});

export interface StreamPollerOptions extends v.InferInput<typeof SettingsSchema> {
  readonly client: DynamoDBClient;
  readonly handler: StreamHandler;
  readonly logger?: PollerLogger;
  /**
   * The Streams API to read from; `dynamoDbStreams(client)` by default. Tests substitute one to
   * play out what DynamoDB Local does only every 4 hours (close a shard and open its child).
   */
  readonly streams?: DynamoDbStreams;
}

export interface StreamPoller {
  /** Stops polling; resolves after the in-flight batch finished and was checkpointed. */
  stop(): Promise<void>;
  /**
   * Resolves once the poller has caught up with everything written before the call (a whole
   * pass over the stream that began after the call found nothing new). Rejects if the poller
   * is stopped first.
   */
  idle(): Promise<void>;
}

/** Lambda's DynamoDB batch response, validated (the handler is outside our control). */
const BatchResponseSchema = v.nullish(
  v.looseObject({
    batchItemFailures: v.nullish(v.array(v.looseObject({ itemIdentifier: v.unknown() }))),
  }),
);

type Outcome =
  | { readonly kind: "ok" }
  | { readonly kind: "partial"; readonly index: number }
  | { readonly kind: "error"; readonly message: string };

const consoleLogger: PollerLogger = {
  info: () => {},
  warn: (object, message) => console.warn(`stream poller: ${message}`, object),
  error: (object, message) => console.error(`stream poller: ${message}`, object),
};

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** How long a listing of the stream's shards is trusted. */
const SHARD_REFRESH_MS = 10_000;

/** Parents before children; shards whose parent is not listed count as roots. */
export function parentsFirst(shards: readonly Shard[]): Shard[] {
  const ids = new Set(shards.map((s) => s.ShardId));
  const placed = new Set<string>();
  const ordered: Shard[] = [];
  let remaining = [...shards];
  while (remaining.length > 0) {
    const ready = remaining.filter(
      (s) =>
        s.ParentShardId === undefined || !ids.has(s.ParentShardId) || placed.has(s.ParentShardId),
    );
    // A cycle cannot happen in a real stream; never loop forever on a broken answer.
    const next = ready.length > 0 ? ready : remaining;
    for (const shard of next) {
      ordered.push(shard);
      placed.add(shard.ShardId);
    }
    remaining = remaining.filter((s) => !placed.has(s.ShardId));
  }
  return ordered;
}

class Stopped extends Error {
  constructor() {
    super("stream poller is stopped");
  }
}

export function startStreamPoller(options: StreamPollerOptions): StreamPoller {
  const parsed = v.safeParse(SettingsSchema, options);
  if (!parsed.success) {
    throw new Error(`startStreamPoller: invalid options: ${v.summarize(parsed.issues)}`);
  }
  const settings = parsed.output;
  const retryDelayMs = settings.retryDelayMs ?? settings.pollIntervalMs;
  const { client, handler } = options;
  const log = options.logger ?? consoleLogger;
  const streams: DynamoDbStreams = options.streams ?? dynamoDbStreams(client);
  const tableName = settings.tableName;

  let checkpoint: Checkpoint | undefined = readCheckpointSync(settings.checkpointFile);
  /** The next iterator of each shard being read, and the last record fetched from it. */
  const iterators = new Map<string, string>();
  const lastFetched = new Map<string, string>();

  const abort = new AbortController();
  let stopped = false;
  let pass = 0;
  const idleWaiters: { minPass: number; resolve: () => void; reject: (e: Error) => void }[] = [];

  async function pause(ms: number): Promise<void> {
    if (stopped) throw new Stopped();
    try {
      await sleep(ms, undefined, { signal: abort.signal });
    } catch {
      throw new Stopped();
    }
  }

  async function saveCheckpoint(): Promise<void> {
    if (checkpoint !== undefined) await writeCheckpoint(settings.checkpointFile, checkpoint);
  }

  /** Moves a shard's checkpoint past `records` and persists it. */
  async function commit(streamArn: string, shardId: string, records: readonly StreamRecord[]) {
    const last = records.at(-1);
    if (last === undefined) return;
    checkpoint ??= { version: 1, streamArn, shards: {} };
    checkpoint.shards[shardId] = {
      ...checkpoint.shards[shardId],
      sequenceNumber: last.dynamodb.SequenceNumber,
    };
    await saveCheckpoint();
  }

  async function deadLetter(
    streamArn: string,
    shardId: string,
    records: readonly StreamRecord[],
    attempts: number,
    lastError: string,
  ): Promise<void> {
    await mkdir(dirname(settings.deadLetterFile), { recursive: true });
    const at = new Date().toISOString();
    const lines = records.map(
      (record) =>
        `${JSON.stringify({
          deadLetteredAt: at,
          tableName,
          streamArn,
          shardId,
          sequenceNumber: record.dynamodb.SequenceNumber,
          reason: "retries exhausted",
          attempts,
          lastError,
          record: { ...record, eventSourceARN: streamArn },
        })}\n`,
    );
    await appendFile(settings.deadLetterFile, lines.join(""), "utf8");
    log.error(
      {
        shardId,
        sequenceNumbers: records.map((r) => r.dynamodb.SequenceNumber),
        attempts,
        lastError,
        deadLetterFile: settings.deadLetterFile,
      },
      `${records.length} stream record(s) failed ${attempts} times: written to the dead-letter file`,
    );
  }

  async function invoke(streamArn: string, records: readonly StreamRecord[]): Promise<Outcome> {
    const event: DynamoDBStreamEvent = {
      Records: records.map((record): DynamoDBRecord => ({ ...record, eventSourceARN: streamArn })),
    };
    let response: unknown;
    try {
      response = await handler(event);
    } catch (error) {
      return { kind: "error", message: errorMessage(error) };
    }
    const parsed = v.safeParse(BatchResponseSchema, response);
    if (!parsed.success) {
      return { kind: "error", message: `invalid batch response: ${v.summarize(parsed.issues)}` };
    }
    const failures = parsed.output?.batchItemFailures ?? [];
    if (failures.length === 0) return { kind: "ok" };
    let earliest = records.length;
    for (const failure of failures) {
      const index = records.findIndex((r) => r.dynamodb.SequenceNumber === failure.itemIdentifier);
      if (index < 0) {
        // Lambda: an empty or unknown itemIdentifier fails the whole batch.
        return {
          kind: "error",
          message: `batchItemFailures names ${JSON.stringify(failure.itemIdentifier)}, not a record of the batch`,
        };
      }
      earliest = Math.min(earliest, index);
    }
    return { kind: "partial", index: earliest };
  }

  /**
   * Runs the handler over `records` until each one succeeded or was dead-lettered; false if
   * stopped first (the rest stays unprocessed and is read again after a restart).
   */
  async function processBatch(
    streamArn: string,
    shardId: string,
    records: readonly StreamRecord[],
  ): Promise<boolean> {
    let pending = [...records];
    let window = pending.length;
    let headFailures = 0;
    while (pending.length > 0) {
      if (stopped) return false;
      const batch = pending.slice(0, window);
      const outcome = await invoke(streamArn, batch);
      log.debug?.(
        { shardId, records: batch.length, outcome: outcome.kind },
        "delivered a stream batch",
      );
      if (outcome.kind === "ok") {
        await commit(streamArn, shardId, batch);
        pending = pending.slice(batch.length);
        window = pending.length;
        headFailures = 0;
        continue;
      }
      let lastError: string;
      let wholeBatchFails: boolean;
      if (outcome.kind === "partial") {
        if (outcome.index > 0) {
          await commit(streamArn, shardId, batch.slice(0, outcome.index));
          pending = pending.slice(outcome.index);
          window -= outcome.index;
          headFailures = 1;
        } else {
          headFailures += 1;
        }
        lastError = "reported in batchItemFailures";
        wholeBatchFails = false;
      } else {
        if (settings.bisectOnError && window > 1) {
          window = Math.ceil(window / 2);
          log.warn(
            { shardId, error: outcome.message, retryingWith: window },
            "stream handler failed: bisecting the batch",
          );
          await pause(retryDelayMs).catch(() => undefined);
          continue;
        }
        headFailures += 1;
        lastError = outcome.message;
        wholeBatchFails = true;
      }
      if (headFailures > settings.maxRetries) {
        const dead = wholeBatchFails ? pending.slice(0, window) : pending.slice(0, 1);
        await deadLetter(streamArn, shardId, dead, headFailures, lastError);
        await commit(streamArn, shardId, dead);
        pending = pending.slice(dead.length);
        window = pending.length;
        headFailures = 0;
        continue;
      }
      log.warn(
        {
          shardId,
          sequenceNumber: pending[0]?.dynamodb.SequenceNumber,
          attempt: headFailures,
          maxRetries: settings.maxRetries,
          error: lastError,
        },
        "stream handler failed: retrying",
      );
      await pause(retryDelayMs).catch(() => undefined);
    }
    return true;
  }

  async function iteratorFor(streamArn: string, shardId: string): Promise<string> {
    const cached = iterators.get(shardId);
    if (cached !== undefined) return cached;
    const after = lastFetched.get(shardId) ?? checkpoint?.shards[shardId]?.sequenceNumber;
    if (after === undefined) {
      return streams.getShardIterator({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: "TRIM_HORIZON",
      });
    }
    try {
      return await streams.getShardIterator({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
        SequenceNumber: after,
      });
    } catch (error) {
      if (errorName(error) !== "TrimmedDataAccessException") throw error;
      log.error(
        { shardId, checkpoint: after },
        "the checkpoint is older than the stream keeps: records were lost; resuming at TRIM_HORIZON (run a full rebuild)",
      );
      return streams.getShardIterator({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: "TRIM_HORIZON",
      });
    }
  }

  /** Gathers one batch from a shard: up to batchSize records within the batching window. */
  async function collect(
    streamArn: string,
    shardId: string,
  ): Promise<{ records: StreamRecord[]; closed: boolean }> {
    const records: StreamRecord[] = [];
    let windowStart: number | undefined;
    for (;;) {
      const iterator = await iteratorFor(streamArn, shardId);
      let page: Awaited<ReturnType<DynamoDbStreams["getRecords"]>>;
      try {
        page = await streams.getRecords({
          ShardIterator: iterator,
          Limit: Math.min(1000, settings.batchSize - records.length),
        });
      } catch (error) {
        const name = errorName(error);
        // From the horizon with nothing read yet (a fresh table): DynamoDB Local answers
        // TrimmedDataAccessException until the shard's first record exists. That is the
        // expected "nothing yet": read from the shard's oldest record again next pass.
        const fresh =
          lastFetched.get(shardId) === undefined &&
          checkpoint?.shards[shardId]?.sequenceNumber === undefined;
        if (name === "TrimmedDataAccessException" && fresh) {
          iterators.delete(shardId);
          log.debug?.({ shardId }, "the shard has no records yet");
          return { records, closed: false };
        }
        if (name !== "ExpiredIteratorException") throw error;
        iterators.delete(shardId);
        continue;
      }
      records.push(...page.records);
      const last = page.records.at(-1);
      if (last !== undefined) lastFetched.set(shardId, last.dynamodb.SequenceNumber);
      if (page.nextShardIterator === undefined) {
        iterators.delete(shardId);
        return { records, closed: true };
      }
      iterators.set(shardId, page.nextShardIterator);
      if (records.length === 0 || records.length >= settings.batchSize) {
        return { records, closed: false };
      }
      windowStart ??= Date.now();
      const remaining = settings.batchWindowMs - (Date.now() - windowStart);
      if (remaining <= 0) return { records, closed: false };
      if (page.records.length === 0) await pause(Math.min(settings.pollIntervalMs, remaining));
    }
  }

  /** Reads a shard until it is caught up, closed, or the poller stops; true if it did work. */
  async function drain(streamArn: string, shardId: string): Promise<boolean> {
    let worked = false;
    while (!stopped) {
      const { records, closed } = await collect(streamArn, shardId);
      if (records.length > 0) {
        worked = true;
        if (!(await processBatch(streamArn, shardId, records))) return worked;
      }
      if (closed) {
        checkpoint ??= { version: 1, streamArn, shards: {} };
        checkpoint.shards[shardId] = { ...checkpoint.shards[shardId], finished: true };
        await saveCheckpoint();
        lastFetched.delete(shardId);
        topology = undefined; // its children, if any, are listed now
        log.info({ shardId }, "finished a closed stream shard");
        return true;
      }
      if (records.length === 0) return worked;
    }
    return worked;
  }

  let waitingForTable = false;
  /** The table's current stream ARN, or undefined while the table does not exist yet. */
  async function currentStreamArn(): Promise<string | undefined> {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      waitingForTable = false;
      const arn = Table?.LatestStreamArn;
      if (arn === undefined || Table?.StreamSpecification?.StreamEnabled !== true) {
        throw new Error(`table ${tableName} has no stream enabled`);
      }
      return arn;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      if (!waitingForTable) log.warn({ tableName }, "waiting for the table to exist");
      waitingForTable = true;
      return undefined;
    }
  }

  /**
   * The stream and its shards, parents first. Re-read every SHARD_REFRESH_MS, after a shard
   * closed (its children appear then) and after any error; in between a pass costs one
   * GetRecords per open shard.
   */
  let topology: { streamArn: string; shards: Shard[]; listed: Set<string>; at: number } | undefined;
  async function currentTopology() {
    if (topology !== undefined && Date.now() - topology.at < SHARD_REFRESH_MS) return topology;
    topology = undefined;
    const streamArn = await currentStreamArn();
    if (streamArn === undefined) return undefined;
    if (checkpoint !== undefined && checkpoint.streamArn !== streamArn) {
      log.warn(
        { previous: checkpoint.streamArn, current: streamArn },
        "the table has a new stream (recreated?): reading it from TRIM_HORIZON",
      );
      checkpoint = undefined;
      iterators.clear();
      lastFetched.clear();
    }
    const shards = parentsFirst(await streams.listShards(streamArn));
    const listed = new Set(shards.map((s) => s.ShardId));
    if (checkpoint !== undefined) {
      // Shards trimmed from the stream need no more bookkeeping.
      for (const [shardId, state] of Object.entries(checkpoint.shards)) {
        if (listed.has(shardId)) continue;
        if (!state.finished) {
          log.warn(
            { shardId },
            "an unfinished shard was trimmed from the stream: records may be lost",
          );
        }
        delete checkpoint.shards[shardId];
      }
    }
    topology = { streamArn, shards, listed, at: Date.now() };
    return topology;
  }

  /** One pass over every shard; true if any records were processed. */
  async function runPass(): Promise<boolean> {
    const current = await currentTopology();
    if (current === undefined) return false;
    const { streamArn, shards, listed } = current;
    let worked = false;
    for (const shard of shards) {
      if (stopped) break;
      if (checkpoint?.shards[shard.ShardId]?.finished) continue;
      const parent = shard.ParentShardId;
      if (parent !== undefined && listed.has(parent) && !checkpoint?.shards[parent]?.finished) {
        continue; // parent first; parentsFirst() put it earlier in this very pass
      }
      if (await drain(streamArn, shard.ShardId)) worked = true;
    }
    return worked;
  }

  function settleIdle(finishedPass: number): void {
    for (let i = idleWaiters.length - 1; i >= 0; i--) {
      const waiter = idleWaiters[i];
      if (waiter !== undefined && waiter.minPass <= finishedPass) {
        idleWaiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  async function loop(): Promise<void> {
    let failures = 0;
    log.info(
      { tableName, checkpointFile: settings.checkpointFile, resumed: checkpoint !== undefined },
      "stream poller started",
    );
    while (!stopped) {
      pass += 1;
      const thisPass = pass;
      try {
        const worked = await runPass();
        failures = 0;
        if (!worked && !stopped) {
          settleIdle(thisPass);
          await pause(settings.pollIntervalMs);
        }
      } catch (error) {
        if (error instanceof Stopped || stopped) break;
        failures += 1;
        // Read again from the last checkpoint: records fetched but not processed are not lost.
        iterators.clear();
        lastFetched.clear();
        topology = undefined;
        const delay = Math.min(settings.pollIntervalMs * 2 ** Math.min(failures, 10), 30_000);
        log.warn({ error: errorMessage(error), retryInMs: delay }, "stream polling failed");
        await pause(delay).catch(() => undefined);
      }
    }
    for (const waiter of idleWaiters.splice(0)) waiter.reject(new Stopped());
    log.info({ tableName }, "stream poller stopped");
  }

  const running = loop().catch((error: unknown) => {
    // Only a throwing logger gets here; never leave an unhandled rejection behind.
    for (const waiter of idleWaiters.splice(0)) waiter.reject(new Stopped());
    stopped = true;
    console.error("stream poller: stopped by an unexpected error", error);
  });

  return {
    async stop() {
      stopped = true;
      abort.abort();
      await running;
    },
    idle() {
      if (stopped) return Promise.reject(new Stopped());
      return new Promise<void>((resolve, reject) => {
        idleWaiters.push({ minPass: pass + 1, resolve, reject });
      });
    },
  };
}
