/**
 * The three DynamoDB Streams calls the local poller needs (DescribeStream, GetShardIterator,
 * GetRecords), sent through an ordinary `DynamoDBClient`.
 *
 * Why not `@aws-sdk/client-dynamodb-streams`: it is not a dependency, and the Streams API is the
 * same JSON 1.0 protocol, signing name (`dynamodb`) and — on DynamoDB Local — the same endpoint
 * as DynamoDB itself; only the `X-Amz-Target` prefix differs (`DynamoDBStreams_20120810`). So a
 * stock command (DescribeLimits, which takes no input) is re-targeted by two middlewares on that
 * one command: after serialisation the target header and JSON body are replaced (before the
 * client signs, so SigV4, credentials, retries and the endpoint stay the SDK's own), and the raw
 * JSON response is taken before the command's own deserialiser sees it. Error responses pass
 * through untouched, so errors arrive as SDK exceptions whose `name` is the service's error
 * type (`ResourceNotFoundException`, `ExpiredIteratorException`, `TrimmedDataAccessException`).
 *
 * In AWS the Streams API lives on its own endpoint (streams.dynamodb.<region>.amazonaws.com):
 * this module is for DynamoDB Local, where Lambda's event source mapping does not exist.
 * Responses are validated; records keep every field the stream sends, in the shape Lambda
 * passes on (`ApproximateCreationDateTime` stays epoch seconds).
 */
import { DescribeLimitsCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { AttributeValue } from "aws-lambda";
import * as v from "valibot";

const AttributeValueSchema: v.GenericSchema<AttributeValue> = v.lazy(() =>
  v.union([
    v.strictObject({ S: v.string() }),
    v.strictObject({ N: v.string() }),
    v.strictObject({ B: v.string() }),
    v.strictObject({ BOOL: v.boolean() }),
    v.strictObject({ NULL: v.boolean() }),
    v.strictObject({ SS: v.array(v.string()) }),
    v.strictObject({ NS: v.array(v.string()) }),
    v.strictObject({ BS: v.array(v.string()) }),
    v.strictObject({ L: v.array(AttributeValueSchema) }),
    v.strictObject({ M: v.record(v.string(), AttributeValueSchema) }),
  ]),
);
const ItemSchema = v.record(v.string(), AttributeValueSchema);

export const SequenceNumberSchema = v.pipe(
  v.string(),
  v.regex(/^\d{1,64}$/, "a sequence number is digits"),
);
const SequenceNumber = SequenceNumberSchema;

/** The API's own constraint on shard ids (so never `__proto__` and the like either). */
export const ShardIdSchema = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_.-]{28,65}$/, "a shard id is 28-65 of A-Z a-z 0-9 _ . -"),
);

/** One stream record as GetRecords returns it (and as Lambda hands it on). */
export const StreamRecordSchema = v.looseObject({
  eventID: v.string(),
  eventName: v.picklist(["INSERT", "MODIFY", "REMOVE"]),
  eventVersion: v.string(),
  eventSource: v.string(),
  awsRegion: v.string(),
  dynamodb: v.looseObject({
    ApproximateCreationDateTime: v.optional(v.number()),
    Keys: ItemSchema,
    NewImage: v.optional(ItemSchema),
    OldImage: v.optional(ItemSchema),
    SequenceNumber,
    SizeBytes: v.number(),
    StreamViewType: v.picklist(["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"]),
  }),
  userIdentity: v.optional(v.looseObject({ type: v.string(), principalId: v.string() })),
});
export type StreamRecord = v.InferOutput<typeof StreamRecordSchema>;

const ShardSchema = v.object({
  ShardId: ShardIdSchema,
  ParentShardId: v.optional(ShardIdSchema),
  SequenceNumberRange: v.optional(
    v.object({
      StartingSequenceNumber: v.optional(SequenceNumber),
      EndingSequenceNumber: v.optional(SequenceNumber),
    }),
  ),
});
export type Shard = v.InferOutput<typeof ShardSchema>;

const DescribeStreamSchema = v.object({
  StreamDescription: v.object({
    StreamArn: v.string(),
    StreamStatus: v.optional(v.string()),
    StreamViewType: v.optional(v.string()),
    Shards: v.optional(v.array(ShardSchema), []),
    LastEvaluatedShardId: v.optional(v.string()),
  }),
});

const GetShardIteratorSchema = v.object({ ShardIterator: v.optional(v.string()) });

const GetRecordsSchema = v.object({
  Records: v.optional(v.array(StreamRecordSchema), []),
  // Absent (or null) once a closed shard is read to its end.
  NextShardIterator: v.optional(v.nullable(v.string())),
});

