// The legacy table, as the old Python Lambda wrote it: one item per kiro release, keyed by
// `version`, with what it knew of the download. Everything it did not always write is optional.
import * as v from "valibot";

/** The old system kept kiro releases only, all amd64 (REFERENCE.md §1). */
export const LEGACY_PACKAGE = "kiro";
export const LEGACY_ARCHITECTURE = "amd64";

const hex = (digits: number, what: string) =>
  v.pipe(
    v.string(),
    v.regex(new RegExp(`^[0-9a-fA-F]{${digits}}$`), `must be ${what} (${digits} hex digits)`),
    v.toLowerCase(),
  );

export const legacyRowSchema = v.looseObject({
  version: v.pipe(v.string("must be a string"), v.nonEmpty("must not be empty")),
  deb_url: v.optional(v.string()),
  certificate_url: v.optional(v.string()),
  signature_url: v.optional(v.string()),
  notes: v.optional(v.string()),
  pub_date: v.optional(v.string()),
  actual_filename: v.optional(v.string()),
  s3_key: v.optional(v.string()),
  file_size: v.optional(
    v.pipe(
      v.union(
        [v.number(), v.pipe(v.string(), v.regex(/^\d+$/, "must be a whole number"))],
        "must be a whole number",
      ),
      v.transform(Number),
      v.integer("must be a whole number"),
      v.minValue(1, "must be at least 1"),
    ),
  ),
  md5_hash: v.optional(hex(32, "an MD5")),
  sha1_hash: v.optional(hex(40, "a SHA-1")),
  sha256_hash: v.optional(hex(64, "a SHA-256")),
  sha512_hash: v.optional(hex(128, "a SHA-512")),
  processed_timestamp: v.optional(v.string()),
});
export type LegacyRow = v.InferOutput<typeof legacyRowSchema>;

/** How a legacy item is named in messages and reports: `version=<v>`. */
export function legacyKey(item: Record<string, unknown>): string {
  const version = item.version;
  return `version=${typeof version === "string" ? version : JSON.stringify(version ?? null)}`;
}

/** The legacy timestamp as ISO 8601 with zone: the old Lambda wrote UTC without one. */
export function normaliseTimestamp(text: string | undefined, now: Date): string {
  if (text === undefined || text.trim() === "") return now.toISOString();
  const trimmed = text.trim();
  const zoned = /(Z|[+-]\d{2}:?\d{2})$/i.test(trimmed) ? trimmed : `${trimmed}Z`;
  const date = new Date(zoned);
  if (Number.isNaN(date.getTime()))
    throw new Error(`processed_timestamp ${JSON.stringify(text)} is not a date`);
  return date.toISOString();
}

/** Where the old deployment's bucket may hold the .deb: what the item names, then its pool dir. */
export function legacyKeys(item: Pick<LegacyRow, "s3_key" | "actual_filename">): string[] {
  const keys: string[] = [];
  if (item.s3_key !== undefined && item.s3_key !== "") keys.push(item.s3_key.replace(/^\/+/, ""));
  const file = item.actual_filename;
  if (file !== undefined && file !== "") {
    if (file.includes("/")) keys.push(file.replace(/^\/+/, ""));
    else keys.push(`pool/main/k/kiro/${file}`, file);
  }
  return [...new Set(keys)];
}

/** The hashes a legacy row states, in the ingestion's terms (checked against the bytes). */
export function statedHashes(row: LegacyRow): {
  size?: number;
  md5?: string;
  sha1?: string;
  sha256?: string;
  sha512?: string;
} {
  return {
    ...(row.file_size === undefined ? {} : { size: row.file_size }),
    ...(row.md5_hash === undefined ? {} : { md5: row.md5_hash }),
    ...(row.sha1_hash === undefined ? {} : { sha1: row.sha1_hash }),
    ...(row.sha256_hash === undefined ? {} : { sha256: row.sha256_hash }),
    ...(row.sha512_hash === undefined ? {} : { sha512: row.sha512_hash }),
  };
}
