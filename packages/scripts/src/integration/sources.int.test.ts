// The upstream poller and the ingestion core against real servers: a fake vendor on
// 127.0.0.1 (feed, real .debs, an openssl-signed version), DynamoDB Local, s3rver, the
// publisher, and apt in an isolated root. Each fault leaves nothing half-written.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type LoadedConfig, loadConfig, type PackageConfig } from "@app/core/config";
import { compareVersions } from "@app/core/debian";
import { packageId } from "@app/core/record";
import { FeedError, pollUpstream, type SourceContext } from "@app/core/sources";
import type { PackageStore } from "@app/core/store";
import { type AptRoot, aptRoot } from "@app/core/testing";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localS3ClientConfig } from "../local/s3-local";
import {
  type FakeUpstream,
  feedJson,
  opensslSigner,
  type Signer,
  startFakeUpstream,
  testDeb,
} from "./fake-upstream";
import { logger, startWorld, type World } from "./world";

const root = resolve(import.meta.dirname, "../../../..");
let world: World;
let vendor: FakeUpstream;
let signer: Signer;
let config: LoadedConfig;
let apt: AptRoot;

beforeAll(async () => {
  world = await startWorld();
  vendor = await startFakeUpstream();
  signer = opensslSigner();
  config = await loadConfig(root, "local");
  apt = aptRoot({
    url: world.repoUrl,
    suite: "stable",
    components: ["main"],
    keyring: world.keyringFile,
  });
});

