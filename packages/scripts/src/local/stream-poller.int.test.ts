import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type AttributeValue,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from "aws-lambda";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTable } from "../../../core/src/store/table";
import { scratch } from "../../../core/src/testing/index";
import { readCheckpointSync } from "./checkpoint";
import { type DynamoDbLocal, startDynamoDbLocal } from "./dynamodb-local";
import type { DynamoDbStreams, StreamRecord } from "./dynamodb-streams";
import { freePort, waitFor } from "./ports";
import {
  type PollerLogger,
  type StreamPoller,
  type StreamPollerOptions,
  startStreamPoller,
} from "./stream-poller";
import { alive, dynamoDbLocalPids, localDynamoDbClient } from "./testing";

const tmp = scratch("stream-poller-test-");
let ddb: DynamoDbLocal;
let client: DynamoDBClient;
const servers: DynamoDbLocal[] = [];
const pollers: StreamPoller[] = [];
let tables = 0;

beforeAll(async () => {
  ddb = await startDynamoDbLocal({ port: await freePort() });
  servers.push(ddb);
  client = localDynamoDbClient(ddb.endpoint);
});
afterAll(async () => {
  await Promise.all(pollers.map((p) => p.stop()));
  client?.destroy();
  await Promise.all(servers.map((s) => s.stop()));
  for (const server of servers) expect(alive(server.pid)).toBe(false);
  tmp.cleanup();
});

/** Warnings and errors go here rather than to the test output. */
function quietLogger(): PollerLogger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (object: object, message: string) => {
    lines.push(`${message} ${JSON.stringify(object)}`);
  };
  return { lines, info: () => {}, warn: keep, error: keep };
}

type Handler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

/** A fresh package table (and files) for one test. */
async function freshTable(on: DynamoDBClient = client) {
  tables += 1;
  const tableName = `packages-${tables}`;
  await ensureTable(on, tableName);
  const dir = join(tmp.dir, tableName);
  return {
    tableName,
    checkpointFile: join(dir, "checkpoint.json"),
    deadLetterFile: join(dir, "dead-letters.jsonl"),
  };
}

function item(id: string, n = 0): Record<string, AttributeValue> {
  return {
    package_id: { S: id },
    package_name: { S: id.split("#")[0] ?? id },
    n: { N: String(n) },
  };
}
async function putItems(tableName: string, ids: readonly string[], on: DynamoDBClient = client) {
  for (const id of ids) await on.send(new PutItemCommand({ TableName: tableName, Item: item(id) }));
}

function start(
  options: Omit<StreamPollerOptions, "client" | "handler" | "batchWindowMs" | "pollIntervalMs"> & {
    handler: Handler;
    client?: DynamoDBClient;
    batchWindowMs?: number;
    pollIntervalMs?: number;
  },
): StreamPoller {
  const poller = startStreamPoller({
    client,
    batchWindowMs: 0,
    pollIntervalMs: 10,
    logger: quietLogger(),
    ...options,
  });
  pollers.push(poller);
  return poller;
}

const idOf = (record: DynamoDBRecord) => record.dynamodb?.Keys?.package_id?.S;
const seqOf = (record: DynamoDBRecord) => BigInt(record.dynamodb?.SequenceNumber ?? "-1");

function deadLetters(
  file: string,
): { record: DynamoDBRecord; attempts: number; lastError: string }[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line));
}

async function streamArnOf(tableName: string, on: DynamoDBClient = client): Promise<string> {
  const { Table } = await on.send(new DescribeTableCommand({ TableName: tableName }));
  if (Table?.LatestStreamArn === undefined) throw new Error("no stream");
  return Table.LatestStreamArn;
}

