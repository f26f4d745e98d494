// One spelling per version as dpkg sees it: `1.0`, `0:1.0`, `1.0-0` and `01.00` are one version
// to dpkg (lib/dpkg/version.c), so a key built from the version (package_id) must use one
// representative of each class, or the table's key uniqueness cannot refuse a duplicate.
//
// dpkg compares epoch numerically, then upstream and revision with verrevcmp: alternating
// non-digit runs (character by character) and digit runs (as numbers), a missing run counting
// as empty (non-digit) or 0 (digit); a missing revision compares like "0". So the canonical form:
// - no epoch when it is 0, else the epoch without leading zeros;
// - every digit run without leading zeros (at least one digit kept);
// - a final digit run of value 0 that follows a non-digit run is dropped (`1.0a0` is `1.0a`),
//   except after a `.`, where it is written (`1.` becomes `1.0`): ordinary versions such as
//   `1.0`, `2.0+dfsg` and `1.0~rc1` are their own canonical form;
// - a revision equal to 0 is dropped, unless the upstream has a hyphen (dropping it would make
//   the upstream's last hyphen the revision's).
import { parseVersion } from "./version";

/** Strips leading zeros of digit runs and settles the final zero run (see above). */
function canonicalRuns(part: string): string {
  let out = part.replace(/[0-9]+/g, (run) => run.replace(/^0+(?=[0-9])/, ""));
  if (/[^0-9]0$/.test(out)) out = out.slice(0, -1);
  if (out.endsWith(".")) out += "0";
  return out;
}

/**
 * The canonical spelling of a version's dpkg-equality class: equal for two versions iff dpkg
 * finds them equal, idempotent, and the identity for versions written the usual way. Throws
 * VersionError for an invalid version.
 */
export function canonicalVersion(version: string): string {
  const { epoch, upstream, revision } = parseVersion(version);
  const up = canonicalRuns(upstream);
  const rev = revision === "" ? "" : canonicalRuns(revision);
  const keepRevision = rev !== "" && (rev !== "0" || up.includes("-"));
  return `${epoch === 0 ? "" : `${epoch}:`}${up}${keepRevision ? `-${rev}` : ""}`;
}
