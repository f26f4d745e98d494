// Our publisher on the local stack (DynamoDB Local + s3rver on free ports): load N records,
// a full rebuild, one-record publications (direct, and end to end through the stream poller),
// with DynamoDB and S3 requests counted and the time split by dependency.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DynamoStateStore,
  ensureStateTable,
  type ObjectStore,
  objectHeaders,
  Publisher,
  type PublisherSettings,
  type PublishReport,
  type RecordSource,
  S3ObjectStore,
  type StateStore,
} from "@app/core/publish";
import type { PackageRecord } from "@app/core/record";
import { type SigningKey, signRelease } from "@app/core/signing";
import { PackageStore } from "@app/core/store";
import { countingObjectStore } from "@app/core/testing";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "../local/dynamodb-local";
import { freePort } from "../local/ports";
import { localS3ClientConfig, startS3Local } from "../local/s3-local";
import { countDynamo, type DynamoCounts, Timeline, timed } from "./counters";
import { type EndToEnd, measureEndToEnd } from "./e2e";
import { extraRecord, poolObjectOf } from "./fixtures";
import { median, onCleanup, progress, round } from "./proc";
import { createPackageTable, loadFixtures, loadPoolObjects } from "./table";

/** Milliseconds per part of an operation; `compute` is what no dependency call covered. */
export type Split = Record<string, number>;

export interface Sample {
  readonly ms: number;
  /**
   * From the first plain index path written to the new InRelease written: how long a client
   * that reads plain paths (no by-hash) can see a new index beside the old InRelease.
   */
  readonly windowMs?: number;
  readonly split: Split;
  readonly dynamo: DynamoCounts;
  readonly s3: Record<string, number>;
}

export interface OursResult {
  readonly n: number;
  readonly loadMs: number;
  /** Uploading the records' pool objects (before the records, as writers do). */
  readonly poolMs: number;
  readonly rebuild: Sample;
  /** Index sizes after the rebuild (binary-amd64): bytes of Packages, .gz, .xz. */
  readonly index: { readonly raw: number; readonly gz: number; readonly xz: number };
  readonly publish: {
    readonly samples: Sample[];
    readonly medianMs: number;
    /** The sample whose time is the median (its counts and split). */
    readonly typical: Sample;
  };
  /** One `Architecture: all` record: it enters every architecture's index. */
  readonly publishAll: Sample;
  /** One publication right after another: it waits for the next second of Last-Modified. */
  readonly backToBack: Sample;
  readonly e2e: EndToEnd;
  /** Signing one Release (InRelease + Release.gpg), measured on its own. */
  readonly signMs: number;
}

const BUCKET = "repo";
const SUITE = "stable";
const SETTLE_MS = 1100;
const logger = pino({ level: process.env.BENCH_LOG_LEVEL ?? "silent" });

function settingsFor(repoUrl: string): PublisherSettings {
  return {
    defaultSuite: SUITE,
    defaultComponent: "main",
    components: ["main"],
    architectures: ["amd64", "arm64"],
    origin: "Kiro",
    label: "Kiro",
    description: "Kiro packages (benchmark)",
    byHashGraceMs: 3_600_000,
    root: {
      repoPackage: "kiro-repo",
      repoCopyKey: "kiro-repo.deb",
      repoUrl,
      suite: SUITE,
      components: ["main"],
      keyring: "kiro-archive-keyring",
      sourcesName: "kiro",
      example: "kiro",
    },
  };
}

const SPLIT_CATEGORIES = ["dynamo records", "dynamo state", "s3 read", "s3 write"] as const;

function splitOf(timeline: Timeline, totalMs: number): Split {
  const split: Split = {};
  for (const c of SPLIT_CATEGORIES) split[c] = round(timeline.covered([c]));
  split["compute (splice, compress, hash, sign)"] = round(
    Math.max(0, totalMs - timeline.covered([...SPLIT_CATEGORIES])),
  );
  return split;
}

