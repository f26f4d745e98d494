// The embedded local stage: DynamoDB Local, s3rver, a stream poller with Lambda's semantics
// and a Lambda-invoke endpoint, all driving the very same handlers as the cloud. It sets the
// SST_RESOURCE_* and AWS_ENDPOINT_URL_* variables `sst shell` sets, so scripts and handlers
// have one code path.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { join, resolve } from "node:path";
import { type LoadedConfig, loadConfig } from "@app/core/config";
import type { Logger } from "@app/core/log";
import { ensureStateTable, publisherSettings } from "@app/core/publish";
import { toRecord } from "@app/core/record";
import { nextVersion, setupPackageRecord } from "@app/core/setup";
import { exportKeyring, generateSigningKey, loadSigningKeys } from "@app/core/signing";
import { ensureTable, PackageStore } from "@app/core/store";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from "aws-lambda";
import * as v from "valibot";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "./dynamodb-local";
import { startLocalPoller } from "./poller";
import { assertPortFree } from "./ports";
import { LOCAL_S3_ENV, startS3Local } from "./s3-local";
import { startStreamPoller } from "./stream-poller";

export const LOCAL_NAMES = {
  packagesTable: "kiro-apt-local-packages",
  stateTable: "kiro-apt-local-publisher-state",
  bucket: "kiro-apt-local",
  rebuildFunction: "kiro-apt-local-rebuild",
} as const;

export const stackFileSchema = v.strictObject({
  stage: v.literal("local"),
  region: v.string(),
  credentials: v.strictObject({ accessKeyId: v.string(), secretAccessKey: v.string() }),
  endpoints: v.strictObject({ dynamodb: v.string(), s3: v.string(), lambda: v.string() }),
  tables: v.strictObject({ packages: v.string(), publisherState: v.string() }),
  bucket: v.string(),
  rebuildFunction: v.string(),
  repoUrl: v.string(),
  publicKey: v.strictObject({ gpg: v.string(), asc: v.string() }),
  signingKeyFile: v.string(),
  pid: v.number(),
});
export type StackFile = v.InferOutput<typeof stackFileSchema>;

/** The environment `sst shell` would give a script, for this local stack. */
export function stackEnvironment(
  stack: StackFile,
  signingKey: string,
  settingsJson: string,
): Record<string, string> {
  const resource = (value: object) => JSON.stringify(value);
  return {
    SST_RESOURCE_App: resource({ name: "kiro-apt", stage: "local" }),
    SST_RESOURCE_Packages: resource({ name: stack.tables.packages, type: "sst.aws.Dynamo" }),
    SST_RESOURCE_PublisherState: resource({
      name: stack.tables.publisherState,
      type: "sst.aws.Dynamo",
    }),
    SST_RESOURCE_Repository: resource({ name: stack.bucket, type: "sst.aws.Bucket" }),
    SST_RESOURCE_SigningKey: resource({ value: signingKey, type: "sst.sst.Secret" }),
    SST_RESOURCE_Rebuild: resource({ name: stack.rebuildFunction, type: "sst.aws.Function" }),
    PUBLISHER_SETTINGS: settingsJson,
    AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: stack.endpoints.s3,
    AWS_ENDPOINT_URL_LAMBDA: stack.endpoints.lambda,
    AWS_ACCESS_KEY_ID: stack.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack.credentials.secretAccessKey,
    AWS_REGION: stack.region,
    // AWS CLI v1 reads only this one.
    AWS_DEFAULT_REGION: stack.region,
    ...LOCAL_S3_ENV,
  };
}

export interface StackOptions {
  readonly root: string;
  readonly dataDir: string;
  readonly port: number;
  readonly dynamodbPort: number;
  readonly lambdaPort: number;
  readonly logger: Logger;
  /** Called if a child dies on its own (the stack is then useless): stop and exit. */
  readonly onFatal?: (error: Error) => void;
  /** The local S3's store (s3-local.ts); only the apt load benchmark picks s3rver's own. */
  readonly s3Store?: "atomic" | "s3rver";
}

