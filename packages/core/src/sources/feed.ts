// The vendor's release feed (`metadata_url`): `{ currentRelease, releases: [{ version,
// updateTo: { version, pub_date, notes, name, url } }] }`, several entries per version (the
// .deb, its certificate.pem and its signature.bin) told apart by the URL's suffix. The whole
// feed is validated before anything is downloaded: a malformed feed is one error listing every
// problem, and nothing is written.
import * as v from "valibot";
import { fetchUrlProblem } from "../config/schema";
import { compareVersions, versionSchema } from "../debian/version";

const hex = (n: number) =>
  v.pipe(v.string(), v.regex(new RegExp(`^[0-9a-f]{${n}}$`), `must be ${n} lowercase hex digits`));

const entrySchema = v.object({
  version: v.pipe(v.string("must be a string"), versionSchema),
  updateTo: v.object({
    version: v.pipe(v.string("must be a string"), versionSchema),
    pub_date: v.optional(v.string("must be a string")),
    notes: v.optional(v.string("must be a string")),
    name: v.optional(v.string("must be a string")),
    url: v.string("must be a string"),
    // Not in today's feed; checked when a vendor adds them.
    sha256: v.optional(hex(64)),
    sha512: v.optional(hex(128)),
    size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  }),
});

export const feedSchema = v.object({
  currentRelease: v.pipe(v.string("must be a string"), versionSchema),
  releases: v.array(entrySchema, "must be a list"),
});

export type FeedInput = v.InferInput<typeof feedSchema>;

export interface FeedDeb {
  readonly url: string;
  readonly name?: string;
  readonly sha256?: string;
  readonly sha512?: string;
  readonly size?: number;
}

/** One version of the feed, its entries gathered. */
export interface FeedRelease {
  readonly version: string;
  readonly pubDate?: string;
  readonly notes?: string;
  readonly deb: FeedDeb;
  readonly certificateUrl?: string;
  readonly signatureUrl?: string;
}

export interface Feed {
  readonly currentRelease: string;
  /** Oldest first, by dpkg's order. */
  readonly releases: readonly FeedRelease[];
  /** Entries of a kind we do not use (by URL suffix), for the log. */
  readonly ignored: readonly string[];
}

export class FeedError extends Error {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(
      `malformed feed ${source} (${problems.length} problem${problems.length === 1 ? "" : "s"}): ${problems.join("; ")}`,
    );
    this.name = "FeedError";
  }
}

type EntryKind = "deb" | "certificate" | "signature";

function kindOf(url: URL): EntryKind | undefined {
  const path = url.pathname.toLowerCase();
  if (path.endsWith(".deb")) return "deb";
  if (path.endsWith(".pem") || path.endsWith(".crt")) return "certificate";
  if (path.endsWith(".bin") || path.endsWith(".sig")) return "signature";
  return undefined;
}

interface Group {
  version: string;
  pubDate?: string;
  notes?: string;
  debs: FeedDeb[];
  certificates: string[];
  signatures: string[];
}

/**
 * Validates and groups a feed. `stage` decides which URLs may be downloaded (https, or http on
 * the loopback address in the local stage). Throws FeedError naming every problem.
 */
export function parseFeed(input: unknown, options: { source: string; stage: string }): Feed {
  const parsed = v.safeParse(feedSchema, input, { abortEarly: false });
  if (!parsed.success) {
    throw new FeedError(
      options.source,
      parsed.issues.map((i) => `${v.getDotPath(i) ?? "(feed)"}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const ignored: string[] = [];
  const groups = new Map<string, Group>();
  parsed.output.releases.forEach((entry, i) => {
    const where = `releases.${i}`;
    const { updateTo } = entry;
    if (updateTo.version !== entry.version) {
      problems.push(
        `${where}: version ${entry.version} but updateTo.version ${updateTo.version} (which is it?)`,
      );
      return;
    }
    const urlProblem = fetchUrlProblem(updateTo.url, options.stage);
    if (urlProblem) {
      problems.push(`${where}.updateTo.url: ${urlProblem}`);
      return;
    }
    const kind = kindOf(new URL(updateTo.url));
    if (kind === undefined) {
      ignored.push(updateTo.url);
      return;
    }
    let group = groups.get(entry.version);
    if (group === undefined) {
      const other = [...groups.keys()].find((k) => compareVersions(k, entry.version) === 0);
      if (other !== undefined) {
        problems.push(`${where}: version ${entry.version} equals ${other} in dpkg's order`);
        return;
      }
      group = { version: entry.version, debs: [], certificates: [], signatures: [] };
      groups.set(entry.version, group);
    }
    if (kind === "deb") {
      group.debs.push({
        url: updateTo.url,
        ...(updateTo.name === undefined ? {} : { name: updateTo.name }),
        ...(updateTo.sha256 === undefined ? {} : { sha256: updateTo.sha256 }),
        ...(updateTo.sha512 === undefined ? {} : { sha512: updateTo.sha512 }),
        ...(updateTo.size === undefined ? {} : { size: updateTo.size }),
      });
    } else if (kind === "certificate") group.certificates.push(updateTo.url);
    else group.signatures.push(updateTo.url);
    group.pubDate ??= updateTo.pub_date;
    group.notes ??= updateTo.notes;
  });

  const releases: FeedRelease[] = [];
  for (const g of groups.values()) {
    const at = `version ${g.version}`;
    if (g.debs.length !== 1) {
      problems.push(`${at}: ${g.debs.length} .deb entries (expected exactly one)`);
      continue;
    }
    if (g.certificates.length > 1 || g.signatures.length > 1) {
      problems.push(`${at}: more than one certificate or signature`);
      continue;
    }
    if (g.certificates.length !== g.signatures.length) {
      problems.push(
        `${at}: a ${g.certificates.length === 1 ? "certificate without a signature" : "signature without a certificate"}`,
      );
      continue;
    }
    releases.push({
      version: g.version,
      ...(g.pubDate === undefined ? {} : { pubDate: g.pubDate }),
      ...(g.notes === undefined ? {} : { notes: g.notes }),
      deb: g.debs[0] as FeedDeb,
      ...(g.certificates[0] === undefined ? {} : { certificateUrl: g.certificates[0] }),
      ...(g.signatures[0] === undefined ? {} : { signatureUrl: g.signatures[0] }),
    });
  }
  const current = parsed.output.currentRelease;
  if (problems.length === 0 && !releases.some((r) => r.version === current)) {
    problems.push(`currentRelease ${current} has no .deb entry`);
  }
  if (problems.length > 0) throw new FeedError(options.source, problems);
  releases.sort((a, b) => compareVersions(a.version, b.version));
  return { currentRelease: current, releases, ignored };
}
