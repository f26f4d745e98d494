// Wires a Publisher to AWS (or to the local stage, which sets the same endpoints and names).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import { assertKeyIds, loadSigningKeys } from "../signing";
import { PackageStore } from "../store";
import { S3ObjectStore } from "./bucket";
import { DynamoStateStore } from "./dynamo-state";
import { Publisher, type PublisherDeps } from "./publisher";
import type { PublisherSettings } from "./settings";

export interface RuntimeParams {
  readonly packagesTable: string;
  readonly stateTable: string;
  readonly bucket: string;
  /** Armored private key(s): several during a rotation. Never logged. */
  readonly signingKeys: string;
  readonly settings: PublisherSettings;
  readonly logger: Logger;
}

/** S3 path-style addressing where an endpoint is set (s3rver answers on 127.0.0.1). */
export function s3Client(): S3Client {
  const local =
    process.env.AWS_ENDPOINT_URL_S3 !== undefined || process.env.AWS_ENDPOINT_URL !== undefined;
  return new S3Client({ forcePathStyle: local, maxAttempts: 4 });
}

export function dynamoClient(maxAttempts = 4): DynamoDBClient {
  return new DynamoDBClient({ maxAttempts });
}

export async function createPublisher(params: RuntimeParams): Promise<{
  publisher: Publisher;
  store: PackageStore;
}> {
  const { deps, store } = await publisherDeps(params);
  return { publisher: new Publisher(deps), store };
}

/** The ports of a cloud publisher (tests wrap them, e.g. to pause between steps). */
export async function publisherDeps(
  params: RuntimeParams,
): Promise<{ deps: PublisherDeps; store: PackageStore }> {
  const dynamo = dynamoClient();
  // The store retries (and logs each retry) itself.
  const store = new PackageStore({
    client: dynamoClient(1),
    tableName: params.packagesTable,
    logger: params.logger,
  });
  const keys = await loadSigningKeys(params.signingKeys);
  assertKeyIds(
    keys.map((k) => k.fingerprint),
    params.settings.keyIds ?? [],
  );
  const deps: PublisherDeps = {
    records: store,
    state: new DynamoStateStore(dynamo, params.stateTable),
    bucket: new S3ObjectStore(s3Client(), params.bucket),
    keys,
    settings: params.settings,
    logger: params.logger,
  };
  return { deps, store };
}