afterAll(async () => {
  apt?.cleanup();
  signer?.cleanup();
  await vendor?.stop();
  await world?.stop();
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function context(
  overrides: {
    pkg?: Partial<PackageConfig["source"]>;
    s3?: S3Client;
    store?: PackageStore;
    feed?: string;
    now?: () => Date;
  } = {},
): SourceContext {
  const kiro = config.packages.get("kiro") as PackageConfig;
  const packages = new Map(config.packages);
  if (overrides.pkg) {
    packages.set("kiro", {
      ...kiro,
      source: { ...kiro.source, ...overrides.pkg } as PackageConfig["source"],
    });
  }
  return {
    stage: {
      ...config.stage,
      feed_urls: { kiro: `${vendor.url}${overrides.feed ?? "/feed.json"}` },
    },
    packages,
    target: {
      bucket: { s3: overrides.s3 ?? world.s3, name: world.bucket, logger },
      store: overrides.store ?? world.store,
      logger,
    },
    retry: { baseMs: 1, maxMs: 5 },
    idleTimeoutMs: 5_000,
    ...(overrides.now === undefined ? {} : { now: overrides.now }),
  };
}

async function keys(prefix: string): Promise<string[]> {
  const out = await world.s3.send(
    new ListObjectsV2Command({ Bucket: world.bucket, Prefix: prefix }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

async function recorded(version: string): Promise<boolean> {
  return (await world.store.get(packageId("kiro", version, "amd64"))) !== undefined;
}

function serveJson(path: string, value: unknown) {
  vendor.serve(path, { body: new TextEncoder().encode(JSON.stringify(value)) });
}

describe("the upstream poller", () => {
  const versions = ["0.10.0", "0.9.2", "1:0.1", "0.9.10", "0.9.10~rc1"];
  const debs = new Map(
    versions.map((v) => [
      v,
      testDeb("kiro", v, "amd64", { depends: "libc6 (>= 2.31), libgtk-3-0" }),
    ]),
  );

  it("publishes every version of the feed, in Debian order, with its provenance; apt sees them all", async () => {
    for (const [v, bytes] of debs)
      vendor.serve(`/releases/${v}/kiro-ide-${v}-stable-linux-x64.deb`, { body: bytes });
    const signed = "0.10.0";
    for (const [v, bytes] of debs) {
      vendor.serve(`/releases/${v}/certificate.pem`, {
        body: new TextEncoder().encode(signer.certificatePem),
      });
      vendor.serve(`/releases/${v}/signature.bin`, { body: signer.sign(bytes) });
    }
    serveJson(
      "/feed.json",
      feedJson(
        vendor.url,
        versions.map((v) => ({
          version: v,
          debPath: `/releases/${v}/kiro-ide-${v}-stable-linux-x64.deb`,
          certificatePath: `/releases/${v}/certificate.pem`,
          signaturePath: `/releases/${v}/signature.bin`,
        })),
        "1:0.1",
      ),
    );
    const report = await pollUpstream(
      context({
        pkg: { certificate: { sha256_fingerprint: signer.fingerprint256.toUpperCase() } },
      }),
      { name: "kiro" },
    );
    expect(report.failed).toEqual([]);
    const order = [...versions].sort(compareVersions);
    expect(report.ingested.map((i) => i.id)).toEqual(
      order.map((v) => packageId("kiro", v, "amd64")),
    );
    expect(report.ingested.every((i) => i.outcome === "created")).toBe(true);

    const got = await world.store.get(packageId("kiro", signed, "amd64"));
    expect(got?.ok).toBe(true);
    if (got?.ok) {
      const r = got.record;
      expect(r.source).toBe("upstream");
      expect(r.deb_url).toBe(
        `${vendor.url}/releases/${signed}/kiro-ide-${signed}-stable-linux-x64.deb`,
      );
      expect(r.certificate_url).toBe(`${vendor.url}/releases/${signed}/certificate.pem`);
      expect(r.signature_url).toBe(`${vendor.url}/releases/${signed}/signature.bin`);
      expect(r.pub_date).toBe("2026-11-20T10:00:00Z");
      expect(r.notes).toBe(`Release ${signed}`);
      expect(r.actual_filename).toBe(`kiro-ide-${signed}-stable-linux-x64.deb`);
      // The control paragraph, verbatim: every field.
      expect(r.depends).toBe("libc6 (>= 2.31), libgtk-3-0");
      expect(r.control_extra).toEqual({ "X-Vendor-Build": `${signed}-build` });
      expect(r.description).toBe(
        "kiro for tests\n Built by the sources test.\n .\n Second paragraph.",
      );
      expect(r.installed_size).toBeGreaterThan(0);
      expect(r.sha256_hash).toBe(sha256(debs.get(signed) as Uint8Array));
    }
    expect(await keys("staging/")).toEqual([]);

    await world.publisher.rebuild();
    await apt.update();
    const seen = await apt.versions("kiro");
    expect([...seen].sort(compareVersions)).toEqual(order);
    const dir = await apt.download("kiro", "0.9.10~rc1");
    const file = readdirSync(dir).find((f) => f.startsWith("kiro_0.9.10~rc1"));
    expect(file).toBeDefined();
    expect(sha256(readFileSync(join(dir, file as string)))).toBe(
      sha256(debs.get("0.9.10~rc1") as Uint8Array),
    );
  });

  it("skips what is recorded on the next run, downloading nothing", async () => {
    const before = new Map(vendor.hits);
    const report = await pollUpstream(context(), { name: "kiro" });
    expect(report.ingested).toEqual([]);
    expect(report.skipped.length).toBe(versions.length);
    for (const [path, n] of vendor.hits)
      if (path.endsWith(".deb")) expect(n).toBe(before.get(path));
  });

  it("refuses a malformed feed before it writes or downloads anything", async () => {
    const good = `${vendor.url}/releases/9.0/kiro.deb`;
    vendor.serve("/releases/9.0/kiro.deb", { body: testDeb("kiro", "9.0", "amd64") });
    const malformed = [
      {
        currentRelease: "9.0",
        releases: [{ version: "9.0", updateTo: { version: "9.1", url: good } }],
      },
      {
        currentRelease: "9.0",
        releases: [{ version: "9 0", updateTo: { version: "9 0", url: good } }],
      },
      {
        currentRelease: "9.0",
        releases: [
          {
            version: "9.0",
            updateTo: { version: "9.0", url: good.replace("kiro.deb", "certificate.pem") },
          },
        ],
      },
      { currentRelease: "9.0", releases: "none" },
    ];
    for (const [i, feed] of malformed.entries()) {
      serveJson(`/bad-${i}.json`, feed);
      await expect(
        pollUpstream(context({ feed: `/bad-${i}.json` }), { name: "kiro" }),
      ).rejects.toThrow(FeedError);
    }
    vendor.serve("/not-json.json", { body: new TextEncoder().encode("{ nope") });
    await expect(
      pollUpstream(context({ feed: "/not-json.json" }), { name: "kiro" }),
    ).rejects.toThrow(/not JSON/);
    expect(vendor.hits.get("/releases/9.0/kiro.deb")).toBeUndefined();
    expect(await recorded("9.0")).toBe(false);
  });
});

describe("faults leave nothing half-written", () => {
  it("truncation, a contradicting hash, a bad signature, a lying control file fail alone; a 503 is retried", async () => {
    const path = (v: string) => `/faults/${v}/kiro.deb`;
    const deb = (v: string, o = {}) => testDeb("kiro", v, "amd64", o);
    const truncated = deb("2.0.1");
    vendor.serve(path("2.0.1"), { body: truncated, truncateAt: Math.floor(truncated.length / 2) });
    vendor.serve(path("2.0.2"), { body: deb("2.0.2"), failures: 2 });
    vendor.serve(path("2.0.3"), { body: deb("2.0.3") });
    vendor.serve("/faults/2.0.3/certificate.pem", {
      body: new TextEncoder().encode(signer.certificatePem),
    });
    vendor.serve("/faults/2.0.3/signature.bin", {
      body: signer.sign(deb("2.0.3", { extra: "other bytes" })),
    });
    vendor.serve(path("2.0.4"), { body: deb("2.0.4", { controlVersion: "2.0.5" }) });
    vendor.serve(path("2.0.6"), { body: deb("2.0.6") });
    vendor.serve(path("2.0.7"), { body: deb("2.0.7"), later: deb("2.0.7", { extra: "rebuilt" }) });
    const feed = feedJson(
      vendor.url,
      ["2.0.1", "2.0.2", "2.0.3", "2.0.4", "2.0.6", "2.0.7"].map((v) => ({
        version: v,
        debPath: path(v),
        ...(v === "2.0.3"
          ? {
              certificatePath: "/faults/2.0.3/certificate.pem",
              signaturePath: "/faults/2.0.3/signature.bin",
            }
          : {}),
      })),
    );
    // The feed states a hash for 2.0.6 that its file does not have.
    for (const entry of feed.releases) {
      if (entry.version === "2.0.6") Object.assign(entry.updateTo, { sha256: "0".repeat(64) });
    }
    serveJson("/faults.json", feed);

    // The first copy of 2.0.7 to the pool fails as S3 does under load: the retry downloads
    // again and gets other bytes.
    const s3 = new S3Client(localS3ClientConfig(new URL(world.repoUrl).origin));
    const send = s3.send.bind(s3);
    let copyFailures = 0;
    s3.send = ((command: unknown, ...rest: unknown[]) => {
      if (
        command instanceof CopyObjectCommand &&
        command.input.Key?.includes("2.0.7") &&
        copyFailures < 4
      ) {
        copyFailures++;
        return Promise.reject(
          Object.assign(new Error("Please reduce your request rate."), {
            name: "SlowDown",
            $metadata: { httpStatusCode: 503 },
          }),
        );
      }
      return (send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(command, ...rest);
    }) as typeof s3.send;

    const report = await pollUpstream(context({ feed: "/faults.json", s3 }), { name: "kiro" });
    expect(report.ingested.map((i) => i.id)).toEqual([packageId("kiro", "2.0.2", "amd64")]);
    const failures = new Map(
      report.failed.map((f) => [/faults\/([^/]+)\//.exec(f.label)?.[1], f.error]),
    );
    expect(failures.get("2.0.1")).toMatch(/truncated|connection failed/);
    expect(failures.get("2.0.3")).toMatch(/bad signature/);
    expect(failures.get("2.0.4")).toMatch(/Version 2\.0\.5, the source says 2\.0\.4/);
    expect(failures.get("2.0.6")).toMatch(/sha256 [0-9a-f]{64}, expected 0{64}/);
    expect(failures.get("2.0.7")).toMatch(/contradicts/);
    // S3's own retries are exhausted (4 attempts), then the version is tried again whole.
    expect(copyFailures).toBe(4);
    expect(vendor.hits.get(path("2.0.2"))).toBe(3);
    for (const v of ["2.0.1", "2.0.3", "2.0.4", "2.0.6", "2.0.7"]) {
      expect(await recorded(v)).toBe(false);
      expect(await keys(`pool/main/k/kiro/kiro_${v}_`)).toEqual([]);
    }
    expect(await recorded("2.0.2")).toBe(true);
    expect(await keys("staging/")).toEqual([]);
  });

  it("a certificate other than the pinned one is refused, and so is a version without one", async () => {
    const bytes = testDeb("kiro", "4.0.0", "amd64");
    vendor.serve("/pin/4.0.0/kiro.deb", { body: bytes });
    vendor.serve("/pin/4.0.0/certificate.pem", {
      body: new TextEncoder().encode(signer.certificatePem),
    });
    vendor.serve("/pin/4.0.0/signature.bin", { body: signer.sign(bytes) });
    vendor.serve("/pin/4.0.1/kiro.deb", { body: testDeb("kiro", "4.0.1", "amd64") });
    serveJson(
      "/pin.json",
      feedJson(vendor.url, [
        {
          version: "4.0.0",
          debPath: "/pin/4.0.0/kiro.deb",
          certificatePath: "/pin/4.0.0/certificate.pem",
          signaturePath: "/pin/4.0.0/signature.bin",
        },
        { version: "4.0.1", debPath: "/pin/4.0.1/kiro.deb" },
      ]),
    );
    const report = await pollUpstream(
      context({ feed: "/pin.json", pkg: { certificate: { subject: "CN=Someone Else" } } }),
      { name: "kiro" },
    );
    expect(report.ingested).toEqual([]);
    expect(report.failed.map((f) => f.error)).toEqual([
      expect.stringMatching(/subject is .*, not the pinned "CN=Someone Else"/),
      expect.stringMatching(/no certificate and signature, and the config requires them/),
    ]);
    expect(await recorded("4.0.0")).toBe(false);
    expect(await keys("staging/")).toEqual([]);
  });

  it("an Ed25519 vendor signature is verified; a certificate expired or not yet valid at ingestion writes nothing", async () => {
    const ed = opensslSigner("/CN=Kiro Ed25519 Vendor", "ed25519");
    try {
      const signed = testDeb("kiro", "5.0.0", "amd64");
      const later = testDeb("kiro", "5.0.1", "amd64");
      for (const [v, bytes] of [
        ["5.0.0", signed],
        ["5.0.1", later],
      ] as const) {
        vendor.serve(`/dates/${v}/kiro.deb`, { body: bytes });
        vendor.serve(`/dates/${v}/certificate.pem`, {
          body: new TextEncoder().encode(ed.certificatePem),
        });
        vendor.serve(`/dates/${v}/signature.bin`, { body: ed.sign(bytes) });
      }
      const entry = (v: string) => ({
        version: v,
        debPath: `/dates/${v}/kiro.deb`,
        certificatePath: `/dates/${v}/certificate.pem`,
        signaturePath: `/dates/${v}/signature.bin`,
      });
      serveJson("/dates-1.json", feedJson(vendor.url, [entry("5.0.0")]));
      serveJson("/dates-2.json", feedJson(vendor.url, [entry("5.0.0"), entry("5.0.1")]));
      const pin = { certificate: { sha256_fingerprint: ed.fingerprint256.toUpperCase() } };
      const ok = await pollUpstream(context({ feed: "/dates-1.json", pkg: pin }), {
        name: "kiro",
      });
      expect(ok.failed).toEqual([]);
      expect(ok.ingested.map((i) => [i.id, i.outcome])).toEqual([["kiro#5.0.0#amd64", "created"]]);

      // The certificate is valid for 2 days from now (openssl -days 2).
      const day = 24 * 60 * 60 * 1000;
      for (const [now, message] of [
        [new Date(Date.now() + 3 * day), /the certificate has expired: notAfter \S+, now \S+/],
        [new Date(Date.now() - day), /the certificate is not valid yet: notBefore \S+, now \S+/],
      ] as const) {
        const report = await pollUpstream(
          context({ feed: "/dates-2.json", pkg: pin, now: () => now }),
          { name: "kiro" },
        );
        expect(report.ingested).toEqual([]);
        expect(report.failed.map((f) => f.error)).toEqual([expect.stringMatching(message)]);
        expect(await recorded("5.0.1")).toBe(false);
        expect(await keys("staging/")).toEqual([]);
        expect(await keys("pool/main/k/kiro/kiro_5.0.1")).toEqual([]);
      }
    } finally {
      ed.cleanup();
    }
  });

  it("a crash between the upload and the record leaves a staging object; the next run completes it", async () => {
    vendor.serve("/crash/3.0.0/kiro.deb", { body: testDeb("kiro", "3.0.0", "amd64") });
    serveJson(
      "/crash.json",
      feedJson(vendor.url, [{ version: "3.0.0", debPath: "/crash/3.0.0/kiro.deb" }]),
    );
    // The process "dies" at the put: nothing after it runs, not even the staging clean-up.
    const s3 = new S3Client(localS3ClientConfig(new URL(world.repoUrl).origin));
    const send = s3.send.bind(s3);
    s3.send = ((command: unknown, ...rest: unknown[]) => {
      if (command instanceof DeleteObjectCommand) return Promise.resolve({});
      return (send as (c: unknown, ...r: unknown[]) => Promise<unknown>)(command, ...rest);
    }) as typeof s3.send;
    const store = {
      get: world.store.get.bind(world.store),
      versionsOf: world.store.versionsOf.bind(world.store),
      put: () => Promise.reject(new Error("killed")),
    } as unknown as PackageStore;
    const crashed = await pollUpstream(context({ feed: "/crash.json", s3, store }), {
      name: "kiro",
    });
    expect(crashed.failed.map((f) => f.error)).toEqual([expect.stringMatching(/killed/)]);
    expect(await recorded("3.0.0")).toBe(false);
    expect((await keys("staging/kiro/")).length).toBe(1);

    const next = await pollUpstream(
      context({ feed: "/crash.json" }),
      { name: "kiro" },
      { stagingMaxAgeMs: 0 },
    );
    expect(next.ingested.map((i) => i.outcome)).toEqual(["created"]);
    expect(await recorded("3.0.0")).toBe(true);
    expect(await keys("staging/")).toEqual([]);
    expect(await keys("pool/main/k/kiro/kiro_3.0.0_amd64.deb")).toEqual([
      "pool/main/k/kiro/kiro_3.0.0_amd64.deb",
    ]);
  });
});
