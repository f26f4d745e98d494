// The publisher's state in DynamoDB: one item per suite (guarded by its generation), one per
// index manifest, and one per retired by-hash object or pool file. A commit is one transaction whose
// condition is the suite's generation: the compare-and-swap that serialises publishers.

import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  type AttributeValue,
  BatchGetItemCommand,
  type BatchGetItemCommandOutput,
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  type ScanCommandOutput,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { backoffDelay } from "../store/retry";
import type { Manifest } from "./manifest";
import {
  parseManifest,
  parseSuiteState,
  type Retired,
  StateError,
  type StateStore,
  type SuiteCommit,
  type SuiteState,
} from "./state";

const suitePk = (suite: string) => `suite#${suite}`;
const retiredPk = (suite: string) => `retired#${suite}`;
const S = (value: string): AttributeValue => ({ S: value });

/** A retired object's item: `<at>#<key>` sorts by time; a pool file's carries its ids. */
const retiredPut = (suite: string, r: Retired) => ({
  PutRequest: {
    Item: {
      pk: S(retiredPk(suite)),
      sk: S(`${r.at}#${r.key}`),
      ...(r.ids?.length ? { ids: { SS: [...new Set(r.ids)] } } : {}),
    },
  },
});

export class DynamoStateStore implements StateStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async loadSuite(suite: string): Promise<SuiteState | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: S(suitePk(suite)), sk: S("state") },
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const json = Item.state?.S;
    if (json === undefined) throw new StateError(`state of suite ${suite} has no state attribute`);
    return parseSuiteState(JSON.parse(json), `of suite ${suite}`);
  }

  async listSuites(): Promise<string[]> {
    // The state table holds a few items per suite: a filtered scan is cheap and rare (rebuilds).
    const suites: string[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page: ScanCommandOutput = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: "sk = :state",
          ExpressionAttributeValues: { ":state": S("state") },
          ProjectionExpression: "pk",
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const pk = item.pk?.S ?? "";
        if (pk.startsWith("suite#")) suites.push(pk.slice("suite#".length));
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return suites.sort();
  }

  async loadManifests(suite: string, indexKeys: readonly string[]): Promise<Map<string, Manifest>> {
    const out = new Map<string, Manifest>();
    for (let i = 0; i < indexKeys.length; i += 100) {
      let keys: Record<string, AttributeValue>[] | undefined = indexKeys
        .slice(i, i + 100)
        .map((k) => ({ pk: S(suitePk(suite)), sk: S(`index#${k}`) }));
      for (let attempt = 0; keys && keys.length > 0; attempt++) {
        if (attempt > 8) throw new StateError("state table keeps returning unprocessed keys");
        const result: BatchGetItemCommandOutput = await this.client.send(
          new BatchGetItemCommand({
            RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const item of result.Responses?.[this.tableName] ?? []) {
          const key = item.sk?.S?.slice("index#".length) ?? "";
          const bytes = item.manifest?.B;
          if (bytes === undefined) throw new StateError(`manifest ${key} has no body`);
          out.set(key, parseManifest(JSON.parse(gunzipSync(bytes).toString()), key));
        }
        keys = result.UnprocessedKeys?.[this.tableName]?.Keys;
        if (keys?.length) await sleep(backoffDelay(attempt + 1, 50, 2000, Math.random()));
      }
    }
    return out;
  }

  async commit(commits: readonly SuiteCommit[]): Promise<boolean> {
    const items: TransactWriteItem[] = [];
    const retired: [string, Retired][] = [];
    for (const c of commits) {
      items.push({
        Put: {
          TableName: this.tableName,
          Item: {
            pk: S(suitePk(c.state.suite)),
            sk: S("state"),
            generation: { N: String(c.state.generation) },
            state: S(JSON.stringify(c.state)),
          },
          ConditionExpression: c.from === 0 ? "attribute_not_exists(pk)" : "generation = :from",
          ...(c.from === 0
            ? {}
            : { ExpressionAttributeValues: { ":from": { N: String(c.from) } } }),
        },
      });
      for (const [key, manifest] of c.manifests) {
        items.push({
          Put: {
            TableName: this.tableName,
            Item: {
              pk: S(suitePk(c.state.suite)),
              sk: S(`index#${key}`),
              generation: { N: String(c.state.generation) },
              manifest: { B: gzipSync(JSON.stringify(manifest)) },
            },
          },
        });
      }
      for (const r of c.retired) retired.push([c.state.suite, r]);
    }
    if (items.length > 100) {
      throw new StateError(
        `a commit of ${items.length} items exceeds DynamoDB's 100-item transaction`,
      );
    }
    try {
      await this.client.send(new TransactWriteItemsCommand({ TransactItems: items }));
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.some((r) => r.Code === "ConditionalCheckFailed")
      ) {
        return false;
      }
      throw error;
    }
    // After the commit: a lost entry only means an object is never swept, never one swept early.
    await this.batchWrite(retired.map(([suite, r]) => retiredPut(suite, r)));
    return true;
  }

  async retire(suite: string, retired: readonly Retired[]): Promise<void> {
    await this.batchWrite(retired.map((r) => retiredPut(suite, r)));
  }

  retiredBefore(suite: string, before: Date): Promise<Retired[]> {
    return this.queryRetired(suite, "sk < :at", before);
  }

  retiredSince(suite: string, since: Date): Promise<Retired[]> {
    return this.queryRetired(suite, "sk >= :at", since);
  }

  private async queryRetired(suite: string, condition: string, at: Date): Promise<Retired[]> {
    const out: Retired[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: `pk = :pk AND ${condition}`,
          ExpressionAttributeValues: { ":pk": S(retiredPk(suite)), ":at": S(at.toISOString()) },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) {
        const sk = item.sk?.S ?? "";
        const at = sk.indexOf("#");
        const ids = item.ids?.SS;
        out.push({
          at: sk.slice(0, at),
          key: sk.slice(at + 1),
          ...(ids ? { ids: ids.sort() } : {}),
        });
      }
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async forgetRetired(suite: string, retired: readonly Retired[]): Promise<void> {
    await this.batchWrite(
      retired.map((r) => ({
        DeleteRequest: { Key: { pk: S(retiredPk(suite)), sk: S(`${r.at}#${r.key}`) } },
      })),
    );
  }

  private async batchWrite(
    requests: NonNullable<
      ConstructorParameters<typeof BatchWriteItemCommand>[0]["RequestItems"]
    >[string],
  ): Promise<void> {
    for (let i = 0; i < requests.length; i += 25) {
      let pending = requests.slice(i, i + 25);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 8) throw new StateError("state table keeps returning unprocessed items");
        const result = await this.client.send(
          new BatchWriteItemCommand({ RequestItems: { [this.tableName]: pending } }),
        );
        pending = result.UnprocessedItems?.[this.tableName] ?? [];
        if (pending.length) await sleep(backoffDelay(attempt + 1, 50, 2000, Math.random()));
      }
    }
  }
}
