// Step 1 of a publication (docs/architecture.md, "One record"): from a valid record to its index
// entry, the stanza the Packages files list. A manual/upstream record names a pool file that
// its writer uploaded first; the pool is checked for it, and a record whose file is missing, of
// another size or of another MD5 is held back (apt would pick it, and every install would fail)
// and reported loudly, while the rest publishes. A build record's .deb is built here, uploaded
// to the pool if absent, and its size and hashes pinned on the record the first time; a pinned
// build whose bytes changed is refused.
import type { Logger } from "pino";
import type { Paragraph } from "../debian/control";
import { readDeb } from "../debian/deb";
import { debHashes } from "../debian/hashes";
import { renderStanza } from "../debian/stanza";
import { recordControl } from "../record/control";
import { fileAttributes, poolPath } from "../record/pool";
import type { PackageRecord, PinnedFile, RecordIssue, RecordResult } from "../record/schema";
import type { ObjectHead, ObjectStore } from "./bucket";
import { buildRecordDeb } from "./build";
import type { Entry } from "./chunks";
import { objectHeaders } from "./layout";
import type { Change } from "./plan";
import type { PublisherSettings } from "./settings";

/** What the publisher needs of the package table (PackageStore provides it). */
export interface RecordSource {
  getMany(ids: readonly string[]): Promise<Map<string, RecordResult | undefined>>;
  /** Every item; `segments` > 1 scans in parallel (PackageStore does). */
  scan(options?: { segments?: number }): AsyncIterable<RecordResult>;
  versionsOf(name: string): Promise<PackageRecord[]>;
  pinFile(id: string, file: PinnedFile): Promise<"pinned" | "already">;
}

/** Where a record lives: the suite and component named on it (or the stage's defaults). */
export interface Location {
  readonly suite: string;
  readonly component: string;
}

export function locationOf(
  record: PackageRecord,
  settings: Pick<PublisherSettings, "defaultSuite" | "defaultComponent">,
): Location {
  return {
    suite: record.suite ?? settings.defaultSuite,
    component: record.component ?? settings.defaultComponent,
  };
}

/** A change to publish: an id, and every location its stream images placed it in. */
export interface Touch {
  readonly id: string;
  readonly locations: readonly Location[];
  /**
   * The pool files its old images named (stream.ts): those the record no longer names become
   * candidates for the pool sweep (pool-sweep.ts), never deleted before it checks again.
   */
  readonly files?: readonly PoolRef[];
}

/** A pool file, and the suite of the record that named it (its retired list holds it). */
export interface PoolRef {
  readonly suite: string;
  readonly filename: string;
}

/** The pool file a valid record names: its `filename`, or where a build record's goes. */
export function recordFilename(
  record: PackageRecord,
  settings: Pick<PublisherSettings, "defaultSuite" | "defaultComponent">,
): string {
  return (
    record.filename ??
    poolPath(
      locationOf(record, settings).component,
      record.package_name,
      record.version,
      record.architecture,
    )
  );
}

/** A record's entry, placed where it is published. */
export interface Placed {
  readonly location: Location;
  readonly entry: Entry;
}

/** What the pool says of a file without reading it: its size and ETag. */
export type PoolFile = Pick<ObjectHead, "size" | "etag">;

/**
 * What a publication learns about the pool: one HEAD per file (an incremental publication), or
 * one listing of the pool (a full build). Both say the same (size, ETag), so an incremental
 * publication and a rebuild judge a file alike.
 */
export interface PoolView {
  file(key: string): Promise<PoolFile | undefined>;
}

export const headPool = (bucket: ObjectStore): PoolView => ({
  file: (key) => bucket.head(key),
});

export async function listedPool(bucket: ObjectStore): Promise<PoolView> {
  const files = new Map<string, PoolFile>();
  for await (const o of bucket.list("pool/")) files.set(o.key, o);
  return { file: async (key) => files.get(key) };
}

/** A record not published because of its pool file. */
export interface HeldBack {
  readonly id: string;
  readonly filename: string;
  readonly problem: string;
}

/** What reading the records of one attempt reports (the publication's report takes it over). */
export interface EntryReport {
  readonly invalid: { key: string; issues: readonly RecordIssue[] }[];
  readonly heldBack: HeldBack[];
  readonly failed: { id: string; error: string }[];
}

