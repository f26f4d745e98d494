// Whether the published index lists a record: read from the bucket, so it works the same in the
// cloud and in the local stage (`--wait` of import-deb and build-kiro-repo).
import { gunzipSync } from "node:zlib";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { getField, parseParagraphs } from "../debian/control";
import type { PackageRecord } from "../record";
import type { Bucket } from "./staging";

export interface IndexLocation {
  readonly suite: string;
  readonly component: string;
  /** For an `all` package: one of the stage's machine architectures. */
  readonly architecture: string;
}

/** Where a record appears: its suite and component, or the stage's defaults. */
export function indexLocation(
  record: PackageRecord,
  defaults: { suite: string; component: string; architectures: readonly string[] },
): IndexLocation {
  return {
    suite: record.suite ?? defaults.suite,
    component: record.component ?? defaults.component,
    architecture:
      record.architecture === "all" ? (defaults.architectures[0] ?? "amd64") : record.architecture,
  };
}

/**
 * True when `dists/<suite>/<component>/binary-<arch>/Packages.gz` lists the record: its name,
 * version and architecture, and its exact bytes when the record pins them. A build record has
 * no hashes before the publisher builds it, so its identity is what can be waited for.
 */
export async function isPublished(
  bucket: Bucket,
  record: PackageRecord,
  at: IndexLocation,
): Promise<boolean> {
  const key = `dists/${at.suite}/${at.component}/binary-${at.architecture}/Packages.gz`;
  let bytes: Uint8Array | undefined;
  try {
    const out = await bucket.s3.send(new GetObjectCommand({ Bucket: bucket.name, Key: key }));
    bytes = await out.Body?.transformToByteArray();
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return false;
    throw error;
  }
  if (bytes === undefined) return false;
  const text = gunzipSync(bytes).toString("utf8");
  return parseParagraphs(text, key).some(
    (p) =>
      getField(p, "Package") === record.package_name &&
      getField(p, "Version") === record.version &&
      getField(p, "Architecture") === record.architecture &&
      (record.sha256_hash === undefined || getField(p, "SHA256") === record.sha256_hash),
  );
}

export interface WaitOptions {
  /** Where records without a suite or component appear (the stage's defaults). */
  readonly defaults: { suite: string; component: string; architectures: readonly string[] };
  readonly timeoutMs: number;
  /** Between reads of the index (default 1 s). */
  readonly intervalMs?: number;
  readonly onPublished?: (record: PackageRecord, at: IndexLocation) => void;
}

/**
 * Reads the index until it lists every record; throws naming the ones still missing once
 * `timeoutMs` has passed. Reads at least once, so a record already published never waits.
 */
export async function waitUntilPublished(
  bucket: Bucket,
  records: readonly PackageRecord[],
  options: WaitOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const pending = new Set(records);
  for (;;) {
    for (const record of [...pending]) {
      const at = indexLocation(record, options.defaults);
      if (await isPublished(bucket, record, at)) {
        options.onPublished?.(record, at);
        pending.delete(record);
      }
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      throw new Error(
        `not published after ${options.timeoutMs / 1000} s: ${[...pending].map((r) => r.package_id).join(", ")}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
  }
}