describe("ensureTable against DynamoDB Local", () => {
  it("creates once, is idempotent and race-safe, and the GSI finds every version", async () => {
    const results = await Promise.all([1, 2, 3].map(() => ensureTable(client, "race-table")));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await ensureTable(client, "race-table")).created).toBe(false);
    await putItems("race-table", ["kiro#1.0#amd64", "kiro#1.1#amd64", "kiro-cli#1.0#amd64"]);
    const { Items } = await client.send(
      new QueryCommand({
        TableName: "race-table",
        IndexName: "by_package_name",
        KeyConditionExpression: "package_name = :n",
        ExpressionAttributeValues: { ":n": { S: "kiro" } },
      }),
    );
    expect(Items?.map((i) => i.package_id?.S)).toEqual(["kiro#1.0#amd64", "kiro#1.1#amd64"]);
  });

  it("refuses an existing table of another shape", async () => {
    await client.send(
      new CreateTableCommand({
        TableName: "no-stream-table",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "package_id", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "package_id", KeyType: "HASH" }],
      }),
    );
    await expect(ensureTable(client, "no-stream-table")).rejects.toThrow(
      /no-stream-table does not match.*by_package_name is missing.*stream is disabled/,
    );
  });
});

describe("startStreamPoller", () => {
  it("delivers every change once, in order, with Lambda's record shape and images", async () => {
    const files = await freshTable();
    const streamArn = await streamArnOf(files.tableName);
    const batches: DynamoDBRecord[][] = [];
    const poller = start({
      ...files,
      batchSize: 3,
      maxRetries: 0,
      handler: async (event) => {
        batches.push(event.Records);
        return { batchItemFailures: [] };
      },
    });
    await putItems(files.tableName, ["a#1#all", "b#1#all", "c#1#all", "d#1#all"]);
    await client.send(new PutItemCommand({ TableName: files.tableName, Item: item("a#1#all", 7) }));
    await client.send(
      new DeleteItemCommand({ TableName: files.tableName, Key: { package_id: { S: "b#1#all" } } }),
    );
    await poller.idle();
    await poller.stop();

    expect(batches.every((b) => b.length >= 1 && b.length <= 3)).toBe(true);
    const records = batches.flat();
    expect(records.map((r) => [r.eventName, idOf(r)])).toEqual([
      ["INSERT", "a#1#all"],
      ["INSERT", "b#1#all"],
      ["INSERT", "c#1#all"],
      ["INSERT", "d#1#all"],
      ["MODIFY", "a#1#all"],
      ["REMOVE", "b#1#all"],
    ]);
    const seqs = records.map(seqOf);
    expect([...seqs].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const record of records) {
      expect(record).toMatchObject({
        eventSource: "aws:dynamodb",
        eventSourceARN: streamArn,
        eventVersion: expect.any(String),
        eventID: expect.any(String),
        awsRegion: expect.any(String),
        dynamodb: {
          StreamViewType: "NEW_AND_OLD_IMAGES",
          SizeBytes: expect.any(Number),
          ApproximateCreationDateTime: expect.any(Number),
        },
      });
    }
    const [a1, , , , a2, b] = records;
    expect(a1?.dynamodb?.NewImage).toEqual(item("a#1#all"));
    expect(a1?.dynamodb?.OldImage).toBeUndefined();
    expect(a2?.dynamodb?.OldImage).toEqual(item("a#1#all"));
    expect(a2?.dynamodb?.NewImage).toEqual(item("a#1#all", 7));
    expect(b?.dynamodb?.OldImage).toEqual(item("b#1#all"));
    expect(b?.dynamodb?.NewImage).toBeUndefined();
    expect(b?.dynamodb?.Keys).toEqual({ package_id: { S: "b#1#all" } });
    // The checkpoint ends at the last record; nothing was dead-lettered.
    const checkpoint = readCheckpointSync(files.checkpointFile);
    expect(checkpoint?.streamArn).toBe(streamArn);
    expect(Object.values(checkpoint?.shards ?? {}).map((s) => s.sequenceNumber)).toContain(
      records.at(-1)?.dynamodb?.SequenceNumber,
    );
    expect(existsSync(files.deadLetterFile)).toBe(false);
  });

  it("starts on a fresh table without a warning: an empty shard is read from its oldest record", async () => {
    // DynamoDB Local sometimes answers a first GetRecords from the horizon of a fresh shard with
    // TrimmedDataAccessException (seen on first `npm start`s, under load; not reproducible at
    // will): injected here on the first three GetRecords, as it answers.
    const files = await freshTable();
    const racy = localDynamoDbClient(ddb.endpoint, 1);
    let injected = 0;
    racy.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if ((request.headers?.["x-amz-target"] ?? "").endsWith(".GetRecords") && injected < 3) {
          injected++;
          throw Object.assign(
            new Error("The operation attempted to read past the oldest stream record in a shard."),
            { name: "TrimmedDataAccessException" },
          );
        }
        return next(args);
      },
      { step: "build", priority: "low", name: "trimmedOnFreshShard" },
    );
    const logger = quietLogger();
    const seen: string[] = [];
    const poller = start({
      ...files,
      client: racy,
      batchSize: 10,
      maxRetries: 0,
      logger,
      handler: async (event) => {
        for (const r of event.Records) seen.push(idOf(r) ?? "?");
        return { batchItemFailures: [] };
      },
    });
    await putItems(files.tableName, ["fresh#1#all", "fresh#2#all"]);
    await waitFor(async () => seen.length === 2, { timeoutMs: 20_000, what: "both records" });
    await poller.stop();
    racy.destroy();
    expect(injected).toBe(3);
    expect(seen).toEqual(["fresh#1#all", "fresh#2#all"]);
    expect(logger.lines).toEqual([]);
  });

  it("matches a model of the table over random writes, batch sizes, windows and restarts", async () => {
    const files = await freshTable();
    const seen = new Set<bigint>();
    let run = 0;
    const op = fc.record({ key: fc.integer({ min: 0, max: 3 }), del: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(0, 20),
        fc.array(op, { minLength: 1, maxLength: 10 }),
        fc.nat(10),
        async (batchSize, batchWindowMs, ops, split) => {
          run += 1;
          // Keys of this run only: shrinking replays never meet an earlier run's items.
          const prefix = `r${run}`;
          const model = new Map<string, number>();
          const expected: [
            string,
            string,
            Record<string, AttributeValue> | undefined,
            Record<string, AttributeValue> | undefined,
          ][] = [];
          const apply = async (o: { key: number; del: boolean }, version: number) => {
            const id = `${prefix}-${o.key}#1#all`;
            const old = model.get(id);
            if (o.del) {
              await client.send(
                new DeleteItemCommand({
                  TableName: files.tableName,
                  Key: { package_id: { S: id } },
                }),
              );
              if (old !== undefined) expected.push(["REMOVE", id, undefined, item(id, old)]);
              model.delete(id);
            } else {
              await client.send(
                new PutItemCommand({ TableName: files.tableName, Item: item(id, version) }),
              );
              expected.push([
                old === undefined ? "INSERT" : "MODIFY",
                id,
                item(id, version),
                old === undefined ? undefined : item(id, old),
              ]);
              model.set(id, version);
            }
          };
          const cut = Math.min(split, ops.length);
          for (const [i, o] of ops.slice(0, cut).entries()) await apply(o, i);
          const delivered: DynamoDBRecord[] = [];
          const sizes: number[] = [];
          const poller = start({
            ...files,
            batchSize,
            batchWindowMs,
            maxRetries: 0,
            // Never assert inside a handler: a throw would only make the poller retry.
            handler: async (event) => {
              sizes.push(event.Records.length);
              delivered.push(...event.Records);
              return undefined;
            },
          });
          for (const [i, o] of ops.slice(cut).entries()) await apply(o, cut + i);
          await poller.idle();
          await poller.stop();
          expect(sizes.every((n) => n >= 1 && n <= batchSize)).toBe(true);
          for (const record of delivered) {
            expect(seen.has(seqOf(record))).toBe(false); // never twice, across restarts
            seen.add(seqOf(record));
          }
          expect(
            delivered.map((r) => [
              r.eventName,
              idOf(r),
              r.dynamodb?.NewImage,
              r.dynamodb?.OldImage,
            ]),
          ).toEqual(expected);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("redelivers from the first reported failure, never what came before it", async () => {
    const files = await freshTable();
    const ids = ["p1#1#all", "p2#1#all", "p3#1#all", "p4#1#all", "p5#1#all"];
    await putItems(files.tableName, ids);
    const batches: (string | undefined)[][] = [];
    let calls = 0;
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 3,
      handler: async (event) => {
        batches.push(event.Records.map(idOf));
        calls += 1;
        const p3 = event.Records.find((r) => idOf(r) === "p3#1#all");
        // Fail p3 (and, to show the earliest failure counts, p5) the first time only.
        if (calls === 1 && p3) {
          const p5 = event.Records.find((r) => idOf(r) === "p5#1#all");
          return {
            batchItemFailures: [p5, p3].map((r) => ({
              itemIdentifier: r?.dynamodb?.SequenceNumber ?? "",
            })),
          };
        }
        return { batchItemFailures: [] };
      },
    });
    await poller.idle();
    await poller.stop();
    expect(batches).toEqual([ids, ["p3#1#all", "p4#1#all", "p5#1#all"]]);
    expect(existsSync(files.deadLetterFile)).toBe(false);
  });

  it("dead-letters a record reported failed until the retries run out, then goes on", async () => {
    const files = await freshTable();
    const ids = ["q1#1#all", "q2#1#all", "q3#1#all", "q4#1#all", "q5#1#all"];
    await putItems(files.tableName, ids);
    const batches: (string | undefined)[][] = [];
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 2,
      handler: async (event) => {
        batches.push(event.Records.map(idOf));
        const q3 = event.Records.find((r) => idOf(r) === "q3#1#all");
        return {
          batchItemFailures: q3 ? [{ itemIdentifier: q3.dynamodb?.SequenceNumber ?? "" }] : [],
        };
      },
    });
    await poller.idle();
    await poller.stop();
    const rest = ["q3#1#all", "q4#1#all", "q5#1#all"];
    // The first failure counts: 1 + maxRetries attempts in all, then q3 goes to the dead letters.
    expect(batches).toEqual([ids, rest, rest, ["q4#1#all", "q5#1#all"]]);
    const dead = deadLetters(files.deadLetterFile);
    expect(dead.map((d) => idOf(d.record))).toEqual(["q3#1#all"]);
    expect(dead[0]?.attempts).toBe(3);
  });

  it("treats an unknown itemIdentifier as a failed batch (and bisects it)", async () => {
    const files = await freshTable();
    const ids = ["u1#1#all", "u2#1#all", "u3#1#all", "u4#1#all"];
    await putItems(files.tableName, ids);
    const batches: (string | undefined)[][] = [];
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 0,
      handler: async (event) => {
        batches.push(event.Records.map(idOf));
        return batches.length === 1
          ? { batchItemFailures: [{ itemIdentifier: "nope" }] }
          : undefined;
      },
    });
    await poller.idle();
    await poller.stop();
    expect(batches).toEqual([ids, ids.slice(0, 2), ids.slice(2)]);
    expect(existsSync(files.deadLetterFile)).toBe(false);
  });

  it("bisects a throwing batch down to the poison record, dead-letters it, processes the rest", async () => {
    const files = await freshTable();
    const ids = Array.from({ length: 8 }, (_, i) => `b${i + 1}#1#all`);
    await putItems(files.tableName, ids);
    const batches: (string | undefined)[][] = [];
    const succeeded: (string | undefined)[] = [];
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 2,
      handler: async (event) => {
        const got = event.Records.map(idOf);
        batches.push(got);
        if (got.includes("b6#1#all")) throw new Error("poison b6");
        succeeded.push(...got);
        return undefined;
      },
    });
    await poller.idle();
    await poller.stop();
    const b = (...n: number[]) => n.map((i) => `b${i}#1#all`);
    expect(batches).toEqual([
      b(1, 2, 3, 4, 5, 6, 7, 8),
      b(1, 2, 3, 4),
      b(5, 6, 7, 8),
      b(5, 6),
      b(5),
      b(6, 7, 8),
      b(6, 7),
      b(6),
      b(6),
      b(6),
      b(7, 8),
    ]);
    expect(succeeded).toEqual(b(1, 2, 3, 4, 5, 7, 8));
    const dead = deadLetters(files.deadLetterFile);
    expect(dead.map((d) => idOf(d.record))).toEqual(b(6));
    expect(dead[0]?.attempts).toBe(3);
    expect(dead[0]?.lastError).toContain("poison b6");
    expect(dead[0]?.record.eventSourceARN).toBe(await streamArnOf(files.tableName));
  });

  it("without bisect, dead-letters the whole failing batch (as Lambda does)", async () => {
    const files = await freshTable();
    const ids = ["n1#1#all", "n2#1#all", "n3#1#all"];
    await putItems(files.tableName, ids);
    const batches: (string | undefined)[][] = [];
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 1,
      bisectOnError: false,
      handler: async (event) => {
        batches.push(event.Records.map(idOf));
        if (event.Records.some((r) => idOf(r) === "n2#1#all")) throw new Error("boom");
        return undefined;
      },
    });
    await poller.idle();
    await poller.stop();
    expect(batches).toEqual([ids, ids]);
    expect(deadLetters(files.deadLetterFile).map((d) => idOf(d.record))).toEqual(ids);
  });

  it("waits for the in-flight batch on stop, checkpoints it, and resumes after it", async () => {
    const files = await freshTable();
    const events: string[] = [];
    let release: () => void = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered: () => void = () => {};
    const inFlight = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const first: (string | undefined)[] = [];
    const poller = start({
      ...files,
      batchSize: 10,
      maxRetries: 0,
      handler: async (event) => {
        entered();
        await released;
        first.push(...event.Records.map(idOf));
        events.push("handler done");
        return undefined;
      },
    });
    await putItems(files.tableName, ["s1#1#all", "s2#1#all", "s3#1#all"]);
    await inFlight;
    const stopping = poller.stop().then(() => events.push("stopped"));
    release();
    await stopping;
    expect(events).toEqual(["handler done", "stopped"]);
    await expect(poller.idle()).rejects.toThrow("stopped");

    const after: (string | undefined)[] = [];
    const again = start({
      ...files,
      batchSize: 10,
      maxRetries: 0,
      handler: async (event) => {
        after.push(...event.Records.map(idOf));
        return undefined;
      },
    });
    await putItems(files.tableName, ["s4#1#all"]);
    await again.idle();
    await again.stop();
    expect([...first, ...after]).toEqual(["s1#1#all", "s2#1#all", "s3#1#all", "s4#1#all"]);
    expect(after).not.toContain("s1#1#all");
  });

  it("survives failing stream calls without losing or repeating records", async () => {
    const files = await freshTable();
    const faulty = localDynamoDbClient(ddb.endpoint, 1);
    let injected = 0;
    faulty.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        const target = request.headers?.["x-amz-target"] ?? "";
        // Every third GetRecords fails, as a restarting server would make it.
        if (target.endsWith(".GetRecords") && ++injected % 3 === 0) {
          throw Object.assign(new Error("injected network failure"), { name: "ECONNRESET" });
        }
        return next(args);
      },
      { step: "build", priority: "low", name: "faultInjection" },
    );
    const got: (string | undefined)[] = [];
    const logger = quietLogger();
    const poller = start({
      ...files,
      client: faulty,
      logger,
      batchSize: 2,
      maxRetries: 0,
      handler: async (event) => {
        got.push(...event.Records.map(idOf));
        return undefined;
      },
    });
    const ids = Array.from({ length: 9 }, (_, i) => `f${i}#1#all`);
    await putItems(files.tableName, ids);
    await poller.idle();
    await poller.stop();
    faulty.destroy();
    expect(injected).toBeGreaterThanOrEqual(3);
    expect(logger.lines.some((l) => l.includes("injected network failure"))).toBe(true);
    expect(got).toEqual(ids);
  });

  it("resumes exactly after DynamoDB Local itself restarts on the same dbPath", async () => {
    const dbPath = join(tmp.dir, "persistent-db");
    const checkpointFile = join(tmp.dir, "persistent", "checkpoint.json");
    const deadLetterFile = join(tmp.dir, "persistent", "dead.jsonl");
    const tableName = "persistent-packages";
    const delivered: (string | undefined)[] = [];
    const handler: Handler = async (event) => {
      delivered.push(...event.Records.map(idOf));
      return undefined;
    };

    const first = await startDynamoDbLocal({ port: await freePort(), dbPath });
    servers.push(first);
    const c1 = localDynamoDbClient(first.endpoint);
    await ensureTable(c1, tableName);
    const arn1 = await streamArnOf(tableName, c1);
    const p1 = start({
      client: c1,
      tableName,
      checkpointFile,
      deadLetterFile,
      batchSize: 2,
      maxRetries: 0,
      handler,
    });
    await putItems(tableName, ["x1#1#all", "x2#1#all", "x3#1#all"], c1);
    await p1.idle();
    await p1.stop();
    // Written while nobody polls: must arrive after the restart.
    await putItems(tableName, ["x4#1#all", "x5#1#all"], c1);
    c1.destroy();
    await first.stop();
    expect(alive(first.pid)).toBe(false);

    const second = await startDynamoDbLocal({ port: await freePort(), dbPath });
    servers.push(second);
    const c2 = localDynamoDbClient(second.endpoint);
    expect(await streamArnOf(tableName, c2)).toBe(arn1);
    const p2 = start({
      client: c2,
      tableName,
      checkpointFile,
      deadLetterFile,
      batchSize: 2,
      maxRetries: 0,
      handler,
    });
    await putItems(tableName, ["x6#1#all"], c2);
    await p2.idle();
    await p2.stop();
    c2.destroy();
    await second.stop();
    expect(alive(second.pid)).toBe(false);
    expect(dynamoDbLocalPids(Number(new URL(second.endpoint).port))).toEqual([]);
    expect(delivered).toEqual([
      "x1#1#all",
      "x2#1#all",
      "x3#1#all",
      "x4#1#all",
      "x5#1#all",
      "x6#1#all",
    ]);
  });

  it("reads a child shard only after its closed parent is exhausted, and remembers that", async () => {
    // DynamoDB Local rolls a shard over only every 4 hours: play that out with a scripted
    // Streams API over the real table (DescribeTable still comes from DynamoDB Local).
    const PARENT = "shardId-00000001700000000000-0parent";
    const CHILD = "shardId-00000001700014400000-00child";
    const files = await freshTable();
    const streamArn = await streamArnOf(files.tableName);
    const record = (n: number): StreamRecord => ({
      eventID: `e${n}`,
      eventName: "INSERT",
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "ddblocal",
      dynamodb: {
        ApproximateCreationDateTime: 1_700_000_000,
        Keys: { package_id: { S: `c${n}#1#all` } },
        NewImage: { package_id: { S: `c${n}#1#all` }, n: { N: String(n) } },
        SequenceNumber: String(n).padStart(21, "0"),
        SizeBytes: 10,
        StreamViewType: "NEW_AND_OLD_IMAGES",
      },
    });
    // The child is listed first: the poller must still start with the parent.
    const shards = new Map<string, { records: StreamRecord[]; closed: boolean; parent?: string }>([
      [CHILD, { records: [4, 5, 6].map(record), closed: false, parent: PARENT }],
      [PARENT, { records: [1, 2, 3].map(record), closed: true }],
    ]);
    const reads: string[] = [];
    const listedArns = new Set<string>();
    const scripted: DynamoDbStreams = {
      async listShards(arn) {
        listedArns.add(arn);
        return [...shards].map(([ShardId, s]) => ({
          ShardId,
          ...(s.parent ? { ParentShardId: s.parent } : {}),
        }));
      },
      async getShardIterator({ ShardId, ShardIteratorType, SequenceNumber }) {
        const shard = shards.get(ShardId);
        if (!shard) throw new Error(`no shard ${ShardId}`);
        const at =
          ShardIteratorType === "TRIM_HORIZON"
            ? 0
            : shard.records.findIndex((r) => r.dynamodb.SequenceNumber === SequenceNumber) + 1;
        return `${ShardId}|${at}`;
      },
      async getRecords({ ShardIterator, Limit = 1000 }) {
        const [shardId = "", at = "0"] = ShardIterator.split("|");
        const shard = shards.get(shardId);
        if (!shard) throw new Error(`no shard ${shardId}`);
        const from = Number(at);
        const records = shard.records.slice(from, from + Limit);
        if (records.length > 0) reads.push(shardId);
        const end = from + records.length;
        const exhausted = end >= shard.records.length;
        return {
          records,
          nextShardIterator: shard.closed && exhausted ? undefined : `${shardId}|${end}`,
        };
      },
    };
    const delivered: (string | undefined)[] = [];
    const handler: Handler = async (event) => {
      delivered.push(...event.Records.map(idOf));
      return undefined;
    };
    const first = start({ ...files, streams: scripted, batchSize: 2, maxRetries: 0, handler });
    await first.idle();
    await first.stop();
    expect(delivered).toEqual([1, 2, 3, 4, 5, 6].map((n) => `c${n}#1#all`));
    expect(reads.lastIndexOf(PARENT)).toBeLessThan(reads.indexOf(CHILD));
    expect([...listedArns]).toEqual([streamArn]);
    const checkpoint = readCheckpointSync(files.checkpointFile);
    expect(checkpoint?.shards[PARENT]?.finished).toBe(true);
    expect(checkpoint?.shards[CHILD]?.sequenceNumber).toBe(record(6).dynamodb.SequenceNumber);

    // After a restart the finished parent is not read again; the child resumes after 6.
    shards.get(CHILD)?.records.push(record(7));
    reads.length = 0;
    const second = start({ ...files, streams: scripted, batchSize: 2, maxRetries: 0, handler });
    await second.idle();
    await second.stop();
    expect(reads).not.toContain(PARENT);
    expect(delivered.slice(6)).toEqual(["c7#1#all"]);
  });

  it("rejects invalid settings and a broken checkpoint before polling", async () => {
    const files = await freshTable();
    const handler: Handler = async () => undefined;
    expect(() => start({ ...files, batchSize: 0, maxRetries: 0, handler })).toThrow(
      /invalid options/,
    );
    expect(() => start({ ...files, batchSize: 1, maxRetries: -1, handler })).toThrow(
      /invalid options/,
    );
    const broken = join(tmp.dir, "broken-checkpoint.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(
      broken,
      JSON.stringify({
        version: 1,
        streamArn: "a",
        shards: { "shardId-00000001795536054233-38ff2f99": { sequenceNumber: "x" } },
      }),
    );
    expect(() =>
      start({ ...files, checkpointFile: broken, batchSize: 1, maxRetries: 0, handler }),
    ).toThrow(/broken-checkpoint\.json.*sequence number is digits/);
  });
});
