// The package table's access layer. Every DynamoDB call goes through one retry wrapper (logged
// with the operation and the key, never the client's configuration), and every item that comes
// back is parsed: callers get PackageRecords or a report naming the key and every failed field.
//
//     const store = new PackageStore({ client, tableName, logger });
//     await store.put(record);              // "created" | "unchanged" | throws VersionExistsError
//     const kiro = await store.newestOf("kiro");
//
// Decisions:
// - put writes a version once (condition attribute_not_exists(package_id)). When the id exists,
//   the stored item (returned by the failed condition itself, so no second read can race) is
//   compared with the new record by conflictingAttributes(): the same published data is
//   "unchanged" and nothing is written, the first write winning entirely (its
//   processed_timestamp and provenance stay, and no stream record is emitted, so re-running a
//   poller or a migration republishes nothing). Different data throws VersionExistsError.
//   An invalid stored item is never overwritten either: VersionExistsError with its issues.
// - A put retried after a network failure may find its own first write: it then says
//   "unchanged" where "created" happened. Both mean: this id now holds exactly these data.
// - get and getMany read consistently by default (the table is the truth and is small); scans
//   read consistently too. versionsOf reads the GSI, which DynamoDB only offers eventually
//   consistent: a record put a moment ago may be missing from it for a moment.
// - Several architectures at the newest version: newestOf returns the smallest architecture
//   name in byte order (`all` < `amd64` < `arm64`), then the smallest package_id, so the answer
//   never depends on scan order; pass { architecture } to choose one.
// - Items that fail validation never reach versionsOf/newestOf/newestOfEach results; each is
//   logged (warn) with its key and issues. scan() and all() return them as { ok: false }.
import {
  type AttributeValue,
  BatchGetItemCommand,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { type Logger, pino } from "pino";
import * as v from "valibot";
import {
  type Item,
  itemToRecord,
  type PackageRecord,
  packageNameSchema,
  type RecordIssue,
  type RecordResult,
  recordToItem,
} from "../record";
import { byteOrder, compareRecords, newestRecord } from "../record/order";
import { type PinnedFile, pinnedFileSchema } from "../record/schema";
import {
  EqualVersionExistsError,
  PinnedMismatchError,
  RecordNotFoundError,
  StoreError,
  type StoreOperation,
  TransientError,
  VersionExistsError,
} from "./errors";
import { describeError, isTransientAwsError, RetryExhaustedError, withRetry } from "./retry";
import { PACKAGE_TABLE } from "./table";

/**
 * Where an item came from or when it was processed. These may legitimately differ when the same
 * version is written again (a poller re-run, a migration after the poller, a rebuilt build
 * record), so they never make a put a conflict. `source` is here too: a build record and a
 * file-backed one still conflict, because only a build record carries `contents`.
 */
export const PROVENANCE_ATTRIBUTES: ReadonlySet<string> = new Set([
  "processed_timestamp",
  "source",
  "notes",
  "pub_date",
  "deb_url",
  "actual_filename",
  "certificate_url",
  "signature_url",
]);

/** The pool file of a record: what pinFile sets. */
export const FILE_ATTRIBUTES = [
  "filename",
  "file_size",
  "md5_hash",
  "sha1_hash",
  "sha256_hash",
  "sha512_hash",
] as const;
const FILE_ATTRIBUTE_SET: ReadonlySet<string> = new Set(FILE_ATTRIBUTES);

/**
 * The attributes on which two records of the same id disagree, sorted; empty means the same
 * published version. Provenance is ignored. File attributes are compared where both records
 * have them: a non-build record always has them all, so its bytes are always compared; a build
 * record has none until the publisher pins its file, and an unpinned build record matches its
 * pinned self, whose bytes follow from its contents, which are compared.
 * Everything else (control fields, control_extra, contents, scripts, conffiles, suite,
 * component) must be equal, present or absent alike: it is what the index or the .deb shows.
 */
export function conflictingAttributes(stored: object, incoming: object): string[] {
  const storedAttributes = stored as Readonly<Record<string, unknown>>;
  const incomingAttributes = incoming as Readonly<Record<string, unknown>>;
  const names = new Set([...Object.keys(stored), ...Object.keys(incoming)]);
  const conflicts: string[] = [];
  for (const name of names) {
    if (PROVENANCE_ATTRIBUTES.has(name)) continue;
    const a = storedAttributes[name];
    const b = incomingAttributes[name];
    if (FILE_ATTRIBUTE_SET.has(name) && (a === undefined || b === undefined)) continue;
    if (!sameValue(a, b)) conflicts.push(name);
  }
  return conflicts.sort(byteOrder);
}

/** Structural equality of unmarshalled values: bytes by content, maps regardless of order. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (ArrayBuffer.isView(a) || ArrayBuffer.isView(b)) {
    if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b)) return false;
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => sameValue(x, b[i]));
  }
  if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    const keys = new Set([...Object.keys(ra), ...Object.keys(rb)]);
    for (const key of keys) if (!sameValue(ra[key], rb[key])) return false;
    return true;
  }
  return false;
}

const retrySettingsSchema = v.strictObject({
  /** Retries after the first attempt (default 3). */
  retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(20))),
  /** First retry's delay cap in ms (default 100); doubles per retry. */
  baseMs: v.optional(v.pipe(v.number(), v.minValue(0))),
  /** Largest delay in ms (default 5000). */
  maxMs: v.optional(v.pipe(v.number(), v.minValue(0))),
  /** Replaces the real timer (tests). */
  sleep: v.optional(
    v.custom<(ms: number) => Promise<void>>((s) => typeof s === "function", "must be a function"),
  ),
});

