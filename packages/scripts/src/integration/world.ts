// A real world for integration tests: DynamoDB Local and s3rver on free ports, the package and
// state tables, a signing key, and helpers to add packages the way writers do (pool file
// first, then the record). Everything started is stopped by `stop()`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { debHashes, readDeb, writeDeb } from "@app/core/debian";
import {
  ensureStateTable,
  Publisher,
  type PublisherSettings,
  publisherDeps,
} from "@app/core/publish";
import {
  fileAttributes,
  type PackageRecord,
  type PackageRecordInput,
  packageId,
  poolPath,
  recordControl,
  toRecord,
} from "@app/core/record";
import { exportKeyring, generateSigningKey } from "@app/core/signing";
import { ensureTable, type PackageStore } from "@app/core/store";
import { type PauseHook, pausingPorts, scratch } from "@app/core/testing";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "../local/dynamodb-local";
import { freePort } from "../local/ports";
import { LOCAL_S3_ENV, localS3ClientConfig, startS3Local } from "../local/s3-local";
import type { StackFile } from "../local/stack";

export interface World {
  readonly repoUrl: string;
  readonly bucket: string;
  readonly keyringFile: string;
  readonly settings: PublisherSettings;
  readonly signingKeys: string;
  readonly store: PackageStore;
  readonly publisher: Publisher;
  readonly s3: S3Client;
  readonly dynamo: DynamoDBClient;
  readonly tables: { packages: string; state: string };
  /** Another publisher on the same table and bucket (concurrency tests). */
  newPublisher(pause?: PauseHook): Promise<Publisher>;
  /** Builds a .deb, uploads it to the pool, and returns its record (not yet stored). */
  manualPackage(
    name: string,
    version: string,
    arch: string,
    extra?: Partial<PackageRecordInput>,
  ): Promise<PackageRecord>;
  stop(): Promise<void>;
}

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });

export async function startWorld(): Promise<World> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const ddb = await startDynamoDbLocal({ port: await freePort() });
    stops.push(() => ddb.stop());
    const bucket = "repo";
    const s3local = await startS3Local({ port: await freePort(), buckets: [bucket] });
    stops.push(() => s3local.stop());
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
      AWS_ENDPOINT_URL_S3: s3local.endpoint,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_REGION: LOCAL_REGION,
      ...LOCAL_S3_ENV,
    });
    const dynamo = new DynamoDBClient({
      endpoint: ddb.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    });
    const s3 = new S3Client(localS3ClientConfig(s3local.endpoint));
    const tables = { packages: "packages", state: "publisher-state" };
    await ensureTable(dynamo, tables.packages);
    await ensureStateTable(dynamo, tables.state);

    const key = await generateSigningKey({ name: "Test Repository", email: "repo@example.org" });
    const { dir, cleanup } = scratch("world-");
    stops.push(async () => cleanup());
    const keyringFile = join(dir, "keyring.gpg");
    writeFileSync(keyringFile, (await exportKeyring([key.publicKeyArmored])).binary);

    const repoUrl = `${s3local.endpoint}/${bucket}`;
    const settings: PublisherSettings = {
      defaultSuite: "stable",
      defaultComponent: "main",
      components: ["main"],
      architectures: ["amd64", "arm64"],
      origin: "Kiro",
      label: "Kiro",
      description: "Kiro packages (test)",
      byHashGraceMs: 3_600_000,
      root: {
        repoPackage: "kiro-repo",
        repoCopyKey: "kiro-repo.deb",
        repoUrl,
        suite: "stable",
        components: ["main"],
        keyring: "kiro-archive-keyring",
        sourcesName: "kiro",
        example: "kiro",
      },
    };
    const make = async (pause?: PauseHook) => {
      const { deps, store } = await publisherDeps({
        packagesTable: tables.packages,
        stateTable: tables.state,
        bucket,
        signingKeys: key.privateKeyArmored,
        settings,
        logger,
      });
      const publisher = new Publisher(pause ? { ...deps, ...pausingPorts(deps, pause) } : deps);
      return { publisher, store };
    };
    const { publisher, store } = await make();
    return {
      repoUrl,
      bucket,
      keyringFile,
      settings,
      signingKeys: key.privateKeyArmored,
      store,
      publisher,
      s3,
      dynamo,
      tables,
      newPublisher: async (pause) => (await make(pause)).publisher,
      async manualPackage(name, version, arch, extra = {}) {
        const fields: PackageRecordInput = {
          package_id: packageId(name, version, arch),
          package_name: name,
          version,
          architecture: arch as PackageRecordInput["architecture"],
          source: "manual",
          maintainer: "Kiro Team <support@kiro.dev>",
          description: `${name} for tests\n Built by the integration test.`,
          section: "devel",
          priority: "optional",
          homepage: "https://kiro.dev",
          processed_timestamp: new Date().toISOString(),
          ...extra,
        };
        const bytes = writeDeb({
          control: recordControl(fields),
          files: [{ path: `/usr/share/doc/${name}/README`, content: `${name} ${version}\n` }],
        });
        const h = debHashes(bytes);
        const filename = poolPath(fields.component ?? "main", name, version, arch);
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: filename,
            Body: bytes,
            ContentType: "application/vnd.debian.binary-package",
          }),
        );
        const installed = readDeb(bytes).control.find((f) => f.name === "Installed-Size")?.value;
        return toRecord({
          ...fields,
          ...(installed === undefined ? {} : { installed_size: Number(installed) }),
          ...fileAttributes(filename, h),
        });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Writes `<dir>/stack.json` naming this world's servers, table and bucket, as `npm start` does,
 * so `npm run shell -- scripts/…` with `KIRO_APT_DATA_DIR=<dir>` runs against it.
 */
export function writeWorldStack(world: World, dir: string): void {
  const keyFile = join(dir, "signing-key.asc");
  writeFileSync(keyFile, world.signingKeys);
  const stack: StackFile = {
    stage: "local",
    region: LOCAL_REGION,
    credentials: {
      accessKeyId: LOCAL_CREDENTIALS.accessKeyId,
      secretAccessKey: LOCAL_CREDENTIALS.secretAccessKey,
    },
    endpoints: {
      dynamodb: process.env.AWS_ENDPOINT_URL_DYNAMODB as string,
      s3: process.env.AWS_ENDPOINT_URL_S3 as string,
      // No local Lambda in a world: a rebuild invoke fails fast.
      lambda: "http://127.0.0.1:1",
    },
    tables: { packages: world.tables.packages, publisherState: world.tables.state },
    bucket: world.bucket,
    rebuildFunction: "rebuild",
    repoUrl: world.repoUrl,
    publicKey: { gpg: join(dir, "k.gpg"), asc: join(dir, "k.asc") },
    signingKeyFile: keyFile,
    pid: process.pid,
  };
  writeFileSync(join(dir, "stack.json"), JSON.stringify(stack));
}
