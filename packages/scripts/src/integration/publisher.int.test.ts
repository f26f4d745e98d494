// The publisher against real servers (DynamoDB Local, s3rver) and real apt in an isolated
// root: what it publishes is installable, signed, rebuilt identically, and safe under
// concurrent publishers.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { debHashes } from "@app/core/debian";
import type { Publisher, Touch } from "@app/core/publish";
import { type PackageRecord, packageId, toRecord } from "@app/core/record";
import { type AptRoot, aptRoot } from "@app/core/testing";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWorld, type World } from "./world";

let world: World;
let apt: AptRoot;

beforeAll(async () => {
  world = await startWorld();
  apt = aptRoot({
    url: world.repoUrl,
    suite: "stable",
    components: ["main"],
    keyring: world.keyringFile,
  });
});

afterAll(async () => {
  apt?.cleanup();
  await world?.stop();
});

const touch = (r: PackageRecord): Touch => ({
  id: r.package_id,
  locations: [{ suite: r.suite ?? "stable", component: r.component ?? "main" }],
});

async function object(key: string): Promise<Uint8Array | undefined> {
  try {
    const out = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }));
    return await out.Body?.transformToByteArray();
  } catch {
    return undefined;
  }
}

async function keys(prefix: string): Promise<string[]> {
  const out = await world.s3.send(
    new ListObjectsV2Command({ Bucket: world.bucket, Prefix: prefix }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

/** Published index bytes and the Release without its Date: what must match across paths. */
async function snapshot(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await keys("dists/")) {
    if (key.includes("/by-hash/") || /(InRelease|Release\.gpg)$/.test(key)) continue;
    const body = (await object(key)) ?? new Uint8Array();
    out.set(
      key,
      key.endsWith("/Release")
        ? new TextDecoder().decode(body).replace(/^Date: .*$/m, "")
        : Buffer.from(body).toString("base64"),
    );
  }
  return out;
}

const buildRecord = (version: string) =>
  toRecord({
    package_id: packageId("kiro-repo", version, "all"),
    package_name: "kiro-repo",
    version,
    architecture: "all",
    source: "build",
    maintainer: "Kiro Team <support@kiro.dev>",
    description: "APT source and signing key for Kiro packages\n Sets up the repository.",
    section: "admin",
    priority: "optional",
    processed_timestamp: new Date().toISOString(),
    contents: [
      {
        path: "/etc/apt/sources.list.d/kiro.sources",
        content: `Types: deb\nURIs: ${world.repoUrl}\nSuites: stable\nComponents: main\nSigned-By: /usr/share/keyrings/kiro-archive-keyring.gpg\n`,
      },
      {
        path: "/usr/share/keyrings/kiro-archive-keyring.gpg",
        content: readFileSync(world.keyringFile),
      },
    ],
    conffiles: ["/etc/apt/sources.list.d/kiro.sources"],
    scripts: { postinst: "#!/bin/sh\nset -e\nexit 0\n" },
  });

describe("publisher on DynamoDB Local and s3rver, read by apt", () => {
  const published: PackageRecord[] = [];

  it("publishes every version of every package, installable by apt with Signed-By", async () => {
    const records = [
      await world.manualPackage("kiro", "0.7.45", "amd64"),
      await world.manualPackage("kiro", "0.7.46", "amd64"),
      await world.manualPackage("kiro", "0.10.0~rc1", "amd64"),
      await world.manualPackage("kiro-cli", "1.0.0", "amd64"),
      await world.manualPackage("kiro-cli", "1.0.0", "arm64"),
      await world.manualPackage("kiro-docs", "2:1.0", "all", { depends: "kiro (>= 0.7)" }),
    ];
    for (const r of records) {
      expect(await world.store.put(r)).toBe("created");
      const report = await world.publisher.publishChanges([touch(r)]);
      expect(report.invalid).toEqual([]);
      published.push(r);
    }
    const repo = buildRecord("2.0.0");
    await world.store.put(repo);
    const report = await world.publisher.publishChanges([touch(repo)]);
    expect(report.failed).toEqual([]);

    await apt.update();
    // Debian order, not string order: 0.10.0~rc1 is newer than 0.7.46.
    expect(await apt.versions("kiro")).toEqual(["0.10.0~rc1", "0.7.46", "0.7.45"]);
    expect(await apt.versions("kiro-cli")).toEqual(["1.0.0"]);
    expect(await apt.versions("kiro-docs")).toEqual(["2:1.0"]);
    expect(await apt.versions("kiro-repo")).toEqual(["2.0.0"]);
    for (const r of published) {
      if (r.architecture === "arm64") continue; // this apt root is amd64
      const dir = await apt.download(r.package_name, r.version);
      const file = readdirSync(dir).find(
        (f) => f.startsWith(`${r.package_name}_`) && f.includes(r.version.replace(/^\d+:/, "")),
      );
      expect(file, `${r.package_id} downloaded`).toBeDefined();
      expect(debHashes(readFileSync(join(dir, file as string))).sha256).toBe(r.sha256_hash);
    }
  });

  it("builds the setup package once, pins it, and copies the newest to the root", async () => {
    const stored = await world.store.get("kiro-repo#2.0.0#all", { consistent: true });
    expect(stored?.ok).toBe(true);
    if (!stored?.ok) return;
    expect(stored.record.sha256_hash).toMatch(/^[0-9a-f]{64}$/);
    const pool = await object(stored.record.filename ?? "");
    expect(pool).toBeDefined();
    expect(debHashes(pool as Uint8Array).sha256).toBe(stored.record.sha256_hash);
    const copy = await object("kiro-repo.deb");
    expect(Buffer.from(copy ?? []).equals(Buffer.from(pool ?? []))).toBe(true);
    // Publishing the same record again builds the same bytes: nothing changes.
    const report = await world.publisher.publishChanges([touch(stored.record)]);
    expect(report.failed).toEqual([]);
    expect(report.published).toEqual([]);
  });

  it("a force rebuild writes what the incremental path wrote, and uploads nothing new", async () => {
    const before = await snapshot();
    const report = await world.publisher.rebuild();
    expect(report.published).toEqual([]);
    expect(await snapshot()).toEqual(before);
    for (const name of ["index.html", "kiro-archive-keyring.gpg", "kiro-archive-keyring.asc"]) {
      expect(await object(name), name).toBeDefined();
    }
    const html = new TextDecoder().decode(await object("index.html"));
    expect(html).toContain(world.repoUrl);
    expect(html).toContain("Signed-By: /usr/share/keyrings/kiro-archive-keyring.gpg");
  });

  it("holds back a record whose pool file is missing or not its own, keeps apt's candidate on the previous version, and publishes it once its file is there", async () => {
    const candidate = async (name: string) => {
      const { output } = await apt.apt("apt-cache", ["policy", name]);
      return /^\s*Candidate: (.*)$/m.exec(output)?.[1];
    };
    const v1 = await world.manualPackage("kiro-held", "1.0", "amd64");
    await world.store.put(v1);
    expect((await world.publisher.publishChanges([touch(v1)])).heldBack).toEqual([]);

    // 2.0's writer put the record, but its pool file is not there.
    const v2 = await world.manualPackage("kiro-held", "2.0", "amd64");
    const key = v2.filename ?? "";
    const bytes = (await object(key)) as Uint8Array;
    await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key }));
    await world.store.put(v2);
    const held = await world.publisher.publishChanges([touch(v2)]);
    expect(held.heldBack).toEqual([
      { id: v2.package_id, filename: key, problem: "missing from the pool" },
    ]);
    await apt.update();
    expect(await candidate("kiro-held")).toBe("1.0");
    expect(await apt.versions("kiro-held")).toEqual(["1.0"]);

    // The file is uploaded; the next rebuild (one listing of pool/) publishes 2.0.
    await world.s3.send(new PutObjectCommand({ Bucket: world.bucket, Key: key, Body: bytes }));
    const rebuilt = await world.publisher.rebuild();
    expect(rebuilt.heldBack).toEqual([]);
    await apt.update();
    expect(await candidate("kiro-held")).toBe("2.0");
    await apt.download("kiro-held", "2.0");

    // 3.0's record names another file's hashes, with the right size: the ETag (its MD5) says so.
    const v3 = await world.manualPackage("kiro-held", "3.0", "amd64");
    const other = debHashes(bytes);
    const wrong = toRecord({ ...v3, md5_hash: other.md5, sha256_hash: other.sha256 });
    await world.store.put(wrong);
    const mismatch = await world.publisher.publishChanges([touch(wrong)]);
    expect(mismatch.heldBack.map((h) => h.id)).toEqual([v3.package_id]);
    expect(mismatch.heldBack[0]?.problem).toMatch(/MD5/);
    expect((await world.publisher.rebuild()).heldBack.map((h) => h.id)).toEqual([v3.package_id]);
    await apt.update();
    expect(await candidate("kiro-held")).toBe("2.0");

    // The record is put right (deleted and written again): the next write publishes it.
    await world.store.delete(v3.package_id);
    await world.store.put(v3);
    expect((await world.publisher.publishChanges([touch(v3)])).heldBack).toEqual([]);
    await apt.update();
    expect(await candidate("kiro-held")).toBe("3.0");
    await apt.download("kiro-held", "3.0");
  });

  it("two concurrent publishers never leave an older index on top, and lose no change", async () => {
    const a = await world.newPublisher(async (step) => {
      // A commits, then stalls before writing its files, while B publishes a newer generation.
      if (step === "committed") await new Promise((r) => setTimeout(r, 1500));
    });
    const b: Publisher = world.publisher;
    const first = await world.manualPackage("kiro", "0.8.0", "amd64");
    const second = await world.manualPackage("kiro", "0.9.0", "amd64");
    await world.store.put(first);
    const slow = a.publishChanges([touch(first)]);
    await new Promise((r) => setTimeout(r, 300));
    await world.store.put(second);
    await b.publishChanges([touch(second)]);
    await slow;
    await apt.update();
    expect(await apt.versions("kiro")).toEqual(expect.arrayContaining(["0.8.0", "0.9.0"]));

    // And a publisher that loads, then loses the commit race, recomputes from the winner's state.
    const c = await world.newPublisher(async (step) => {
      if (step === "loaded") await new Promise((r) => setTimeout(r, 1500));
    });
    const third = await world.manualPackage("kiro", "0.9.1", "amd64");
    const fourth = await world.manualPackage("kiro", "0.9.2", "amd64");
    await world.store.put(third);
    await world.store.put(fourth);
    const loser = c.publishChanges([touch(third)]);
    await new Promise((r) => setTimeout(r, 300));
    await b.publishChanges([touch(fourth)]);
    const report = await loser;
    expect(report.attempts).toBeGreaterThan(1);
    await apt.update();
    expect(await apt.versions("kiro")).toEqual(
      expect.arrayContaining(["0.8.0", "0.9.0", "0.9.1", "0.9.2"]),
    );
    // The published InRelease carries the newest state's Release.
    const release = new TextDecoder().decode(await object("dists/stable/Release"));
    const inRelease = new TextDecoder().decode(await object("dists/stable/InRelease"));
    expect(inRelease).toContain(release.trimEnd());
  });
});
