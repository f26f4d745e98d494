// Where things live in the bucket, and how each kind of object is served.

/** One Packages index: the packages of one component for one machine architecture. */
export interface IndexId {
  readonly suite: string;
  readonly component: string;
  readonly architecture: string;
}

export const indexKey = (i: IndexId): string => `${i.suite}/${i.component}/${i.architecture}`;

export function parseIndexKey(key: string): IndexId {
  const [suite = "", component = "", architecture = ""] = key.split("/");
  return { suite, component, architecture };
}

/** `dists/<suite>` */
export const distDir = (suite: string): string => `dists/${suite}`;

/** Path of an index directory relative to `dists/<suite>/`, as the Release lists it. */
export const indexRelDir = (i: IndexId): string => `${i.component}/binary-${i.architecture}`;

/** The bucket directory of the index with this key, e.g. `dists/stable/main/binary-amd64`. */
export const indexDir = (suite: string, key: string): string =>
  `${distDir(suite)}/${indexRelDir(parseIndexKey(key))}`;

/**
 * The index files published per index. No uncompressed `Packages`: Debian's archive stopped
 * shipping it, apt never needs it, and it would be the largest upload of every publication.
 */
export const INDEX_FILES = ["Packages.gz", "Packages.xz"] as const;
export type IndexFile = (typeof INDEX_FILES)[number];

export const IMMUTABLE = "public, max-age=31536000, immutable";
// Mutable paths are revalidated on every request (`no-cache` still lets a CDN store them and
// answer with a cheap 304), so a CDN never pairs a stale InRelease with fresh indices.
export const REVALIDATE = "public, no-cache";

export interface ObjectHeaders {
  readonly contentType: string;
  readonly cacheControl: string;
}

const CONTENT_TYPES: readonly [RegExp, string][] = [
  [/\.deb$/, "application/vnd.debian.binary-package"],
  [/\.gz$/, "application/gzip"],
  [/\.xz$/, "application/x-xz"],
  [/\.gpg$/, "application/pgp-signature"],
  [/\.asc$/, "application/pgp-keys"],
  [/\.html$/, "text/html; charset=utf-8"],
  [/\/(InRelease|Release)$/, "text/plain; charset=utf-8"],
];

/** Content type and caching of a key (by-hash objects take their index file's type). */
export function objectHeaders(key: string, byHashOf?: IndexFile): ObjectHeaders {
  if (byHashOf !== undefined) {
    return { contentType: objectHeaders(byHashOf).contentType, cacheControl: IMMUTABLE };
  }
  const contentType = key.endsWith("-archive-keyring.gpg")
    ? "application/pgp-keys"
    : (CONTENT_TYPES.find(([re]) => re.test(key.startsWith("/") ? key : `/${key}`))?.[1] ??
      "application/octet-stream");
  const cacheControl =
    key.startsWith("pool/") || key.includes("/by-hash/") ? IMMUTABLE : REVALIDATE;
  return { contentType, cacheControl };
}