const optionsSchema = v.strictObject({
  /** Build it with `maxAttempts: 1`: the store retries, and logs why (see retry.ts). */
  client: v.custom<DynamoDBClient>(
    (c) =>
      typeof c === "object" && c !== null && typeof (c as { send?: unknown }).send === "function",
    "must be a DynamoDBClient",
  ),
  tableName: v.pipe(
    v.string(),
    v.regex(/^[A-Za-z0-9_.-]{3,255}$/, "must be a DynamoDB table name (3-255 of A-Za-z0-9_.-)"),
  ),
  logger: v.optional(
    v.custom<Logger>(
      (l) =>
        typeof l === "object" && l !== null && typeof (l as { warn?: unknown }).warn === "function",
      "must be a pino logger",
    ),
  ),
  retry: v.optional(retrySettingsSchema),
  /**
   * Items per Scan/Query request (DynamoDB's Limit). Unset, DynamoDB fills 1 MB pages; a small
   * value spreads a scan over more, smaller requests (and lets tests exercise pagination).
   */
  pageSize: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
export type PackageStoreOptions = v.InferInput<typeof optionsSchema>;

export interface ScanOptions {
  /** Parallel scan segments (default 1). Results of the segments interleave. */
  readonly segments?: number;
}

/** Not a failure of DynamoDB: BatchGetItem left keys for later. Retried with backoff. */
class UnprocessedKeysError extends Error {
  constructor(readonly ids: readonly string[]) {
    const shown = ids.slice(0, 5).map((id) => JSON.stringify(id));
    super(
      `${ids.length} keys left unprocessed (${shown.join(", ")}${ids.length > 5 ? ", …" : ""})`,
    );
    this.name = "UnprocessedKeysError";
  }
}

const BATCH_GET_LIMIT = 100;
const MAX_KEY_BYTES = 2048;

function isConditionFailure(error: unknown): error is { Item?: Item } {
  return (
    typeof error === "object" &&
    error !== null &&
    (error as { name?: unknown }).name === "ConditionalCheckFailedException"
  );
}

/** What a log line may say about an error: never the object (it can carry request details). */
function errorSummary(error: unknown): Record<string, unknown> {
  if (typeof error !== "object" || error === null) return { message: String(error) };
  const e = error as { name?: unknown; message?: unknown; code?: unknown; $metadata?: unknown };
  const status = (e.$metadata as { httpStatusCode?: unknown } | undefined)?.httpStatusCode;
  return {
    name: typeof e.name === "string" ? e.name : undefined,
    message: typeof e.message === "string" ? e.message : undefined,
    code: typeof e.code === "string" ? e.code : undefined,
    status: typeof status === "number" ? status : undefined,
  };
}

/** Unmarshalls an item for comparison; undefined if it is not a DynamoDB item we can read. */
function plainItem(item: Item): Record<string, unknown> | undefined {
  try {
    return unmarshall(item);
  } catch {
    return undefined;
  }
}

export class PackageStore {
  readonly tableName: string;
  readonly #client: DynamoDBClient;
  readonly #log: Logger;
  readonly #retry: v.InferOutput<typeof retrySettingsSchema>;
  readonly #pageSize: number | undefined;

  constructor(options: PackageStoreOptions) {
    const parsed = v.safeParse(optionsSchema, options);
    if (!parsed.success) {
      throw new TypeError(`PackageStore: invalid options: ${describeIssues(parsed.issues)}`);
    }
    const { client, tableName, logger, retry, pageSize } = parsed.output;
    this.#client = client;
    this.tableName = tableName;
    this.#log = (logger ?? pino({ name: "package-store" })).child({ table: tableName });
    this.#retry = retry ?? {};
    this.#pageSize = pageSize;
  }

  /**
   * Writes a new version. "created" when the id was free; "unchanged" when it holds the same
   * published data (nothing is written: see conflictingAttributes for what "same" means).
   * @throws VersionExistsError when it holds other data, or an invalid item.
   */
  async put(record: PackageRecord): Promise<"created" | "unchanged"> {
    const id = record.package_id;
    const outcome = await this.#call("put", id, async () => {
      try {
        await this.#client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: recordToItem(record),
            ConditionExpression: "attribute_not_exists(#id)",
            ExpressionAttributeNames: { "#id": PACKAGE_TABLE.partitionKey },
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { created: true as const };
      } catch (error) {
        if (isConditionFailure(error)) return { created: false as const, stored: error.Item };
        throw error;
      }
    });
    if (outcome.created) {
      this.#log.debug({ operation: "put", id }, "record created");
      return "created";
    }
    // DynamoDB returns the item that failed the condition; read it only where it does not.
    const stored = outcome.stored ?? (await this.#getItem("put", id, true));
    if (stored === undefined) {
      throw new StoreError("put", id, "the stored item vanished during the comparison; retry");
    }
    const parsed = itemToRecord(stored);
    if (!parsed.ok) throw new VersionExistsError(id, ["(invalid item)"], parsed.issues);
    if (parsed.record.version !== record.version) {
      throw new EqualVersionExistsError(id, parsed.record.version, record.version);
    }
    const conflicts = conflictingAttributes(parsed.record, record);
    if (conflicts.length > 0) throw new VersionExistsError(id, conflicts);
    return "unchanged";
  }

  /** One record; undefined when absent. Consistent unless { consistent: false }. */
  async get(
    id: string,
    { consistent = true }: { consistent?: boolean } = {},
  ): Promise<RecordResult | undefined> {
    const item = await this.#getItem("get", id, consistent);
    return item === undefined ? undefined : itemToRecord(item);
  }

  /**
   * Many records by id, consistently, 100 per BatchGetItem; keys DynamoDB leaves unprocessed
   * are asked again with backoff (counted against the same retry limit). Every requested id
   * is a key of the result (in request order, duplicates once), undefined when absent.
   */
  async getMany(ids: readonly string[]): Promise<Map<string, RecordResult | undefined>> {
    const unique = [...new Set(ids)];
    for (const id of unique) checkId("getMany", id);
    const result = new Map<string, RecordResult | undefined>(unique.map((id) => [id, undefined]));
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let pending: Record<string, AttributeValue>[] = unique
        .slice(start, start + BATCH_GET_LIMIT)
        .map((id) => this.#key(id));
      await this.#call(
        "getMany",
        undefined,
        async () => {
          const out = await this.#client.send(
            new BatchGetItemCommand({
              RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
            }),
          );
          for (const item of out.Responses?.[this.tableName] ?? []) {
            const id = item[PACKAGE_TABLE.partitionKey]?.S;
            if (id !== undefined) result.set(id, itemToRecord(item));
          }
          pending = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
          if (pending.length > 0) {
            throw new UnprocessedKeysError(
              pending.map((k) => k[PACKAGE_TABLE.partitionKey]?.S ?? "?"),
            );
          }
        },
        (error) => error instanceof UnprocessedKeysError || isTransientAwsError(error),
      );
    }
    return result;
  }

  /** Every item of the table, parsed, page by page (consistent reads). */
  async *scan({ segments = 1 }: ScanOptions = {}): AsyncGenerator<RecordResult> {
    if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000) {
      throw new StoreError("scan", undefined, `segments must be an integer >= 1, got ${segments}`);
    }
    if (segments === 1) {
      yield* this.#scanSegment(undefined);
      return;
    }
    const parts = Array.from({ length: segments }, (_, i) => this.#scanSegment([i, segments]));
    yield* merge(parts);
  }

  /** The whole table: the valid records and, apart, every invalid item with its issues. */
  async all(options: ScanOptions = {}): Promise<{
    records: PackageRecord[];
    invalid: { key: string; issues: readonly RecordIssue[] }[];
  }> {
    const records: PackageRecord[] = [];
    const invalid: { key: string; issues: readonly RecordIssue[] }[] = [];
    for await (const result of this.scan(options)) {
      if (result.ok) records.push(result.record);
      else invalid.push({ key: result.key, issues: result.issues });
    }
    return { records, invalid };
  }

  /** Every valid record of one package (GSI, eventually consistent), oldest version first. */
  async versionsOf(name: string): Promise<PackageRecord[]> {
    if (!v.is(packageNameSchema, name)) {
      throw new StoreError("versionsOf", name, "not a Debian package name");
    }
    const records: PackageRecord[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const exclusiveStart = start;
      const page = await this.#call("versionsOf", name, () =>
        this.#client.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: PACKAGE_TABLE.gsi.name,
            KeyConditionExpression: "#name = :name",
            ExpressionAttributeNames: { "#name": PACKAGE_TABLE.gsi.partitionKey },
            ExpressionAttributeValues: { ":name": { S: name } },
            ExclusiveStartKey: exclusiveStart,
            Limit: this.#pageSize,
          }),
        ),
      );
      for (const item of page.Items ?? []) {
        const result = itemToRecord(item);
        if (result.ok) records.push(result.record);
        else this.#reportInvalid("versionsOf", result);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return records.sort(compareRecords);
  }

  /** The newest valid record of a package (see newestRecord for ties), optionally of one architecture. */
  async newestOf(
    name: string,
    { architecture }: { architecture?: string } = {},
  ): Promise<PackageRecord | undefined> {
    const records = await this.versionsOf(name);
    return newestRecord(
      architecture === undefined ? records : records.filter((r) => r.architecture === architecture),
    );
  }

  /** The newest valid record of every package in the table, by package name. */
  async newestOfEach({
    architecture,
    ...scanOptions
  }: ScanOptions & { architecture?: string } = {}): Promise<Map<string, PackageRecord>> {
    const newest = new Map<string, PackageRecord>();
    for await (const result of this.scan(scanOptions)) {
      if (!result.ok) {
        this.#reportInvalid("scan", result);
        continue;
      }
      const record = result.record;
      if (architecture !== undefined && record.architecture !== architecture) continue;
      const best = newest.get(record.package_name);
      const winner = best === undefined ? record : newestRecord([best, record]);
      if (winner !== undefined) newest.set(record.package_name, winner);
    }
    return new Map([...newest].sort(([a], [b]) => byteOrder(a, b)));
  }

  /**
   * Records a build record's pool file, once: sets the file attributes only while the item has
   * no sha256_hash. "already" when it is pinned to this very file (every file attribute it has
   * equal to the given one).
   * @throws PinnedMismatchError when pinned to another file; RecordNotFoundError when absent.
   */
  async pinFile(id: string, file: PinnedFile): Promise<"pinned" | "already"> {
    checkId("pinFile", id);
    const parsed = v.safeParse(pinnedFileSchema, file, { abortEarly: false });
    if (!parsed.success) {
      throw new StoreError("pinFile", id, `invalid file: ${describeIssues(parsed.issues)}`);
    }
    const pin = parsed.output;
    const names: Record<string, string> = { "#id": PACKAGE_TABLE.partitionKey };
    const values: Record<string, AttributeValue> = {};
    const sets = FILE_ATTRIBUTES.map((attribute, i) => {
      names[`#f${i}`] = attribute;
      const value = pin[attribute];
      values[`:f${i}`] = typeof value === "number" ? { N: String(value) } : { S: value };
      return `#f${i} = :f${i}`;
    });
    const outcome = await this.#call("pinFile", id, async () => {
      try {
        await this.#client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: this.#key(id),
            UpdateExpression: `SET ${sets.join(", ")}`,
            // #f4 is sha256_hash.
            ConditionExpression: "attribute_exists(#id) AND attribute_not_exists(#f4)",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { pinned: true as const };
      } catch (error) {
        if (isConditionFailure(error)) return { pinned: false as const, stored: error.Item };
        throw error;
      }
    });
    if (outcome.pinned) {
      this.#log.info({ operation: "pinFile", id, sha256: pin.sha256_hash }, "pool file pinned");
      return "pinned";
    }
    const stored = outcome.stored ?? (await this.#getItem("pinFile", id, true));
    if (stored === undefined) throw new RecordNotFoundError("pinFile", id);
    const plain = plainItem(stored) ?? {};
    const differences = FILE_ATTRIBUTES.filter(
      (attribute) => plain[attribute] !== undefined && plain[attribute] !== pin[attribute],
    );
    if (differences.length === 0) return "already";
    throw new PinnedMismatchError(id, differences, String(plain.sha256_hash), pin.sha256_hash);
  }

  /** Deletes a record: "absent" when there was none. */
  async delete(id: string): Promise<"deleted" | "absent"> {
    checkId("delete", id);
    const out = await this.#call("delete", id, () =>
      this.#client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: this.#key(id),
          ReturnValues: "ALL_OLD",
        }),
      ),
    );
    return out.Attributes === undefined ? "absent" : "deleted";
  }

  #key(id: string): Record<string, AttributeValue> {
    return { [PACKAGE_TABLE.partitionKey]: { S: id } };
  }

  async #getItem(operation: StoreOperation, id: string, consistent: boolean) {
    checkId(operation, id);
    const out = await this.#call(operation, id, () =>
      this.#client.send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: this.#key(id),
          ConsistentRead: consistent,
        }),
      ),
    );
    return out.Item;
  }

  async *#scanSegment(segment: [number, number] | undefined): AsyncGenerator<RecordResult> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const exclusiveStart = start;
      const page = await this.#call("scan", undefined, () =>
        this.#client.send(
          new ScanCommand({
            TableName: this.tableName,
            ConsistentRead: true,
            ExclusiveStartKey: exclusiveStart,
            Limit: this.#pageSize,
            Segment: segment?.[0],
            TotalSegments: segment?.[1],
          }),
        ),
      );
      for (const item of page.Items ?? []) yield itemToRecord(item);
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  }

  #reportInvalid(operation: StoreOperation, result: Extract<RecordResult, { ok: false }>) {
    this.#log.warn(
      { operation, key: result.key, issues: result.issues },
      "invalid record skipped: it is never published",
    );
  }

  /**
   * One DynamoDB call with retries. Retryable failures are logged with the operation and key;
   * when they outlast the retries, TransientError; any other failure becomes a StoreError
   * (its cause is the SDK's error).
   */
  async #call<T>(
    operation: StoreOperation,
    id: string | undefined,
    fn: () => Promise<T>,
    isRetryable: (error: unknown) => boolean = isTransientAwsError,
  ): Promise<T> {
    try {
      return await withRetry(fn, {
        ...this.#retry,
        isRetryable,
        onRetry: ({ attempt, delayMs, error }) =>
          this.#log.warn(
            { operation, id, attempt, delayMs: Math.round(delayMs), error: errorSummary(error) },
            "DynamoDB call failed, retrying",
          ),
      });
    } catch (error) {
      if (error instanceof StoreError) throw error;
      if (error instanceof RetryExhaustedError) {
        this.#log.error(
          { operation, id, attempts: error.attempts, error: errorSummary(error.cause) },
          "DynamoDB call failed, giving up",
        );
        throw new TransientError(operation, id, error.attempts, error.cause);
      }
      throw new StoreError(operation, id, describeError(error), { cause: error });
    }
  }
}