export interface RunningStack {
  readonly stack: StackFile;
  readonly config: LoadedConfig;
  /** Resolves when the poller has caught up with everything written so far. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts everything; on any failure, stops what it started and rethrows. */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const { logger } = options;
  const stops: { what: string; stop: () => Promise<void> }[] = [];
  let stopping = false;
  const stopAll = async () => {
    stopping = true;
    for (const { what, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        logger.error({ err: error }, `could not stop ${what}`);
      }
    }
    stops.length = 0;
  };
  try {
    const config = await loadConfig(options.root, "local", { warn: (m) => logger.warn(m) });
    for (const port of [options.port, options.dynamodbPort, options.lambdaPort])
      await assertPortFree(port);
    const data = resolve(options.dataDir);
    await mkdir(data, { recursive: true });

    const ddb = await startDynamoDbLocal({
      port: options.dynamodbPort,
      dbPath: join(data, "dynamodb"),
    });
    stops.push({ what: "DynamoDB Local", stop: () => ddb.stop() });
    void ddb.exited.then(({ code, signal }) => {
      if (!stopping) {
        options.onFatal?.(
          new Error(`DynamoDB Local exited on its own (code ${code}, signal ${signal})`),
        );
      }
    });
    const s3 = await startS3Local({
      port: options.port,
      directory: join(data, "s3"),
      buckets: [LOCAL_NAMES.bucket],
      store: options.s3Store,
    });
    stops.push({ what: "s3rver", stop: () => s3.stop() });
    logger.info({ dynamodb: ddb.endpoint, s3: s3.endpoint }, "servers started");

    const client = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    await ensureTable(client, LOCAL_NAMES.packagesTable);
    await ensureStateTable(client, LOCAL_NAMES.stateTable);

    const signingKeyFile = join(data, "signing-key.asc");
    const signingKey = await localSigningKey(signingKeyFile, logger);
    const keyring = await exportKeyring(await loadSigningKeys(signingKey));
    const publicKey = {
      gpg: join(data, "kiro-archive-keyring.gpg"),
      asc: join(data, "kiro-archive-keyring.asc"),
    };
    await writeFile(publicKey.gpg, keyring.binary);
    await writeFile(publicKey.asc, keyring.armored);

    const repoUrl = `${s3.endpoint}/${LOCAL_NAMES.bucket}`;
    const settingsJson = JSON.stringify(publisherSettings(config, repoUrl));
    const stack: StackFile = {
      stage: "local",
      region: LOCAL_REGION,
      // Field by field: the SDK marks credential objects it has used with a `$source`.
      credentials: {
        accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
        secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
      },
      endpoints: {
        dynamodb: ddb.endpoint,
        s3: s3.endpoint,
        lambda: `http://127.0.0.1:${options.lambdaPort}`,
      },
      tables: { packages: LOCAL_NAMES.packagesTable, publisherState: LOCAL_NAMES.stateTable },
      bucket: LOCAL_NAMES.bucket,
      rebuildFunction: LOCAL_NAMES.rebuildFunction,
      repoUrl,
      publicKey,
      signingKeyFile,
      pid: process.pid,
    };
    // The handlers read their environment like a Lambda does: set it before loading them.
    Object.assign(process.env, stackEnvironment(stack, signingKey, settingsJson));
    const publish = await import("../../../functions/src/publish");
    const rebuild = await import("../../../functions/src/rebuild");

    const lambda = await startLambdaEndpoint(
      options.lambdaPort,
      {
        [LOCAL_NAMES.rebuildFunction]: (payload) => rebuild.handler(payload),
      },
      logger,
    );
    stops.push({ what: "the Lambda endpoint", stop: () => close(lambda) });

    // Start from what the table holds (it survives restarts): a rebuild also writes the root
    // files, and publishes an empty, signed repository on a first start.
    const publisher = await (await import("../../../functions/src/resources")).publisher();
    const published = await publisher.rebuild();
    logger.info({ published: published.published }, "repository published from the table");

    const poller = startStreamPoller({
      client,
      tableName: LOCAL_NAMES.packagesTable,
      handler: (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
        publish.handler(event),
      checkpointFile: join(data, "stream-checkpoint.json"),
      deadLetterFile: join(data, "dead-letters.jsonl"),
      batchSize: 100,
      batchWindowMs: 50,
      maxRetries: 3,
      pollIntervalMs: 100,
      logger,
    });
    stops.push({ what: "the stream poller", stop: () => poller.stop() });
    const upstream = await startLocalPoller(config, logger);
    stops.push({ what: "the upstream poller", stop: () => upstream.stop() });

    // An empty stage gets its setup package, so the repository is installable at once. It is
    // written like any record: the stream publishes it.
    const store = new PackageStore({
      client: new DynamoDBClient({
        endpoint: ddb.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
        maxAttempts: 1,
      }),
      tableName: LOCAL_NAMES.packagesTable,
      logger,
    });
    const setup = [...config.packages.values()].find((p) => p.source.type === "build");
    if (setup !== undefined && (await store.versionsOf(setup.name)).length === 0) {
      const record = setupPackageRecord({
        pkg: setup,
        stage: { ...config.stage, repo_url: repoUrl },
        keyring: Uint8Array.from(keyring.binary),
        version:
          setup.source.type === "build" && setup.source.version
            ? setup.source.version
            : nextVersion([]),
        now: new Date(),
      });
      await store.put(toRecord(record));
      logger.info({ id: record.package_id }, "recorded the setup package for the local stage");
    }

    await writeFile(join(data, "stack.json"), `${JSON.stringify(stack, null, 2)}\n`);
    return { stack, config, idle: () => poller.idle(), stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The local signing key: generated on first start, kept (mode 600) in the data directory. */
async function localSigningKey(file: string, logger: Logger): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  const key = await generateSigningKey({
    name: "Kiro local repository",
    email: "local@kiro.invalid",
  });
  await writeFile(file, key.privateKeyArmored, { mode: 0o600 });
  await chmod(file, 0o600);
  logger.info({ fingerprint: key.fingerprint }, "generated the local signing key");
  return key.privateKeyArmored;
}

type Invocable = (payload: unknown) => Promise<unknown>;

/** Answers Lambda's Invoke API (`POST /2015-03-31/functions/<name>/invocations`). */
function startLambdaEndpoint(
  port: number,
  functions: Record<string, Invocable>,
  logger: Logger,
): Promise<Server> {
  const server = createServer((req, res) => {
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? "");
    const fn = match ? functions[decodeURIComponent(match[1] as string)] : undefined;
    if (req.method !== "POST" || fn === undefined) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(JSON.stringify({ Type: "User", message: `Function not found: ${req.url}` }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let payload: unknown;
      try {
        payload = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        payload = undefined;
      }
      fn(payload).then(
        (result) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(result ?? null));
        },
        (error: unknown) => {
          logger.error({ err: error }, "local function failed");
          const e = error instanceof Error ? error : new Error(String(error));
          res.writeHead(200, {
            "content-type": "application/json",
            "x-amz-function-error": "Unhandled",
          });
          res.end(JSON.stringify({ errorType: e.name, errorMessage: e.message }));
        },
      );
    });
  });
  return new Promise((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolveListen(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
}
