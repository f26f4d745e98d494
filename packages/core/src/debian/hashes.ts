import { createHash } from "node:crypto";

/** Size and the digests that Packages stanzas and build records carry, as lowercase hex. */
export interface DebHashes {
  readonly size: number;
  readonly md5: string;
  readonly sha1: string;
  readonly sha256: string;
  readonly sha512: string;
}

export function debHashes(bytes: Uint8Array): DebHashes {
  const hex = (algorithm: string): string => createHash(algorithm).update(bytes).digest("hex");
  return {
    size: bytes.length,
    md5: hex("md5"),
    sha1: hex("sha1"),
    sha256: hex("sha256"),
    sha512: hex("sha512"),
  };
}
