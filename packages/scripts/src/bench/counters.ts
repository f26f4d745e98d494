// What the benchmark counts and times around the publisher, without touching it: DynamoDB
// requests (a middleware on the client), and the wall-clock time spent in each dependency
// (proxies over the record source, the state store and the bucket).
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";

export interface DynamoOpCount {
  requests: number;
  /** Items returned (GetItem, BatchGetItem, Query, Scan). */
  items: number;
  /** ConsumedCapacity summed where DynamoDB Local returned it (it does not for every call). */
  capacityUnits: number;
}

export type DynamoCounts = Record<string, DynamoOpCount>;

const CAPACITY_OPS = new Set([
  "GetItemCommand",
  "BatchGetItemCommand",
  "QueryCommand",
  "ScanCommand",
  "PutItemCommand",
  "UpdateItemCommand",
  "DeleteItemCommand",
  "BatchWriteItemCommand",
  "TransactWriteItemsCommand",
  "TransactGetItemsCommand",
]);

interface Capacity {
  CapacityUnits?: number;
}

function capacityOf(value: unknown): number {
  if (Array.isArray(value)) return value.reduce((n: number, c) => n + capacityOf(c), 0);
  if (typeof value === "object" && value !== null) return (value as Capacity).CapacityUnits ?? 0;
  return 0;
}

function itemsOf(op: string, output: Record<string, unknown>): number {
  switch (op) {
    case "GetItemCommand":
      return output.Item === undefined ? 0 : 1;
    case "BatchGetItemCommand": {
      const responses = (output.Responses ?? {}) as Record<string, unknown[]>;
      return Object.values(responses).reduce((n, items) => n + items.length, 0);
    }
    case "QueryCommand":
    case "ScanCommand":
      return typeof output.Count === "number" ? output.Count : 0;
    default:
      return 0;
  }
}

/** Counts every command sent through the clients by operation (once per command call). */
export function countDynamo(clients: readonly DynamoDBClient[]): {
  counts: DynamoCounts;
  reset(): void;
} {
  const counts: DynamoCounts = {};
  for (const client of clients) addCounter(client, counts);
  return {
    counts,
    reset() {
      for (const key of Object.keys(counts)) delete counts[key];
    },
  };
}

function addCounter(client: DynamoDBClient, counts: DynamoCounts): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = context.commandName ?? "UnknownCommand";
      const input = args.input as Record<string, unknown>;
      if (CAPACITY_OPS.has(op) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = "TOTAL";
      }
      const result = await next(args);
      const output = result.output as unknown as Record<string, unknown>;
      const name = op.replace(/Command$/, "");
      const entry = counts[name] ?? { requests: 0, items: 0, capacityUnits: 0 };
      counts[name] = entry;
      entry.requests++;
      entry.items += itemsOf(op, output);
      entry.capacityUnits += capacityOf(output.ConsumedCapacity);
      return result;
    },
    { step: "initialize", name: "benchDynamoCounter" },
  );
}

/** Intervals of wall-clock time per category; overlapping intervals count once. */
export class Timeline {
  private intervals: { category: string; start: number; end: number }[] = [];

  reset(): void {
    this.intervals = [];
  }

  record(category: string, start: number, end: number): void {
    this.intervals.push({ category, start, end });
  }

  async measure<T>(category: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.record(category, start, performance.now());
    }
  }

  /** Milliseconds covered by the categories' intervals (their union). */
  covered(categories?: readonly string[]): number {
    const list = this.intervals
      .filter((i) => categories === undefined || categories.includes(i.category))
      .sort((a, b) => a.start - b.start);
    let total = 0;
    let start = Number.NEGATIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    for (const i of list) {
      if (i.start > end) {
        if (end > start) total += end - start;
        start = i.start;
        end = i.end;
      } else end = Math.max(end, i.end);
    }
    if (end > start) total += end - start;
    return total;
  }

  categories(): string[] {
    return [...new Set(this.intervals.map((i) => i.category))].sort();
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function"
  );
}

/** Each `next()` of an async iterable is one interval (the consumer's work in between is not). */
async function* timedIterable<T>(
  timeline: Timeline,
  category: string,
  source: AsyncIterable<T>,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    const step = await timeline.measure(category, () => iterator.next());
    if (step.done) return;
    yield step.value;
  }
}

/**
 * The same object, with every method call timed under `categoryOf(method)` (methods that map
 * to undefined are not timed). Promises are timed until they settle, async iterables per item.
 */
export function timed<T extends object>(
  target: T,
  timeline: Timeline,
  categoryOf: (method: string) => string | undefined,
): T {
  return new Proxy(target, {
    get(object, property, receiver) {
      const value: unknown = Reflect.get(object, property, receiver);
      if (typeof value !== "function" || typeof property !== "string") return value;
      const category = categoryOf(property);
      if (category === undefined) return value.bind(object);
      return (...args: unknown[]) => {
        const start = performance.now();
        const result: unknown = value.apply(object, args);
        if (result instanceof Promise) {
          return result.finally(() => timeline.record(category, start, performance.now()));
        }
        if (isAsyncIterable(result)) return timedIterable(timeline, category, result);
        return result;
      };
    },
  });
}