/** `field: message; …` for valibot issues. */
function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues.map((issue) => `${v.getDotPath(issue) ?? "(value)"}: ${issue.message}`).join("; ");
}

function checkId(operation: StoreOperation, id: string): void {
  if (typeof id !== "string" || id === "") {
    throw new StoreError(operation, undefined, `a package id must be a non-empty string`);
  }
  if (Buffer.byteLength(id, "utf8") > MAX_KEY_BYTES) {
    throw new StoreError(operation, id, `a package id is at most ${MAX_KEY_BYTES} bytes`);
  }
}

/** Interleaves async iterables as their values arrive; closes the rest when stopped early. */
async function* merge<T>(sources: readonly AsyncIterable<T>[]): AsyncGenerator<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; step: IteratorResult<T> }>>();
  const pull = (index: number) => {
    const iterator = iterators[index];
    if (iterator === undefined) return;
    pending.set(
      index,
      iterator.next().then((step) => ({ index, step })),
    );
  };
  iterators.forEach((_, i) => {
    pull(i);
  });
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      if (step.done) {
        pending.delete(index);
      } else {
        pull(index);
        yield step.value;
      }
    }
  } finally {
    // Stopped early or failed: a pending page may still reject; nobody awaits it any more.
    for (const [index, promise] of pending) {
      promise.catch(() => undefined);
      void iterators[index]?.return?.()?.catch(() => undefined);
    }
  }
}
