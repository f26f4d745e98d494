// Content-addressed copies of index files (`Acquire-By-Hash: yes`): apt fetches
// `<index dir>/by-hash/<SHA256|SHA512>/<hex>` for the strongest hash the Release lists, so a
// client that holds an older InRelease still finds the files it names while newer ones are
// uploaded. Paths here are relative to whatever the caller's are (usually dists/<suite>/).
import type { ReleaseFile } from "./release";

export const BY_HASH_ALGORITHMS = ["SHA256", "SHA512"] as const;
export type ByHashAlgorithm = (typeof BY_HASH_ALGORITHMS)[number];

const HEX_LENGTH: Record<ByHashAlgorithm, number> = { SHA256: 64, SHA512: 128 };
const HASH_KEY = { SHA256: "sha256", SHA512: "sha512" } as const;

export class ByHashError extends Error {
  override readonly name = "ByHashError";
}

function checkIndexPath(indexPath: string): void {
  const segments = indexPath.split("/");
  const bad = segments.find((s, i) => s === "." || s === ".." || (s === "" && i > 0));
  if (indexPath === "" || indexPath.endsWith("/") || bad !== undefined) {
    throw new ByHashError(
      `index path ${JSON.stringify(indexPath)} must name a file, without '.', '..' or empty segments`,
    );
  }
  if (segments.includes("by-hash")) {
    throw new ByHashError(
      `index path ${JSON.stringify(indexPath)} is itself in a by-hash directory`,
    );
  }
}

function checkHex(algorithm: ByHashAlgorithm, hex: string): void {
  if (!(algorithm in HEX_LENGTH))
    throw new ByHashError(`unknown by-hash algorithm ${JSON.stringify(algorithm)}`);
  const length = HEX_LENGTH[algorithm];
  if (!new RegExp(`^[0-9a-f]{${length}}$`).test(hex)) {
    throw new ByHashError(
      `${algorithm} hash ${JSON.stringify(hex)} must be ${length} lowercase hex digits`,
    );
  }
}

/** `main/binary-amd64/Packages.xz` → `main/binary-amd64/by-hash/SHA256/<hex>`; throws ByHashError. */
export function byHashPath(indexPath: string, algorithm: ByHashAlgorithm, hex: string): string {
  checkIndexPath(indexPath);
  checkHex(algorithm, hex);
  const slash = indexPath.lastIndexOf("/");
  const dir = slash < 0 ? "" : indexPath.slice(0, slash + 1);
  return `${dir}by-hash/${algorithm}/${hex}`;
}

export interface ByHashPathParts {
  /** The index directory, with its trailing `/` ("" for the top). */
  readonly dir: string;
  readonly algorithm: ByHashAlgorithm;
  readonly hex: string;
}

/** The parts of a by-hash object path, or undefined if `path` is not one (for cleaning up old objects). */
export function parseByHashPath(path: string): ByHashPathParts | undefined {
  const m = /^((?:[^/]+\/)*)by-hash\/(SHA256|SHA512)\/([0-9a-f]+)$/.exec(path);
  if (m === null) return undefined;
  const [, dir = "", algorithm, hex = ""] = m;
  if (algorithm !== "SHA256" && algorithm !== "SHA512") return undefined;
  if (hex.length !== HEX_LENGTH[algorithm]) return undefined;
  if (dir.split("/").some((s) => s === "." || s === ".." || s === "by-hash")) return undefined;
  return { dir, algorithm, hex };
}

export interface ByHashObject {
  /** Where the copy goes. */
  readonly path: string;
  /** The index file it is a copy of (the first, by path, if several in one directory are equal). */
  readonly source: string;
  readonly algorithm: ByHashAlgorithm;
  readonly hex: string;
  readonly size: number;
}

/**
 * The by-hash copies a Release implies: one per file and algorithm, sorted by path, without
 * duplicates (equal files in one directory share one object). Throws ByHashError if a file
 * lacks a hash asked for.
 */
export function byHashObjects(
  files: readonly ReleaseFile[],
  algorithms: readonly ByHashAlgorithm[],
): ByHashObject[] {
  const objects = new Map<string, ByHashObject>();
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    for (const algorithm of algorithms) {
      const hex = file[HASH_KEY[algorithm]];
      if (hex === undefined) throw new ByHashError(`${file.path} has no ${algorithm} hash`);
      const path = byHashPath(file.path, algorithm, hex);
      const seen = objects.get(path);
      if (seen !== undefined && seen.size !== file.size) {
        throw new ByHashError(
          `${seen.source} and ${file.path} have the same ${algorithm} but different sizes`,
        );
      }
      if (seen === undefined)
        objects.set(path, { path, source: file.path, algorithm, hex, size: file.size });
    }
  }
  return [...objects.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