export interface EntryContext {
  readonly bucket: ObjectStore;
  readonly records: RecordSource;
  readonly settings: PublisherSettings;
  readonly logger: Logger;
  readonly pool: PoolView;
  readonly report: EntryReport;
}

/**
 * The touched ids as changes to plan: their truth read now (never the stream's images, which
 * may be stale, duplicated or out of order), and every place their images named.
 */
export async function touchedChanges(
  touches: readonly Touch[],
  ctx: EntryContext,
): Promise<Map<string, Change>> {
  const was = new Map<string, Location[]>();
  const files = new Map<string, PoolRef[]>();
  for (const t of touches) {
    was.set(t.id, [...(was.get(t.id) ?? []), ...t.locations]);
    files.set(t.id, [...(files.get(t.id) ?? []), ...(t.files ?? [])]);
  }
  const truth = await ctx.records.getMany([...was.keys()]);
  const out = new Map<string, Change>();
  for (const [id, locations] of was) {
    const result = truth.get(id);
    let now: Placed | null = null;
    if (result !== undefined && !result.ok) {
      ctx.report.invalid.push({ key: result.key, issues: result.issues });
    } else if (result !== undefined) {
      const entry = await entryOf(result.record, ctx);
      if (entry !== undefined) now = { location: locationOf(result.record, ctx.settings), entry };
    }
    // A file the record still names is no candidate (an invalid record's is unknown: its
    // files stay candidates, and the sweep keeps them while the item exists).
    const kept = result?.ok ? recordFilename(result.record, ctx.settings) : undefined;
    const released = uniqueRefs((files.get(id) ?? []).filter((f) => f.filename !== kept));
    out.set(id, { id, now, was: locations, ...(released.length > 0 ? { released } : {}) });
  }
  return out;
}

const uniqueRefs = (refs: readonly PoolRef[]): PoolRef[] => [
  ...new Map(refs.map((r) => [`${r.suite}\0${r.filename}`, r])).values(),
];

/** Parallel segments of a table scan. */
const SCAN_SEGMENTS = 4;

/**
 * Every valid record of the suites `only` (all by default) as placed entries, from one scan
 * of the table. Touched ids keep the truth they were read with. Also returns every valid
 * record (a rebuild copies the newest kiro-repo from them).
 */
export async function suiteMembers(
  only: ReadonlySet<string> | undefined,
  touched: ReadonlyMap<string, Change>,
  ctx: EntryContext,
): Promise<{ members: Map<string, Placed[]>; valid: PackageRecord[] }> {
  const members = new Map<string, Placed[]>();
  const add = (placed: Placed) => {
    const suite = placed.location.suite;
    if (only !== undefined && !only.has(suite)) return;
    const list = members.get(suite);
    if (list === undefined) members.set(suite, [placed]);
    else list.push(placed);
  };
  const valid: PackageRecord[] = [];
  for await (const result of ctx.records.scan({ segments: SCAN_SEGMENTS })) {
    if (!result.ok) {
      ctx.report.invalid.push({ key: result.key, issues: result.issues });
      continue;
    }
    valid.push(result.record);
    if (touched.has(result.record.package_id)) continue;
    const location = locationOf(result.record, ctx.settings);
    if (only !== undefined && !only.has(location.suite)) continue;
    const entry = await entryOf(result.record, ctx);
    if (entry !== undefined) add({ location, entry });
  }
  for (const c of touched.values()) if (c.now) add(c.now);
  return { members, valid };
}

/** The index entry of a valid record, or undefined when it cannot be published. */
export async function entryOf(
  record: PackageRecord,
  ctx: EntryContext,
): Promise<Entry | undefined> {
  if (record.source === "build") return buildEntry(record, ctx);
  const { filename } = record;
  const problem = poolProblem(await ctx.pool.file(filename), record);
  if (problem !== undefined) {
    const held = { id: record.package_id, filename, problem };
    ctx.report.heldBack.push(held);
    ctx.logger.error(held, "pool file missing or not the record's: held back, not published");
    return undefined;
  }
  return rendered(record, ctx, () => ({
    filename,
    size: record.file_size,
    md5: record.md5_hash,
    sha1: record.sha1_hash,
    sha256: record.sha256_hash,
    sha512: record.sha512_hash,
  }));
}

