import fc from "fast-check";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { PackageConfig, StageConfig } from "../config/schema";
import { compareVersions } from "../debian/version";
import type { PackageStore } from "../store/store";
import { debVersion } from "../testing/deb-arbitrary";
import { FeedError, parseFeed } from "./feed";
import type { SourceContext } from "./run";
import type { Bucket } from "./staging";
import { pollUpstream } from "./upstream";

const BASE = "https://downloads.example.org/stable";

/** Versions distinct by dpkg's equality (1.0 and 1.00 are one version to dpkg). */
const versions = fc
  .uniqueArray(debVersion, { minLength: 1, maxLength: 12 })
  .map((vs) => vs.filter((v, i) => vs.findIndex((w) => compareVersions(v, w) === 0) === i));

interface Entry {
  version: string;
  updateTo: { version: string; url: string; pub_date?: string; notes?: string };
}

const enc = (v: string) => encodeURIComponent(v);

/** A feed with a .deb for each version, some signed, entries in any order. */
const feed = versions.chain((vs) =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: vs.length, maxLength: vs.length }),
      fc.nat(vs.length - 1),
    )
    .chain(([signed, current]) => {
      const entries: Entry[] = vs.flatMap((v, i) => {
        const e = (file: string): Entry => ({
          version: v,
          updateTo: { version: v, url: `${BASE}/${enc(v)}/${file}`, pub_date: "2026-01-01" },
        });
        return signed[i]
          ? [e("kiro.deb"), e("certificate.pem"), e("signature.bin")]
          : [e("kiro.deb")];
      });
      return fc
        .shuffledSubarray(entries, { minLength: entries.length, maxLength: entries.length })
        .map((shuffled) => ({
          versions: vs,
          signed,
          json: { currentRelease: vs[current] as string, releases: shuffled },
        }));
    }),
);

type Feedish = { currentRelease: unknown; releases: unknown };

/**
 * Ways to break a feed, each of which must be refused: no .deb for the current release, an
 * entry whose two versions differ, an http URL, an invalid version, a second .deb for a
 * version, a certificate without a signature, releases not a list, a non-string currentRelease.
 */
const breakages: fc.Arbitrary<(f: { currentRelease: string; releases: Entry[] }) => Feedish> =
  fc.oneof(
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: f.releases.filter(
        (e) => !(e.version === f.currentRelease && e.updateTo.url.endsWith(".deb")),
      ),
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: f.releases.map((e, i) =>
        i === 0 ? { ...e, updateTo: { ...e.updateTo, version: `${e.version}+other` } } : e,
      ),
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: f.releases.map((e, i) =>
        i === 0
          ? { ...e, updateTo: { ...e.updateTo, url: e.updateTo.url.replace("https:", "http:") } }
          : e,
      ),
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: [...f.releases, { ...f.releases[0], version: "not a version!" }],
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: [...f.releases, f.releases.find((e) => e.updateTo.url.endsWith(".deb")) as Entry],
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      ...f,
      releases: f.releases.filter((e) => !e.updateTo.url.endsWith(".deb")).length
        ? f.releases.filter((e) => !e.updateTo.url.endsWith("signature.bin"))
        : [
            ...f.releases,
            {
              ...(f.releases[0] as Entry),
              updateTo: { ...(f.releases[0] as Entry).updateTo, url: `${BASE}/x/certificate.pem` },
            },
          ],
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      currentRelease: f.currentRelease,
      releases: { ...f.releases },
    })),
    fc.constant((f: { currentRelease: string; releases: Entry[] }) => ({
      releases: f.releases,
      currentRelease: 42,
    })),
  );

describe("parseFeed", () => {
  it("finds every version once, oldest first by dpkg's order, with its certificate and signature", () => {
    fc.assert(
      fc.property(feed, ({ versions: vs, signed, json }) => {
        const parsed = parseFeed(json, { source: "feed", stage: "prod" });
        expect(parsed.releases.map((r) => r.version)).toEqual([...vs].sort(compareVersions));
        for (const r of parsed.releases) {
          const i = vs.indexOf(r.version);
          expect(r.deb.url).toBe(`${BASE}/${enc(r.version)}/kiro.deb`);
          expect(r.certificateUrl !== undefined).toBe(signed[i]);
          expect(r.signatureUrl !== undefined).toBe(signed[i]);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("refuses every malformed feed, naming the problem", () => {
    fc.assert(
      fc.property(feed, breakages, ({ json }, breakIt) => {
        const broken = breakIt(json);
        expect(() => parseFeed(broken, { source: "feed", stage: "prod" })).toThrow(FeedError);
      }),
      { numRuns: 200 },
    );
  });

  it("takes http only on the loopback address of the local stage", () => {
    const json = {
      currentRelease: "1.0",
      releases: [{ version: "1.0", updateTo: { version: "1.0", url: "http://127.0.0.1:9/k.deb" } }],
    };
    expect(parseFeed(json, { source: "f", stage: "local" }).releases).toHaveLength(1);
    expect(() => parseFeed(json, { source: "f", stage: "prod" })).toThrow(/must be an https URL/);
  });
});

describe("pollUpstream on a malformed feed", () => {
  it("writes nothing and downloads nothing but the feed", async () => {
    const stage = {
      stage: "prod",
      default_component: "main",
      default_suite: "stable",
    } as StageConfig;
    const pkg = {
      name: "kiro",
      architectures: ["amd64"],
      source: {
        type: "upstream",
        metadata_url: `${BASE}/feed.json`,
        schedule: "rate(1 hour)",
        max_size_mb: 10,
        require_signature: false,
      },
    } as unknown as PackageConfig;
    await fc.assert(
      fc.asyncProperty(feed, breakages, async ({ json }, breakIt) => {
        const calls: string[] = [];
        const recorder = new Proxy(
          {},
          {
            get: (_, name) => () => {
              calls.push(String(name));
              return Promise.reject(new Error(`unexpected call ${String(name)}`));
            },
          },
        );
        const fetched: string[] = [];
        const context: SourceContext = {
          stage,
          packages: new Map([["kiro", pkg]]),
          target: {
            bucket: {
              s3: recorder,
              name: "b",
              logger: pino({ level: "silent" }),
            } as unknown as Bucket,
            store: recorder as PackageStore,
            logger: pino({ level: "silent" }),
          },
          fetch: (async (url: string | URL | Request) => {
            fetched.push(String(url));
            return new Response(JSON.stringify(breakIt(json)));
          }) as typeof fetch,
        };
        await expect(pollUpstream(context, { name: "kiro" })).rejects.toThrow(FeedError);
        expect(calls).toEqual([]);
        expect(fetched).toEqual([`${BASE}/feed.json`]);
      }),
      { numRuns: 100 },
    );
  });
});
