// One legacy item into the package table, through the sources' single ingestion path
// (ingestOne: the control paragraph read from the .deb as it streams, verbatim; the four
// digests; the pool copy before the record). Where the .deb comes from, in this order:
//   1. the repository bucket, at its pool path (a run that stopped after the copy);
//   2. the legacy bucket, under the keys the item names: read as a stream for the checks and
//      digests, then placed at its pool path by a server-side CopyObject conditional on the ETag
//      that was read (so the bytes checked are the bytes published, and an item that fails its
//      checks writes nothing, on every rerun); where the copy is denied (another account
//      without a bucket policy granting it), streamed from the legacy bucket into the same
//      multipart upload the poller uses;
//   3. the item's deb_url, fetched like the poller fetches (https only, but for the local
//      stage's loopback).
// Nothing is held whole in memory. What the item states (size, hashes) must match the bytes.
import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { ControlError } from "../debian/control";
import { DebFormatError } from "../debian/format-error";
import { VersionError } from "../debian/version";
import { isS3NotFound } from "../publish/bucket";
import { type PackageRecord, poolPath, RecordError } from "../record";
import { type Download, DownloadError } from "../sources/fetch";
import { IngestError } from "../sources/ingest";
import { ingestOne } from "../sources/manual";
import { retrying, type SourceContext } from "../sources/run";
import { SignatureError } from "../sources/signature";
import { type Bucket, DEB_CONTENT_TYPE, POOL_CACHE_CONTROL } from "../sources/staging";
import { VersionExistsError } from "../store/errors";
import { describeError, RetryExhaustedError } from "../store/retry";
import { LEGACY_ARCHITECTURE, LEGACY_PACKAGE, legacyKeys, statedHashes } from "./legacy";
import type { RowDecision } from "./plan";

/** The old deployment's bucket, with the client that may read it (another account's, maybe). */
export interface LegacyBucket {
  readonly s3: S3Client;
  readonly name: string;
}

/** How a migrated item's .deb reached its pool path. */
export type Via =
  | "server-side copy"
  | "streamed (copy denied)"
  | "streamed (dry run)"
  | "repository pool"
  | "deb_url";

export type ItemOutcome =
  | {
      readonly kind: "migrated" | "dry-run";
      readonly key: string;
      readonly id: string;
      readonly via: Via;
      readonly record: PackageRecord;
    }
  | { readonly kind: "skipped"; readonly key: string; readonly id: string; readonly reason: string }
  | { readonly kind: "reported"; readonly key: string; readonly problems: readonly string[] };

/** A problem of the item (its data, its file, its URL), reported; anything else stops the run. */
export function isItemProblem(error: unknown): boolean {
  if (error instanceof RetryExhaustedError) return error.cause instanceof DownloadError;
  return (
    error instanceof IngestError ||
    error instanceof DebFormatError ||
    error instanceof ControlError ||
    error instanceof RecordError ||
    error instanceof SignatureError ||
    error instanceof DownloadError ||
    error instanceof VersionExistsError ||
    error instanceof VersionError
  );
}

/** Whether S3 refused a request for lack of permission (e.g. a cross-account CopyObject). */
export function isAccessDenied(error: unknown): boolean {
  const e = error as { name?: unknown; Code?: unknown; $metadata?: { httpStatusCode?: unknown } };
  return (
    e?.name === "AccessDenied" || e?.Code === "AccessDenied" || e?.$metadata?.httpStatusCode === 403
  );
}

const encodeKey = (key: string) => key.split("/").map(encodeURIComponent).join("/");

function bodyOf(out: GetObjectCommandOutput, what: string): AsyncIterable<Uint8Array> {
  const body: unknown = out.Body;
  if (typeof body !== "object" || body === null || !(Symbol.asyncIterator in body)) {
    throw new Error(`${what}: S3 returned no body stream`);
  }
  return body as AsyncIterable<Uint8Array>;
}

async function openObject(
  s3: S3Client,
  bucket: string,
  key: string,
): Promise<Download & { etag?: string }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return {
    body: bodyOf(out, `s3://${bucket}/${key}`),
    ...(out.ContentLength === undefined ? {} : { contentLength: out.ContentLength }),
    ...(out.ETag === undefined ? {} : { etag: out.ETag }),
  };
}

/** The repository's credentials may not CopyObject from the legacy bucket. */
export class CopyDeniedError extends Error {
  constructor(source: string, cause: unknown) {
    super(`server-side copy from ${source} denied: ${describeError(cause)}`, { cause });
    this.name = "CopyDeniedError";
  }
}

/** Whether server-side copies from the legacy bucket were denied in this run (then: stream). */
export interface CopyState {
  denied: boolean;
}

/** CopyObject from another bucket to a pool path, only if the source still has the ETag read. */
async function copyFrom(
  repo: Bucket,
  source: { bucket: string; key: string; etag: string | undefined },
  to: string,
  state: CopyState,
): Promise<void> {
  try {
    await repo.s3.send(
      new CopyObjectCommand({
        Bucket: repo.name,
        Key: to,
        CopySource: `${source.bucket}/${encodeKey(source.key)}`,
        ...(source.etag === undefined ? {} : { CopySourceIfMatch: source.etag }),
        MetadataDirective: "REPLACE",
        ContentType: DEB_CONTENT_TYPE,
        CacheControl: POOL_CACHE_CONTROL,
      }),
    );
  } catch (error) {
    const name = (error as { name?: unknown }).name;
    if (name === "PreconditionFailed") {
      throw new IngestError(
        `s3://${source.bucket}/${source.key}`,
        "changed while it was being migrated (its ETag is not the one read); run the migration again",
      );
    }
    if (!isAccessDenied(error)) throw error;
    state.denied = true;
    throw new CopyDeniedError(`s3://${source.bucket}/${source.key}`, error);
  }
}

