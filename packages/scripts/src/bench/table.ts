// The package table for the benchmark: created without its stream, loaded fast with
// BatchWriteItem (the records' pool objects uploaded first, as writers do), and its stream
// enabled only before the end-to-end measurement.

import { type ObjectStore, objectHeaders } from "@app/core/publish";
import { recordToItem } from "@app/core/record";
import { backoffDelay, createTableInput } from "@app/core/store";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTableCommand,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";
import { fixtureRecord, poolObjectOf } from "./fixtures";
import { progress } from "./proc";

/** Uploads the pool objects of the first `n` fixture records, `parallel` PUTs in flight. */
export async function loadPoolObjects(
  bucket: ObjectStore,
  n: number,
  parallel = 8,
): Promise<number> {
  const start = performance.now();
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < n; i = next++) {
      const record = fixtureRecord(i);
      const key = record.filename ?? "";
      await bucket.put(key, poolObjectOf(record), objectHeaders(key));
      if ((i + 1) % 5000 === 0 && i + 1 < n) progress(`  uploaded ${i + 1}/${n} pool objects`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return performance.now() - start;
}

/** Loads records with BatchWriteItem: 25 per request, `parallel` requests in flight. */
export async function loadFixtures(
  client: DynamoDBClient,
  table: string,
  n: number,
  parallel = 8,
): Promise<number> {
  const start = performance.now();
  let next = 0;
  let done = 0;
  let reported = 0;
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= n) return;
      next = Math.min(n, from + 25);
      let requests: Record<string, AttributeValue>[] = [];
      for (let i = from; i < next; i++) requests.push(recordToItem(fixtureRecord(i)));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 20) throw new Error(`BatchWriteItem kept leaving items unprocessed`);
        const out = await client.send(
          new BatchWriteItemCommand({
            RequestItems: { [table]: requests.map((Item) => ({ PutRequest: { Item } })) },
          }),
        );
        requests = (out.UnprocessedItems?.[table] ?? []).flatMap((r) =>
          r.PutRequest?.Item ? [r.PutRequest.Item] : [],
        );
        if (requests.length > 0) {
          await new Promise((r) =>
            setTimeout(r, backoffDelay(attempt + 1, 20, 2000, Math.random())),
          );
        }
      }
      done += 25;
      if (done - reported >= 5000 && done < n) {
        reported = done;
        progress(`  loaded ${done}/${n} records`);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return performance.now() - start;
}

export async function createPackageTable(client: DynamoDBClient, table: string): Promise<void> {
  // Created without its stream: loading N records should not queue N stream records for the
  // poller. The stream is enabled before the end-to-end measurement.
  const { StreamSpecification: _stream, ...input } = createTableInput(table);
  await client.send(new CreateTableCommand(input));
  await waitUntilTableExists({ client, maxWaitTime: 120 }, { TableName: table });
}

export async function enableStream(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new UpdateTableCommand({
      TableName: table,
      StreamSpecification: { StreamEnabled: true, StreamViewType: "NEW_AND_OLD_IMAGES" },
    }),
  );
  for (let i = 0; i < 600; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.LatestStreamArn && Table.TableStatus === "ACTIVE") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the stream of ${table} did not become active`);
}
