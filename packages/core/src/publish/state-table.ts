// The publisher state table's definition, apart from its client (dynamo-state.ts): the SST stack
// (stacks/storage.ts) imports the keys from here without loading the publisher, and the local
// stage and tests create the same table from createStateTableInput.
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  waitUntilTableExists,
} from "@aws-sdk/client-dynamodb";

export const STATE_TABLE = { partitionKey: "pk", sortKey: "sk" } as const;

export function createStateTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: "PAY_PER_REQUEST",
    AttributeDefinitions: [
      { AttributeName: STATE_TABLE.partitionKey, AttributeType: "S" },
      { AttributeName: STATE_TABLE.sortKey, AttributeType: "S" },
    ],
    KeySchema: [
      { AttributeName: STATE_TABLE.partitionKey, KeyType: "HASH" },
      { AttributeName: STATE_TABLE.sortKey, KeyType: "RANGE" },
    ],
  };
}

/** Creates the state table if it does not exist (local stage and tests). */
export async function ensureStateTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new DescribeTableCommand({ TableName: tableName }));
    return;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  try {
    await client.send(new CreateTableCommand(createStateTableInput(tableName)));
  } catch (error) {
    if ((error as Error).name !== "ResourceInUseException") throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60 }, { TableName: tableName });
}