export async function benchOurs(
  n: number,
  signingKeys: readonly SigningKey[],
): Promise<OursResult> {
  const work = await mkdtemp(join(tmpdir(), "bench-ours-"));
  const removeWork = onCleanup(() => rm(work, { recursive: true, force: true }));
  const ddb = await startDynamoDbLocal({ port: await freePort() });
  const stopDdb = onCleanup(() => ddb.stop());
  let stopS3: (() => Promise<void>) | undefined;
  let phase = "starting s3rver";
  try {
    const s3local = await startS3Local({
      port: await freePort(),
      buckets: [BUCKET],
      directory: join(work, "s3"),
    });
    stopS3 = onCleanup(() => s3local.stop());
    const clientConfig = {
      endpoint: ddb.endpoint,
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
    };
    const plain = new DynamoDBClient(clientConfig);
    // The store retries itself (maxAttempts 1, as in runtime.ts); the state store's client
    // keeps the SDK's retries. Both are counted.
    const storeClient = new DynamoDBClient({ ...clientConfig, maxAttempts: 1 });
    const stateClient = new DynamoDBClient({ ...clientConfig, maxAttempts: 4 });
    const dynamo = countDynamo([storeClient, stateClient]);
    const s3 = new S3Client(localS3ClientConfig(s3local.endpoint));
    const tables = { packages: "packages", state: "publisher-state" };
    await createPackageTable(plain, tables.packages);
    await ensureStateTable(plain, tables.state);

    // Every record has its pool object: the publisher holds back a record whose file is missing
    // or not its own, so without them the indexes would be empty.
    phase = "uploading pool objects";
    const pool = new S3ObjectStore(s3, BUCKET);
    progress(`  ours: uploading ${n} pool objects (8 in flight)`);
    const poolMs = await loadPoolObjects(pool, n);
    progress(`  ours: uploaded ${n} pool objects in ${(poolMs / 1000).toFixed(1)} s`);

    phase = "loading records";
    progress(`  ours: loading ${n} records into DynamoDB Local (BatchWriteItem, 8 in flight)`);
    const loadMs = await loadFixtures(plain, tables.packages, n);
    progress(`  ours: loaded ${n} records in ${(loadMs / 1000).toFixed(1)} s`);

    const store = new PackageStore({ client: storeClient, tableName: tables.packages, logger });
    const bucket = countingObjectStore(new S3ObjectStore(s3, BUCKET));
    const timeline = new Timeline();
    const window = plainToInRelease();
    const settings = settingsFor(`${s3local.endpoint}/${BUCKET}`);
    const publisher = new Publisher({
      records: timed<RecordSource>(store, timeline, () => "dynamo records"),
      state: timed<StateStore>(
        new DynamoStateStore(stateClient, tables.state),
        timeline,
        () => "dynamo state",
      ),
      bucket: timed<ObjectStore>(window.watch(bucket.store), timeline, (m) =>
        ["get", "head", "list"].includes(m) ? "s3 read" : "s3 write",
      ),
      keys: signingKeys,
      settings,
      logger,
    });
    const reset = () => {
      timeline.reset();
      dynamo.reset();
      bucket.reset();
      window.reset();
    };
    // The publisher never writes an InRelease in the second of the current one (S3's
    // Last-Modified granularity; see nextSecondAfter in writer.ts): samples start at least
    // SETTLE_MS after the previous publication, as isolated changes do, so that wait is not
    // measured; one back-to-back sample shows it.
    let lastEnd = 0;
    const settle = async () => {
      const wait = lastEnd + SETTLE_MS - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    };
    const measure = async (work: () => Promise<PublishReport>): Promise<Sample> => {
      reset();
      const start = performance.now();
      const report = await work();
      lastEnd = performance.now();
      const ms = lastEnd - start;
      // A held-back record would make the sample measure less than it says.
      if (
        !report.published.includes(SUITE) ||
        report.failed.length > 0 ||
        report.heldBack.length > 0
      ) {
        throw new Error(`publication did not publish ${SUITE}: ${JSON.stringify(report)}`);
      }
      const windowMs = window.ms();
      return {
        ms: round(ms),
        ...(windowMs === undefined ? {} : { windowMs: round(windowMs) }),
        split: splitOf(timeline, ms),
        dynamo: structuredClone(dynamo.counts),
        s3: { ...bucket.requests },
      };
    };

    phase = "full rebuild";
    progress(`  ours: full rebuild of ${n} records`);
    const rebuild = await measure(() => publisher.rebuild({ root: false }));
    progress(`  ours: rebuild took ${(rebuild.ms / 1000).toFixed(2)} s`);
    const state = await new DynamoStateStore(plain, tables.state).loadSuite(SUITE);
    const amd64 = state?.indexes[`${SUITE}/main/amd64`] ?? Object.values(state?.indexes ?? {})[0];
    const index = { raw: amd64?.raw.size ?? 0, gz: amd64?.gz.size ?? 0, xz: amd64?.xz.size ?? 0 };

    const publishOne = async (record: PackageRecord, settled = true): Promise<Sample> => {
      await putPoolObject(pool, record);
      await store.put(record);
      if (settled) await settle();
      return measure(() =>
        publisher.publishChanges([
          { id: record.package_id, locations: [publisher.location(record)] },
        ]),
      );
    };
    phase = "one-record publications";
    const samples: Sample[] = [];
    for (let k = 0; k < 5; k++) samples.push(await publishOne(extraRecord(n, k)));
    const medianMs = median(samples.map((s) => s.ms));
    const typical = samples.find((s) => s.ms === medianMs) ?? (samples[2] as Sample);
    progress(`  ours: one-record publish median ${medianMs.toFixed(0)} ms`);
    const publishAll = await publishOne(extraRecord(n, 10, "all"));
    const backToBack = await publishOne(extraRecord(n, 11), false);

    phase = "end to end through the stream poller";
    const e2e = await measureEndToEnd({
      client: plain,
      table: tables.packages,
      publisher,
      settings,
      store,
      s3,
      bucket: BUCKET,
      work,
      n,
      settle,
      pool: (record) => putPoolObject(pool, record),
      seen: (at) => {
        lastEnd = at;
      },
      logger,
    });
    progress(`  ours: end-to-end (stream poller) median ${e2e.medianMs.toFixed(0)} ms`);

    const release = state?.release ?? "";
    const signs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await signRelease(release, signingKeys, new Date());
      signs.push(performance.now() - start);
    }

    return {
      n,
      loadMs: round(loadMs),
      poolMs: round(poolMs),
      rebuild,
      index,
      publish: { samples, medianMs, typical },
      publishAll,
      backToBack,
      e2e,
      signMs: round(median(signs)),
    };
  } catch (error) {
    throw new Error(`ours at N=${n}, ${phase}: ${(error as Error).message}`, { cause: error });
  } finally {
    await stopS3?.();
    await stopDdb();
    await removeWork();
  }
}

/** A fixture record's pool object, uploaded before its record (outside any measurement). */
async function putPoolObject(pool: ObjectStore, record: PackageRecord): Promise<void> {
  const key = record.filename ?? "";
  await pool.put(key, poolObjectOf(record), objectHeaders(key));
}

/** Watches a bucket for the first plain index path and the last InRelease written. */
function plainToInRelease() {
  let plain: number | undefined;
  let inRelease: number | undefined;
  return {
    reset() {
      plain = undefined;
      inRelease = undefined;
    },
    ms: () => (plain === undefined || inRelease === undefined ? undefined : inRelease - plain),
    watch: (inner: ObjectStore): ObjectStore => ({
      get: (key) => inner.get(key),
      head: (key) => inner.head(key),
      list: (prefix) => inner.list(prefix),
      delete: (keys) => inner.delete(keys),
      async copy(from, to, headers) {
        await inner.copy(from, to, headers);
        if (/^dists\/[^/]+\/.+\/Packages\.(gz|xz)$/.test(to)) plain ??= performance.now();
      },
      async put(key, body, headers) {
        await inner.put(key, body, headers);
        if (/^dists\/[^/]+\/InRelease$/.test(key)) inRelease = performance.now();
      },
    }),
  };
}