/**
 * The one pool check: what is wrong with the pool file `found` (undefined: absent) for a record.
 * The ETag of a single-part upload is its MD5 (SSE-S3 included); a multipart ETag (`…-N`), or
 * any other form, says nothing about the content, and only the size is compared. A checksum
 * stored at upload is not used: a listing cannot say it, and a rebuild must judge as a HEAD does.
 */
export function poolProblem(
  found: PoolFile | undefined,
  record: { readonly file_size: number; readonly md5_hash: string },
): string | undefined {
  if (found === undefined) return "missing from the pool";
  if (found.size !== record.file_size) {
    return `has ${found.size} bytes, the record says ${record.file_size}`;
  }
  const md5 = etagMd5(found.etag);
  if (md5 !== undefined && md5 !== record.md5_hash.toLowerCase()) {
    return `has MD5 ${md5} (its ETag), the record says ${record.md5_hash}`;
  }
  return undefined;
}

/** The MD5 an ETag states, or undefined when it states none (multipart, absent, unknown). */
export function etagMd5(etag: string | undefined): string | undefined {
  const hex = /^"?([0-9a-fA-F]{32})"?$/.exec(etag ?? "")?.[1];
  return hex?.toLowerCase();
}

async function buildEntry(record: PackageRecord, ctx: EntryContext): Promise<Entry | undefined> {
  const { bucket, records, logger, report } = ctx;
  const fail = (error: string): undefined => {
    logger.error({ id: record.package_id }, error);
    report.failed.push({ id: record.package_id, error });
    return undefined;
  };
  let bytes: Uint8Array;
  try {
    bytes = buildRecordDeb(record);
  } catch (error) {
    return fail(`build failed: ${(error as Error).message}`);
  }
  const h = debHashes(bytes);
  const filename = recordFilename(record, ctx.settings);
  if (record.sha256_hash !== undefined && record.sha256_hash !== h.sha256) {
    return fail(
      `rebuilt .deb differs from the pinned one (sha256 ${h.sha256} != ${record.sha256_hash}): a published version never changes its bytes; publish a new version instead`,
    );
  }
  const existing = (await ctx.pool.file(filename))?.size;
  if (existing === undefined) {
    await bucket.put(filename, bytes, objectHeaders(filename));
    logger.info(
      { id: record.package_id, filename, size: h.size },
      "built and uploaded to the pool",
    );
  } else if (existing !== h.size) {
    return fail(
      `pool file ${filename} has ${existing} bytes, the build has ${h.size}: refusing to overwrite a published file`,
    );
  }
  if (record.sha256_hash === undefined) {
    await records.pinFile(record.package_id, fileAttributes(filename, h));
    logger.info(
      { id: record.package_id, sha256: h.sha256 },
      "pinned size and hashes on the record",
    );
  }
  return rendered(record, ctx, () => ({ filename, ...h }), readDeb(bytes, filename).control);
}

/**
 * The entry of a record, or undefined, reported like an invalid record, when its stanza cannot
 * be rendered (e.g. a `control_extra` field that collides with one the index writes): one
 * record never fails a publication or a rebuild.
 */
function rendered(
  record: PackageRecord,
  ctx: EntryContext,
  file: () => Parameters<typeof entry>[2],
  control?: Paragraph,
): Entry | undefined {
  try {
    return entry(record, control ?? recordControl(record), file());
  } catch (error) {
    const issue = { field: "(item)", message: `cannot be rendered: ${(error as Error).message}` };
    ctx.report.invalid.push({ key: JSON.stringify(record.package_id), issues: [issue] });
    ctx.logger.warn(
      { id: record.package_id, error: issue.message },
      "record cannot be rendered: skipped",
    );
    return undefined;
  }
}

function entry(
  record: PackageRecord,
  control: Paragraph,
  file: {
    filename: string;
    size: number;
    md5: string;
    sha1: string;
    sha256: string;
    sha512: string;
  },
): Entry {
  return {
    id: record.package_id,
    name: record.package_name,
    version: record.version,
    architecture: record.architecture,
    stanza: renderStanza({ control, ...file }),
  };
}
