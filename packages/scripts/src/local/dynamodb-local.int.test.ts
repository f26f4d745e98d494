import { createServer, type Server } from "node:net";
import { relative } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, it } from "vitest";
import { scratch } from "../../../core/src/testing/index";
import { type DynamoDbLocal, startDynamoDbLocal } from "./dynamodb-local";
import { freePort } from "./ports";
import { alive, dynamoDbLocalPids, localDynamoDbClient } from "./testing";

const tmp = scratch("ddb-local-test-");
const started: DynamoDbLocal[] = [];
afterAll(async () => {
  // Whatever a failing test left running is stopped here.
  await Promise.all(started.map((s) => s.stop()));
  tmp.cleanup();
});

async function start(options: Parameters<typeof startDynamoDbLocal>[0]): Promise<DynamoDbLocal> {
  const ddb = await startDynamoDbLocal(options);
  started.push(ddb);
  return ddb;
}

describe("startDynamoDbLocal", () => {
  it("serves one shared database to every credential, and stops for good", async () => {
    const port = await freePort();
    const ddb = await start({ port });
    expect(ddb.endpoint).toBe(`http://127.0.0.1:${port}`);
    expect(alive(ddb.pid)).toBe(true);
    expect(dynamoDbLocalPids(port)).toEqual([ddb.pid]);

    // A client with other credentials and region creates a table...
    const other = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: "eu-west-3",
      credentials: { accessKeyId: "AKIAOTHERUSER", secretAccessKey: "other" },
    });
    await other.send(
      new CreateTableCommand({
        TableName: "shared-db-check",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "k", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "k", KeyType: "HASH" }],
      }),
    );
    other.destroy();
    // ...that the local credentials see: one shared database.
    const local = localDynamoDbClient(ddb.endpoint);
    const { TableNames } = await local.send(new ListTablesCommand({}));
    local.destroy();
    expect(TableNames).toContain("shared-db-check");

    await ddb.stop();
    expect(alive(ddb.pid)).toBe(false);
    expect(dynamoDbLocalPids(port)).toEqual([]);
    // Settled: 143 when Java honoured SIGTERM, SIGKILL if it had to be forced.
    const exit = await ddb.exited;
    expect(exit.code === 143 || exit.signal === "SIGKILL").toBe(true);
    await ddb.stop(); // idempotent
  });

  it("refuses a busy port without starting Java", async () => {
    const port = await freePort();
    const blocker: Server = await new Promise((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen({ port, host: "0.0.0.0" }, () => resolve(server));
    });
    try {
      await expect(start({ port })).rejects.toThrow(`port ${port} is busy`);
      expect(dynamoDbLocalPids(port)).toEqual([]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("leaves no process behind when it does not become ready in time", async () => {
    const port = await freePort();
    // Java cannot answer within 1 ms: the start fails after spawning and must clean up.
    await expect(start({ port, startTimeoutMs: 1 })).rejects.toThrow(
      `timed out after 1 ms waiting for DynamoDB Local on port ${port}`,
    );
    expect(dynamoDbLocalPids(port)).toEqual([]);
  });

  it("keeps data across restarts with a dbPath (relative to the caller's directory)", async () => {
    const dbPath = relative(process.cwd(), `${tmp.dir}/db`);
    expect(dbPath.startsWith("/")).toBe(false);
    const first = await start({ port: await freePort(), dbPath });
    const a = localDynamoDbClient(first.endpoint);
    await a.send(
      new CreateTableCommand({
        TableName: "persisted",
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [{ AttributeName: "k", AttributeType: "S" }],
        KeySchema: [{ AttributeName: "k", KeyType: "HASH" }],
      }),
    );
    await a.send(new PutItemCommand({ TableName: "persisted", Item: { k: { S: "kiro+1~2:3" } } }));
    a.destroy();
    await first.stop();
    expect(alive(first.pid)).toBe(false);

    const second = await start({ port: await freePort(), dbPath });
    const b = localDynamoDbClient(second.endpoint);
    const { Item } = await b.send(
      new GetItemCommand({ TableName: "persisted", Key: { k: { S: "kiro+1~2:3" } } }),
    );
    b.destroy();
    expect(Item).toEqual({ k: { S: "kiro+1~2:3" } });
    await second.stop();
    expect(alive(second.pid)).toBe(false);
  });

  it("validates its options", async () => {
    await expect(startDynamoDbLocal({ port: 0 })).rejects.toThrow(/invalid options/);
    await expect(startDynamoDbLocal({ port: 70000 })).rejects.toThrow(/invalid options/);
  });
});