export type ShardIteratorType =
  | "TRIM_HORIZON"
  | "LATEST"
  | "AT_SEQUENCE_NUMBER"
  | "AFTER_SEQUENCE_NUMBER";

export interface DynamoDbStreams {
  /** Every shard of the stream (follows LastEvaluatedShardId). */
  listShards(streamArn: string): Promise<Shard[]>;
  getShardIterator(input: {
    StreamArn: string;
    ShardId: string;
    ShardIteratorType: ShardIteratorType;
    SequenceNumber?: string;
  }): Promise<string>;
  getRecords(input: {
    ShardIterator: string;
    Limit?: number;
  }): Promise<{ records: StreamRecord[]; nextShardIterator: string | undefined }>;
}

interface RawRequest {
  headers: Record<string, string>;
  body: unknown;
}
function isRawRequest(value: unknown): value is RawRequest {
  return typeof value === "object" && value !== null && "headers" in value && "body" in value;
}
interface RawResponse {
  statusCode: number;
  body: unknown;
}
function isRawResponse(value: unknown): value is RawResponse {
  return (
    typeof value === "object" &&
    value !== null &&
    "statusCode" in value &&
    typeof value.statusCode === "number" &&
    "body" in value
  );
}

async function readBody(body: unknown): Promise<string> {
  if (typeof body === "string") return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString("utf8");
  if (typeof body === "object" && body !== null && Symbol.asyncIterator in body) {
    const chunks: Buffer[] = [];
    for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
      chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
    }
    return Buffer.concat(chunks).toString("utf8");
  }
  throw new Error("DynamoDB Streams: unreadable response body");
}

/** Sends one Streams operation; returns its validated JSON output. */
async function call<S extends v.GenericSchema>(
  client: DynamoDBClient,
  operation: "DescribeStream" | "GetShardIterator" | "GetRecords",
  input: object,
  schema: S,
): Promise<v.InferOutput<S>> {
  const command = new DescribeLimitsCommand({});
  let raw: string | undefined;
  command.middlewareStack.add(
    (next) => async (args) => {
      if (isRawRequest(args.request)) {
        args.request.headers["x-amz-target"] = `DynamoDBStreams_20120810.${operation}`;
        args.request.body = JSON.stringify(input);
      }
      return next(args);
    },
    { step: "serialize", priority: "low", name: "dynamoDbStreamsSerialize" },
  );
  command.middlewareStack.add(
    (next) => async (args) => {
      const output = await next(args);
      const response = output.response;
      if (isRawResponse(response) && response.statusCode >= 200 && response.statusCode < 300) {
        raw = await readBody(response.body);
        // What DescribeLimits' own deserialiser then reads: an empty, valid output.
        response.body = new TextEncoder().encode("{}");
      }
      return output;
    },
    { step: "deserialize", priority: "low", name: "dynamoDbStreamsDeserialize" },
  );
  await client.send(command);
  if (raw === undefined) throw new Error(`DynamoDB Streams ${operation}: no response body`);
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new Error(`DynamoDB Streams ${operation}: response is not JSON: ${raw.slice(0, 200)}`);
  }
  const parsed = v.safeParse(schema, json);
  if (!parsed.success) {
    throw new Error(
      `DynamoDB Streams ${operation}: unexpected response: ${v.summarize(parsed.issues)}`,
    );
  }
  return parsed.output;
}

export function dynamoDbStreams(client: DynamoDBClient): DynamoDbStreams {
  return {
    async listShards(streamArn) {
      const shards: Shard[] = [];
      let start: string | undefined;
      do {
        const { StreamDescription } = await call(
          client,
          "DescribeStream",
          {
            StreamArn: streamArn,
            ...(start === undefined ? {} : { ExclusiveStartShardId: start }),
          },
          DescribeStreamSchema,
        );
        shards.push(...StreamDescription.Shards);
        start = StreamDescription.LastEvaluatedShardId;
      } while (start !== undefined);
      return shards;
    },
    async getShardIterator(input) {
      const { ShardIterator } = await call(
        client,
        "GetShardIterator",
        input,
        GetShardIteratorSchema,
      );
      if (ShardIterator === undefined) {
        throw new Error(
          `DynamoDB Streams GetShardIterator: no iterator for shard ${input.ShardId}`,
        );
      }
      return ShardIterator;
    },
    async getRecords(input) {
      const { Records, NextShardIterator } = await call(
        client,
        "GetRecords",
        input,
        GetRecordsSchema,
      );
      return { records: Records, nextShardIterator: NextShardIterator ?? undefined };
    },
  };
}
