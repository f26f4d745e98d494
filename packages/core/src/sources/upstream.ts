// `source.type: upstream`: the vendor's release feed. Each run reads the feed (validated whole
// before anything else), skips the versions already recorded and ingests the others, oldest
// first in dpkg's order.
import type { PackageConfig, UpstreamSource } from "../config/schema";
import { compareVersions } from "../debian/version";
import { type Feed, FeedError, type FeedRelease, parseFeed } from "./feed";
import { fetchBytes, openUrl } from "./fetch";
import type { Candidate, CandidateList, RunReport, SourceContext, SourceHandler } from "./run";
import { retrying, runCandidates } from "./run";
import { sweepStaging } from "./staging";

const MAX_FEED_BYTES = 16 * 1024 * 1024;
const MAX_CERTIFICATE_BYTES = 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;
const MB = 1024 * 1024;

export interface UpstreamRequest {
  /** The package's config name. */
  readonly name: string;
}

type UpstreamPackage = PackageConfig & { source: UpstreamSource };

function upstreamPackage(context: SourceContext, name: string): UpstreamPackage {
  const pkg = context.packages.get(name);
  if (pkg === undefined) throw new Error(`no package config named ${name}`);
  if (pkg.source.type !== "upstream") {
    throw new Error(`${name} has source type ${pkg.source.type}, not upstream`);
  }
  return pkg as UpstreamPackage;
}

/** The feed URL of a package in this stage: the stage's override, else metadata_url. */
export function feedUrl(context: SourceContext, pkg: UpstreamPackage): string {
  return context.stage.feed_urls?.[pkg.name] ?? pkg.source.metadata_url;
}

/**
 * The architecture a feed entry is for: the architecture_map entry whose platform name appears
 * in the URL (as a whole token), else the package's only architecture; undefined when the
 * .deb's own control file must say (it is then checked against the config).
 */
export function architectureOf(pkg: UpstreamPackage, url: string): string | undefined {
  const map = pkg.source.architecture_map ?? {};
  const path = decodeURIComponent(new URL(url).pathname);
  const arches = new Set(
    Object.entries(map)
      .filter(([platform]) =>
        new RegExp(`(^|[/_.-])${escapeRegExp(platform)}([/_.-]|$)`).test(path),
      )
      .map(([, arch]) => arch),
  );
  if (arches.size === 1) return [...arches][0];
  return pkg.architectures.length === 1 ? pkg.architectures[0] : undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Reads and validates the feed (with retries on transient failures). */
export async function readFeed(context: SourceContext, pkg: UpstreamPackage): Promise<Feed> {
  const url = feedUrl(context, pkg);
  const bytes = await retrying(context, url, () =>
    fetchBytes(url, {
      maxBytes: MAX_FEED_BYTES,
      ...(context.fetch ? { fetch: context.fetch } : {}),
      ...(context.idleTimeoutMs ? { idleTimeoutMs: context.idleTimeoutMs } : {}),
    }),
  );
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new FeedError(url, [`not JSON: ${(error as Error).message}`]);
  }
  return parseFeed(json, { source: url, stage: context.stage.stage });
}

function candidateOf(
  context: SourceContext,
  pkg: UpstreamPackage,
  release: FeedRelease,
): Candidate {
  const fetchOptions = {
    ...(context.fetch ? { fetch: context.fetch } : {}),
    ...(context.idleTimeoutMs ? { idleTimeoutMs: context.idleTimeoutMs } : {}),
  };
  const maxBytes = pkg.source.max_size_mb * MB;
  const { deb, certificateUrl, signatureUrl } = release;
  const architecture = architectureOf(pkg, deb.url);
  const pinned = pkg.source.certificate !== undefined;
  const label = `${pkg.name} ${release.version} (${deb.url})`;
  const actualFilename = decodeURIComponent(new URL(deb.url).pathname.split("/").pop() ?? "");
  return {
    label,
    name: pkg.name,
    version: release.version,
    ...(architecture === undefined ? {} : { architecture }),
    maxBytes,
    open: () => openUrl(deb.url, { ...fetchOptions, maxBytes }),
    ...(certificateUrl !== undefined && signatureUrl !== undefined
      ? {
          signature: async () => ({
            certificatePem: Buffer.from(
              await fetchBytes(certificateUrl, {
                ...fetchOptions,
                maxBytes: MAX_CERTIFICATE_BYTES,
              }),
            ).toString("utf8"),
            signature: await fetchBytes(signatureUrl, {
              ...fetchOptions,
              maxBytes: MAX_SIGNATURE_BYTES,
            }),
            ...(pkg.source.certificate === undefined ? {} : { pin: pkg.source.certificate }),
          }),
        }
      : pinned || pkg.source.require_signature
        ? {
            signature: () =>
              Promise.reject(
                new Error(
                  `${label}: the feed has no certificate and signature, and the config requires them`,
                ),
              ),
          }
        : {}),
    provenance: {
      deb_url: deb.url,
      ...(actualFilename === "" ? {} : { actual_filename: actualFilename }),
      ...(certificateUrl === undefined ? {} : { certificate_url: certificateUrl }),
      ...(signatureUrl === undefined ? {} : { signature_url: signatureUrl }),
      ...(release.notes === undefined ? {} : { notes: release.notes }),
      ...(release.pubDate === undefined ? {} : { pub_date: release.pubDate }),
    },
    expected: {
      ...(deb.size === undefined ? {} : { size: deb.size }),
      ...(deb.sha256 === undefined ? {} : { sha256: deb.sha256 }),
      ...(deb.sha512 === undefined ? {} : { sha512: deb.sha512 }),
    },
  };
}

export const upstreamHandler: SourceHandler<UpstreamRequest> = {
  type: "upstream",
  async candidates(context, { name }): Promise<CandidateList> {
    const pkg = upstreamPackage(context, name);
    const { logger } = context.target;
    const feed = await readFeed(context, pkg);
    for (const url of feed.ignored) logger.info({ url }, "feed entry of another kind, ignored");
    const recorded = await context.target.store.versionsOf(pkg.name);
    const candidates: Candidate[] = [];
    const skipped: string[] = [];
    for (const release of feed.releases) {
      const architecture = architectureOf(pkg, release.deb.url);
      const done = recorded.find(
        (r) =>
          compareVersions(r.version, release.version) === 0 &&
          (architecture === undefined || r.architecture === architecture),
      );
      if (done !== undefined) {
        logger.info(
          { id: done.package_id },
          `${pkg.name} ${release.version}: already recorded, skipped`,
        );
        skipped.push(done.package_id);
        continue;
      }
      candidates.push(candidateOf(context, pkg, release));
    }
    logger.info(
      {
        package: pkg.name,
        feed: feedUrl(context, pkg),
        versions: feed.releases.length,
        new: candidates.length,
      },
      "feed read",
    );
    return { candidates, skipped, source: "upstream" };
  },
};

/**
 * One poll of one upstream package: removes what crashed runs left in staging, reads the feed,
 * and ingests every new version (oldest first). A malformed feed throws before any write.
 */
export async function pollUpstream(
  context: SourceContext,
  request: UpstreamRequest,
  options: { dryRun?: boolean; stagingMaxAgeMs?: number } = {},
): Promise<RunReport> {
  const pkg = upstreamPackage(context, request.name);
  const list = await upstreamHandler.candidates(context, request);
  if (!options.dryRun) {
    await sweepStaging(context.target.bucket, {
      prefix: `staging/${pkg.name}/`,
      ...(options.stagingMaxAgeMs === undefined ? {} : { olderThanMs: options.stagingMaxAgeMs }),
    });
  }
  return runCandidates(context, list, options);
}