interface Location {
  readonly where: "repository" | "legacy";
  readonly bucket: string;
  readonly key: string;
}

/** The first location holding the .deb, and what was looked at (for the report). */
async function locate(
  context: SourceContext,
  legacy: LegacyBucket,
  candidates: readonly Location[],
): Promise<{ found: Location | undefined; looked: string[] }> {
  const looked: string[] = [];
  for (const location of candidates) {
    const s3 = location.where === "repository" ? context.target.bucket.s3 : legacy.s3;
    const url = `s3://${location.bucket}/${location.key}`;
    try {
      await retrying(context, `head ${url}`, () =>
        s3.send(new HeadObjectCommand({ Bucket: location.bucket, Key: location.key })),
      );
      return { found: location, looked };
    } catch (error) {
      // Without s3:ListBucket S3 answers 403 for a missing key: absent, as far as we can tell.
      if (isS3NotFound(error)) looked.push(url);
      else if (isAccessDenied(error)) looked.push(`${url} (access denied)`);
      else throw error;
    }
  }
  return { found: undefined, looked };
}

/**
 * Carries out one decision of planMigration. Item problems come back as "reported" (nothing
 * written for it); a failure of the table or the repository bucket throws.
 */
export async function migrateItem(
  context: SourceContext,
  legacy: LegacyBucket,
  decision: RowDecision,
  options: { dryRun?: boolean; copyState?: CopyState } = {},
): Promise<ItemOutcome> {
  const copyState = options.copyState ?? { denied: false };
  if (decision.kind === "report") return { ...decision, kind: "reported" };
  if (decision.kind === "skip") return { ...decision, kind: "skipped" };
  const { row, key } = decision;
  const repo = context.target.bucket;
  const dryRun = options.dryRun === true;
  const filename = poolPath(
    context.stage.default_component,
    LEGACY_PACKAGE,
    row.version,
    LEGACY_ARCHITECTURE,
  );
  const candidates: Location[] = [
    { where: "repository", bucket: repo.name, key: filename },
    ...legacyKeys(row).map((k): Location => ({ where: "legacy", bucket: legacy.name, key: k })),
  ];
  // The legacy row's timestamp is the record's: when the version was first processed.
  const rowContext: SourceContext = { ...context, now: () => new Date(decision.processed) };
  const provenance = {
    ...(row.deb_url === undefined ? {} : { deb_url: row.deb_url }),
    ...(row.actual_filename === undefined ? {} : { actual_filename: row.actual_filename }),
    ...(row.certificate_url === undefined ? {} : { certificate_url: row.certificate_url }),
    ...(row.signature_url === undefined ? {} : { signature_url: row.signature_url }),
    ...(row.notes === undefined ? {} : { notes: row.notes }),
    ...(row.pub_date === undefined ? {} : { pub_date: row.pub_date }),
  };
  const common = {
    name: LEGACY_PACKAGE,
    version: row.version,
    architecture: LEGACY_ARCHITECTURE,
    source: "migration" as const,
    provenance,
    expected: statedHashes(row),
    ...(dryRun ? { dryRun: true } : {}),
  };
  try {
    const { found, looked } = await locate(context, legacy, candidates);
    let via: Via;
    let from: string | (() => Promise<Download>);
    let label: string;
    if (found !== undefined) {
      label = `${key} (s3://${found.bucket}/${found.key})`;
      const s3 = found.where === "repository" ? repo.s3 : legacy.s3;
      const open = () => openObject(s3, found.bucket, found.key);
      if (dryRun) {
        via = found.where === "repository" ? "repository pool" : "streamed (dry run)";
        from = open;
      } else if (found.where === "repository") {
        // Already at its pool path (a run that stopped before the record): read it, keep it.
        via = "repository pool";
        from = async () => ({ ...(await open()), copyTo: async () => undefined });
      } else if (copyState.denied) {
        via = "streamed (copy denied)";
        from = open;
      } else {
        via = "server-side copy";
        from = async () => {
          const download = await open();
          return {
            ...download,
            copyTo: (to: string) =>
              copyFrom(repo, { ...found, etag: download.etag }, to, copyState),
          };
        };
      }
    } else if (row.deb_url !== undefined && row.deb_url !== "") {
      via = "deb_url";
      from = row.deb_url;
      label = `${key} (${row.deb_url})`;
    } else {
      return {
        kind: "reported",
        key,
        problems: [
          `no .deb: not in ${looked.join(", ")}, and the item has no deb_url to fetch it from`,
        ],
      };
    }
    let result: Awaited<ReturnType<typeof ingestOne>>;
    try {
      result = await ingestOne(rowContext, { ...common, from, label });
    } catch (error) {
      if (!(error instanceof CopyDeniedError) || found === undefined) throw error;
      // Another account's bucket: stream it into the repository instead (this item read it
      // once already; the rest of the run streams at once).
      context.target.logger.info({ key, error: error.message }, "streaming the .deb instead");
      via = "streamed (copy denied)";
      result = await ingestOne(rowContext, {
        ...common,
        from: () => openObject(legacy.s3, found.bucket, found.key),
        label,
      });
    }
    if (result.outcome === "unchanged") {
      return { kind: "skipped", key, id: result.record.package_id, reason: "already recorded" };
    }
    return {
      kind: result.outcome === "dry-run" ? "dry-run" : "migrated",
      key,
      id: result.record.package_id,
      via,
      record: result.record,
    };
  } catch (error) {
    if (!isItemProblem(error)) throw error;
    return { kind: "reported", key, problems: [describeError(error)] };
  }
}
