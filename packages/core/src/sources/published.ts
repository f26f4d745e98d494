// Whether the published index lists a record: read from the bucket, so it works the same in the
// cloud and in the local stage (`--wait` of the import).
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

/** True when `dists/<suite>/<component>/binary-<arch>/Packages.gz` lists these exact bytes. */
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
      getField(p, "SHA256") === record.sha256_hash,
  );
}
