// The package table's definition, shared by the SST stack (stacks/) and the local stage, so the
// cloud and the local table cannot drift apart.
//
// One item per (name, version, architecture), keyed by `package_id`. The GSI `by_package_name`
// finds every version of one package (what "newest version" and the per-package views need):
// hashing on `package_name` is enough for that, and `package_id` as its sort key gives queries
// a stable, deterministic order for pagination without defining another key attribute (a
// `version` sort key would sort by bytes, not by Debian's rules, so it would buy nothing).
// The stream carries new and old images: the publisher needs the old image of a delete or of a
// record that moved suite/component/architecture to know which indices it leaves.
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
  type TableDescription,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";

export const PACKAGE_TABLE = {
  partitionKey: "package_id",
  /** Every key attribute of the table and its indexes, all strings. */
  attributes: { package_id: "S", package_name: "S" },
  gsi: {
    name: "by_package_name",
    partitionKey: "package_name",
    sortKey: "package_id",
    projection: "ALL",
  },
  stream: "NEW_AND_OLD_IMAGES",
} as const;

/** Everything CreateTable needs: on-demand billing, the GSI, the stream with both images. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const attributes: AttributeDefinition[] = Object.entries(PACKAGE_TABLE.attributes).map(
    ([AttributeName, AttributeType]) => ({ AttributeName, AttributeType }),
  );
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: attributes,
    KeySchema: [{ AttributeName: PACKAGE_TABLE.partitionKey, KeyType: "HASH" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: PACKAGE_TABLE.gsi.name,
        KeySchema: [
          { AttributeName: PACKAGE_TABLE.gsi.partitionKey, KeyType: "HASH" },
          { AttributeName: PACKAGE_TABLE.gsi.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: PACKAGE_TABLE.gsi.projection },
      },
    ],
    StreamSpecification: { StreamEnabled: true, StreamViewType: PACKAGE_TABLE.stream },
  };
}

/**
 * What is wrong with an existing table for our purposes (empty when it fits). An existing table
 * without the stream would silently never publish; one with other keys would fail every write.
 */
export function tableMismatches(table: TableDescription): string[] {
  const problems: string[] = [];
  const keys = (table.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(",");
  if (keys !== `${PACKAGE_TABLE.partitionKey}:HASH`) {
    problems.push(`key schema is ${keys || "(none)"}, expected ${PACKAGE_TABLE.partitionKey}:HASH`);
  }
  const gsi = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === PACKAGE_TABLE.gsi.name);
  if (gsi === undefined) {
    problems.push(`global secondary index ${PACKAGE_TABLE.gsi.name} is missing`);
  } else {
    const gsiKeys = (gsi.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(",");
    const want = `${PACKAGE_TABLE.gsi.partitionKey}:HASH,${PACKAGE_TABLE.gsi.sortKey}:RANGE`;
    if (gsiKeys !== want) {
      problems.push(`index ${PACKAGE_TABLE.gsi.name} has keys ${gsiKeys}, expected ${want}`);
    }
    if (gsi.Projection?.ProjectionType !== PACKAGE_TABLE.gsi.projection) {
      problems.push(
        `index ${PACKAGE_TABLE.gsi.name} projects ${gsi.Projection?.ProjectionType ?? "(unknown)"}, expected ${PACKAGE_TABLE.gsi.projection}`,
      );
    }
  }
  const stream = table.StreamSpecification;
  if (stream?.StreamEnabled !== true || stream.StreamViewType !== PACKAGE_TABLE.stream) {
    problems.push(
      `stream is ${stream?.StreamEnabled ? stream.StreamViewType : "disabled"}, expected ${PACKAGE_TABLE.stream}`,
    );
  }
  return problems;
}

async function describe(client: DynamoDBClient, tableName: string) {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/**
 * Creates the table unless it exists, then waits until it is ACTIVE. Idempotent and safe to run
 * concurrently (a lost creation race is not an error). Throws, naming every difference, if an
 * existing table does not match the definition.
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  { maxWaitTimeSeconds = 300 }: { maxWaitTimeSeconds?: number } = {},
): Promise<{ created: boolean; table: TableDescription }> {
  let created = false;
  if ((await describe(client, tableName)) === undefined) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
      created = true;
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
    }
  }
  await waitUntilTableExists(
    { client, maxWaitTime: maxWaitTimeSeconds, minDelay: 1, maxDelay: 5 },
    { TableName: tableName },
  );
  const table = await describe(client, tableName);
  if (table === undefined)
    throw new Error(`table ${tableName} vanished while it was being created`);
  const problems = tableMismatches(table);
  if (problems.length > 0) {
    throw new Error(`table ${tableName} does not match the package table: ${problems.join("; ")}`);
  }
  return { created, table };
}
