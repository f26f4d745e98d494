// Wires a SourceContext to AWS (or to the local stage, which sets the same endpoints).
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Logger } from "pino";
import { PackageStore } from "../store/store";
import type { SourceContext } from "./run";
import type { SourceSettings } from "./settings";
import { sourcesS3Client } from "./staging";

export function sourceContext(params: {
  readonly settings: SourceSettings;
  readonly packagesTable: string;
  readonly bucket: string;
  readonly logger: Logger;
}): SourceContext {
  const { settings, logger } = params;
  // The store retries (and logs each retry) itself.
  const store = new PackageStore({
    client: new DynamoDBClient({ maxAttempts: 1 }),
    tableName: params.packagesTable,
    logger,
  });
  return {
    stage: settings.stage,
    packages: new Map(settings.packages.map((p) => [p.name, p])),
    target: { bucket: { s3: sourcesS3Client(), name: params.bucket, logger }, store, logger },
  };
}
