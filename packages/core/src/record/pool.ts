// Pool paths: where a package's .deb lives in the bucket. Debian's layout, epoch dropped
// (no `:` in keys), `lib*` packages grouped under a four-letter prefix.

import { stripEpoch } from "../debian/version";
import type { PinnedFile } from "./schema";

/** The directory prefix Debian uses: `libx` for `lib*` packages, else the first letter. */
export function poolPrefix(name: string): string {
  return name.startsWith("lib") && name.length > 3 ? name.slice(0, 4) : name.slice(0, 1);
}

/** `pool/main/k/kiro/kiro_0.7.45_amd64.deb` for (main, kiro, 0.7.45, amd64). */
export function poolPath(
  component: string,
  name: string,
  version: string,
  architecture: string,
): string {
  return `pool/${component}/${poolPrefix(name)}/${name}/${name}_${stripEpoch(version)}_${architecture}.deb`;
}

// A segment of a key in the pool: letters, digits and the few punctuation marks Debian names
// and versions use. No `:` (epochs), no `%` (Filename is never URL-encoded), no spaces.
const SAFE_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** Why a path is not a safe pool path, or undefined when it is. */
export function poolPathProblem(path: string): string | undefined {
  if (!path.startsWith("pool/")) return "must start with pool/";
  if (!path.endsWith(".deb")) return "must end with .deb";
  const segments = path.split("/");
  if (segments.length < 3) return "must name a file inside a directory of the pool";
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..") {
      return "must not contain empty, . or .. segments";
    }
    if (!SAFE_SEGMENT.test(segment)) {
      return `segment ${JSON.stringify(segment)} has characters outside [A-Za-z0-9._+~-]`;
    }
  }
  return undefined;
}

export function isSafePoolPath(path: string): boolean {
  return poolPathProblem(path) === undefined;
}

/** The file attributes of a record, from a pool path and the .deb's size and digests. */
export function fileAttributes(
  filename: string,
  h: { size: number; md5: string; sha1: string; sha256: string; sha512: string },
): PinnedFile {
  return {
    filename,
    file_size: h.size,
    md5_hash: h.md5,
    sha1_hash: h.sha1,
    sha256_hash: h.sha256,
    sha512_hash: h.sha512,
  };
}
