// Pool retention on the local stage's components (DynamoDB Local with its stream, s3rver, apt in
// an isolated root): prune deletes records, the stream unpublishes them, a client holding the
// previous index still downloads the pruned version during the grace period, and after it the
// file is gone while the kept version's and an operator's upload waiting for its record stay.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DynamoStateStore, handleStreamBatch, Publisher, publisherDeps } from "@app/core/publish";
import { poolPath } from "@app/core/record";
import { type AptRoot, aptRoot, scratch } from "@app/core/testing";
import { HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StreamPoller, startStreamPoller } from "../local/stream-poller";
import { prune } from "../prune";
import { logger, startWorld, type World } from "./world";

/** The grace period of this test's publisher; its clock is moved past it, never waited for. */
const GRACE = 3_600_000;

let world: World;
let apt: AptRoot;
let poller: StreamPoller;
let cleanup: () => void;
/** How far the publisher's clock is ahead of the real one. */
let ahead = 0;

beforeAll(async () => {
  world = await startWorld();
  const tmp = scratch("pool-retention-");
  cleanup = tmp.cleanup;
  const settings = { ...world.settings, byHashGraceMs: GRACE };
  const { deps } = await publisherDeps({
    packagesTable: world.tables.packages,
    stateTable: world.tables.state,
    bucket: world.bucket,
    signingKeys: world.signingKeys,
    settings,
    logger,
  });
  const publisher = new Publisher({ ...deps, now: () => new Date(Date.now() + ahead) });
  poller = startStreamPoller({
    client: world.dynamo,
    tableName: world.tables.packages,
    checkpointFile: join(tmp.dir, "checkpoint.json"),
    deadLetterFile: join(tmp.dir, "dead-letters.jsonl"),
    batchSize: 100,
    batchWindowMs: 0,
    maxRetries: 0,
    pollIntervalMs: 20,
    handler: (event) => handleStreamBatch(publisher, event, settings, logger),
  });
  apt = aptRoot({
    url: world.repoUrl,
    suite: "stable",
    components: ["main"],
    keyring: world.keyringFile,
  });
}, 120_000);

afterAll(async () => {
  await poller?.stop().catch(() => undefined);
  apt?.cleanup();
  cleanup?.();
  await world?.stop();
});

const inPool = async (key: string): Promise<boolean> => {
  try {
    await world.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
};

describe("pool retention (local stage)", () => {
  it("the state table keeps a pool candidate's ids, apart from by-hash objects", async () => {
    const state = new DynamoStateStore(world.dynamo, world.tables.state);
    const at = "2026-01-01T00:00:00.000Z";
    const later = "2026-01-02T00:00:00.000Z";
    const file = poolPath("main", "x", "1", "amd64");
    await state.retire("candidates", [
      { key: file, at, ids: ["x#1#amd64", "x#1:1#amd64"] },
      { key: "dists/candidates/main/binary-amd64/by-hash/SHA512/00", at },
      { key: file, at: later, ids: ["x#1#amd64"] },
    ]);
    const cut = new Date("2026-01-01T12:00:00.000Z");
    expect(await state.retiredBefore("candidates", cut)).toEqual([
      { key: "dists/candidates/main/binary-amd64/by-hash/SHA512/00", at },
      { key: file, at, ids: ["x#1#amd64", "x#1:1#amd64"] },
    ]);
    expect(await state.retiredSince("candidates", cut)).toEqual([
      { key: file, at: later, ids: ["x#1#amd64"] },
    ]);
    await state.forgetRetired("candidates", await state.retiredBefore("candidates", cut));
    expect(await state.retiredBefore("candidates", cut)).toEqual([]);
    expect(await state.retiredSince("candidates", cut)).toHaveLength(1);
  });

  it("prune, then the file stays through the grace period and goes after it", async () => {
    for (const v of ["1.0", "2.0"]) {
      await world.store.put(await world.manualPackage("kiro", v, "amd64"));
    }
    // An operator's upload whose record is not written yet.
    const waiting = poolPath("main", "kiro", "3.0", "amd64");
    await world.s3.send(
      new PutObjectCommand({ Bucket: world.bucket, Key: waiting, Body: "not yet recorded" }),
    );
    await poller.idle();
    await apt.update();
    expect(await apt.versions("kiro")).toEqual(["2.0", "1.0"]);
    const old = poolPath("main", "kiro", "1.0", "amd64");

    const pruned = await prune({
      dynamo: world.dynamo,
      tableName: world.tables.packages,
      logger,
      keep: 1,
      packageName: "kiro",
    });
    expect(pruned.deleted).toEqual(["kiro#1.0#amd64"]);
    await poller.idle();

    // During the grace period: the client with the previous index still gets 1.0.
    ahead = GRACE / 2;
    await world.store.put(await world.manualPackage("kiro-cli", "1.0", "amd64"));
    await poller.idle();
    expect(await inPool(old)).toBe(true);
    const downloads = await apt.download("kiro", "1.0");
    expect(readdirSync(downloads)).toContain("kiro_1.0_amd64.deb");

    // Past it: the next publication sweeps the file; the kept version and the upload stay.
    ahead = GRACE + 60_000;
    await world.store.put(await world.manualPackage("kiro-cli", "1.1", "amd64"));
    await poller.idle();
    expect(await inPool(old)).toBe(false);
    expect(await inPool(poolPath("main", "kiro", "2.0", "amd64"))).toBe(true);
    expect(await inPool(waiting)).toBe(true);
    // (No apt update from here: this publisher's Release Date is in apt's future.) The first
    // download is removed, or apt would take it for done.
    for (const f of readdirSync(downloads)) rmSync(join(downloads, f), { force: true });
    await expect(apt.download("kiro", "1.0")).rejects.toThrow(/404|Not Found|Failed to fetch/);
    await apt.download("kiro", "2.0");
  }, 180_000);
});
