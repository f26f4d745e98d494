// The stream consumer: one DynamoDB Streams batch in, a partial batch response out.
import { handleStreamBatch } from "@app/core/publish";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import { logger, publisher, settings } from "./resources";

export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const { batchItemFailures } = await handleStreamBatch(
    await publisher(),
    event,
    settings(),
    logger,
  );
  return { batchItemFailures };
}
