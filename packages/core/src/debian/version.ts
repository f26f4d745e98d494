// Debian versions: `[epoch:]upstream[-revision]`, validated to Debian policy §5.6.12 and
// ordered exactly as dpkg orders them (lib/dpkg/version.c, verrevcmp).
//
// Where dpkg's parser is laxer than policy we follow policy and reject:
// - whitespace anywhere (dpkg trims leading and trailing blanks);
// - a colon in the upstream version, i.e. any colon but the epoch's (dpkg allows it; policy
//   dropped it);
// - an epoch with a sign or leading whitespace, like `+1:` or `-0:` (dpkg reads it with strtol).
// Like dpkg we accept leading zeros in the epoch and reject an epoch above INT_MAX. The
// "accepts exactly what dpkg accepts, less these rules" oracle test pins this list.
import * as v from "valibot";

export interface DebianVersion {
  readonly epoch: number;
  readonly upstream: string;
  /** "" when the version has none (which dpkg orders like "0"). */
  readonly revision: string;
}

export class VersionError extends Error {
  override readonly name = "VersionError";

  constructor(
    readonly version: string,
    /** The rule the version breaks. */
    readonly rule: string,
  ) {
    super(`invalid Debian version ${JSON.stringify(version)}: ${rule}`);
  }
}

const MAX_EPOCH = 2_147_483_647; // dpkg stores the epoch in an int
const UPSTREAM_CHARS = /[^A-Za-z0-9.+~-]/;
const REVISION_CHARS = /[^A-Za-z0-9.+~]/;

/** The parts of a version, or the rule it breaks. */
function analyse(s: string): DebianVersion | string {
  if (s === "") return "must not be empty";
  const space = /\s/.exec(s);
  if (space) return `must not contain whitespace (found ${JSON.stringify(space[0])})`;

  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(":");
  if (colon >= 0) {
    const digits = s.slice(0, colon);
    if (!/^[0-9]+$/.test(digits)) return "the epoch (before the colon) must be digits only";
    epoch = Number(digits);
    if (epoch > MAX_EPOCH) return `the epoch must be at most ${MAX_EPOCH}`;
    rest = s.slice(colon + 1);
    if (rest === "") return "nothing follows the epoch's colon";
    if (rest.includes(":")) return "a colon is allowed only after the epoch";
  }

  // The revision is what follows the last hyphen; earlier hyphens belong to upstream.
  const hyphen = rest.lastIndexOf("-");
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : "";
  if (hyphen >= 0 && revision === "") return "the revision (after the last hyphen) is empty";
  if (upstream === "") return "the upstream version is empty";
  if (!/^[0-9]/.test(upstream)) return "the upstream version must start with a digit";
  const badUpstream = UPSTREAM_CHARS.exec(upstream);
  if (badUpstream) {
    return `the upstream version contains ${JSON.stringify(badUpstream[0])} (allowed: A-Z a-z 0-9 . + ~ -)`;
  }
  const badRevision = REVISION_CHARS.exec(revision);
  if (badRevision) {
    return `the revision contains ${JSON.stringify(badRevision[0])} (allowed: A-Z a-z 0-9 . + ~)`;
  }
  return { epoch, upstream, revision };
}

/** Splits a version into its parts; throws VersionError naming the rule it breaks. */
export function parseVersion(s: string): DebianVersion {
  const result = analyse(s);
  if (typeof result === "string") throw new VersionError(s, result);
  return result;
}

export function isValidVersion(s: string): boolean {
  return typeof analyse(s) !== "string";
}

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/** dpkg's order of a character in a non-digit run: ~ < end (and digits) < letters < others. */
function order(c: number | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isLetter(c)) return c;
  if (c === 126) return -1; // ~
  return c + 256;
}

/** dpkg's verrevcmp: alternating non-digit runs (by `order`) and digit runs (numerically). */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (
      (i < a.length && !isDigit(a.charCodeAt(i))) ||
      (j < b.length && !isDigit(b.charCodeAt(j)))
    ) {
      const diff =
        order(i < a.length ? a.charCodeAt(i) : undefined) -
        order(j < b.length ? b.charCodeAt(j) : undefined);
      if (diff !== 0) return diff;
      i++;
      j++;
    }
    // Digit runs compare as numbers of any length: skip leading zeros, then the longer run is
    // larger, and runs of equal length compare by their first differing digit.
    while (a.charCodeAt(i) === 48) i++;
    while (b.charCodeAt(j) === 48) j++;
    let firstDiff = 0;
    while (isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a.charCodeAt(i))) return 1;
    if (isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** dpkg's order of two versions; throws VersionError if either is invalid. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  const result =
    va.epoch - vb.epoch ||
    verrevcmp(va.upstream, vb.upstream) ||
    verrevcmp(va.revision, vb.revision);
  return result < 0 ? -1 : result > 0 ? 1 : 0;
}

/** The version without its epoch, as Debian names pool files; throws VersionError if invalid. */
export function stripEpoch(version: string): string {
  const { upstream, revision } = parseVersion(version);
  return revision === "" ? upstream : `${upstream}-${revision}`;
}

export const versionSchema = v.pipe(
  v.string(),
  v.check(isValidVersion, (issue) => {
    const problem = analyse(String(issue.input));
    return `must be a Debian version ([epoch:]upstream[-revision]): ${typeof problem === "string" ? problem : "invalid"}`;
  }),
);

/** The newest of some versions by dpkg's order (the first of equal ones), or undefined. */
export function newestVersion(versions: Iterable<string>): string | undefined {
  let newest: string | undefined;
  for (const v of versions) if (newest === undefined || compareVersions(v, newest) > 0) newest = v;
  return newest;
}
