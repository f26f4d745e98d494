// Pool retention (docs/architecture.md §7): the publisher deletes a pool file only when a
// record that named it went (a REMOVE, or a record moved to another file), the by-hash grace
// period has passed since (a client holding the previous index may still download it), and,
// checked again at that moment, nothing refers to it. Every other file in the pool is never
// touched: an operator uploads a .deb before writing its record, and migrate/import stage,
// copy, then write, so a file with no record is the normal state of a file about to be
// published. A wrong delete loses a user's package; every doubt keeps the file.
//
// The checks, in order, on the expired candidates only (no scan of the package table):
//   1. the ids that named it (one consistent BatchGetItem): a record there that names the file
//      (re-written, a build record's own path included) or an invalid item (its file unknown)
//      keeps it; a held-back record refers to its file without being published, so the table
//      is asked, not the index
//   2. every record of those ids' packages (one Query of the by-name index per package: a
//      version that differs only by its epoch has the same pool path), every suite's current
//      indexes (a record of another id naming the same file), and every
//      suite's candidates still in their grace period (the file was named again, and released
//      again since: its grace counts from then)
//   3. a HEAD: a file gone is done; a file written after it became a candidate (uploaded
//      again, e.g. before its record is re-written) is kept
// A record re-written in the milliseconds between the checks and the DeleteObjects is held
// back (its file missing, reported loudly) and needs its file uploaded again.
import { gunzipSync } from "node:zlib";
import type { Logger } from "pino";
import { packageIdParts } from "../record/schema";
import type { ObjectStore } from "./bucket";
import { type PoolRef, type RecordSource, recordFilename } from "./entries";
import { indexDir } from "./layout";
import type { Change } from "./plan";
import type { PublisherSettings } from "./settings";
import type { Retired, StateStore } from "./state";
import { byHashKey } from "./writer";

export interface PoolSweepDeps {
  readonly records: RecordSource;
  readonly state: StateStore;
  readonly bucket: ObjectStore;
  readonly settings: PublisherSettings;
  readonly logger: Logger;
}

/** Whether a retired entry is a pool file's (the by-hash ones are under dists/). */
export const isPoolKey = (key: string): boolean => key.startsWith("pool/");

/**
 * The candidates a publication's changes release, by suite: one entry per file, with every id
 * that named it.
 */
export function releasedPool(changes: Iterable<Change>, at: string): Map<string, Retired[]> {
  const byFile = new Map<string, { ref: PoolRef; ids: Set<string> }>();
  for (const c of changes) {
    for (const ref of c.released ?? []) {
      const k = `${ref.suite}\0${ref.filename}`;
      const found = byFile.get(k) ?? { ref, ids: new Set<string>() };
      found.ids.add(c.id);
      byFile.set(k, found);
    }
  }
  const out = new Map<string, Retired[]>();
  for (const { ref, ids } of byFile.values()) {
    const list = out.get(ref.suite) ?? [];
    list.push({ key: ref.filename, at, ids: [...ids].sort() });
    out.set(ref.suite, list);
  }
  return out;
}

/** Parallel HEADs of the expired candidates. */
const HEADS_AT_ONCE = 16;

/**
 * Deletes the expired candidates nothing refers to, and forgets every one it decided on. A
 * failure keeps them all for the next publication (the publication itself has succeeded).
 */
export async function sweepPool(
  deps: PoolSweepDeps,
  expired: ReadonlyMap<string, readonly Retired[]>,
  before: Date,
): Promise<void> {
  try {
    const doomed = await doomedFiles(deps, [...expired.values()].flat(), before);
    if (doomed === undefined) return;
    if (doomed.length > 0) await deps.bucket.delete(doomed);
    for (const [suite, retired] of expired) await deps.state.forgetRetired(suite, retired);
    const candidates = [...expired.values()].reduce((n, r) => n + r.length, 0);
    deps.logger.info(
      { deleted: doomed, kept: candidates - doomed.length },
      "swept pool files no record refers to, past their grace period",
    );
  } catch (error) {
    deps.logger.error(
      { err: error },
      "pool sweep failed; its candidates are kept for the next publication",
    );
  }
}

/** The candidates' files to delete now (undefined: undecidable now, keep every candidate). */
async function doomedFiles(
  deps: PoolSweepDeps,
  candidates: readonly Retired[],
  before: Date,
): Promise<string[] | undefined> {
  const ids = [...new Set(candidates.flatMap((c) => c.ids ?? []))];
  const truth = ids.length > 0 ? await deps.records.getMany(ids) : new Map();
  const unreferenced = candidates.filter((c) => {
    // A candidate without ids cannot be checked against the table: keep its file.
    if (!c.ids?.length) return false;
    return c.ids.every((id) => {
      const result = truth.get(id);
      if (result === undefined) return true;
      return result.ok && recordFilename(result.record, deps.settings) !== c.key;
    });
  });
  if (unreferenced.length === 0) return [];
  // Same package, another version with the same pool path (an epoch apart), held back or not.
  const names = new Set(
    unreferenced.flatMap((c) => (c.ids ?? []).map((id) => packageIdParts(id).name)),
  );
  const named = new Set<string>();
  for (const name of names) {
    // An id whose name the store refuses to query keeps its files (a doubt keeps the file).
    const versions = await deps.records.versionsOf(name).catch(() => undefined);
    if (versions === undefined) {
      for (const c of unreferenced) {
        if (c.ids?.some((id) => packageIdParts(id).name === name)) named.add(c.key);
      }
    }
    for (const r of versions ?? []) named.add(recordFilename(r, deps.settings));
  }
  const listed = await referencedElsewhere(deps, before);
  if (listed === undefined) {
    deps.logger.warn("an index of the current state is missing: pool candidates kept");
    return undefined;
  }
  // The newest `at` per file: a file that became a candidate again counts from then.
  const since = new Map<string, string>();
  for (const c of unreferenced) {
    if (listed.has(c.key) || named.has(c.key)) continue;
    const at = since.get(c.key);
    if (at === undefined || c.at > at) since.set(c.key, c.at);
  }
  // A file also kept by a candidate that failed the checks above is not deleted either.
  const free = new Set(unreferenced);
  for (const c of candidates) if (!free.has(c)) since.delete(c.key);
  const doomed: string[] = [];
  const files = [...since];
  for (let i = 0; i < files.length; i += HEADS_AT_ONCE) {
    const heads = await Promise.all(
      files.slice(i, i + HEADS_AT_ONCE).map(async ([key, at]) => ({
        key,
        at,
        head: await deps.bucket.head(key),
      })),
    );
    // Last-Modified has S3's one-second granularity: a file written in the candidate's second
    // may be newer than it, and is kept.
    for (const { key, at, head } of heads) {
      const second = Math.floor(new Date(at).getTime() / 1000) * 1000;
      if (head !== undefined && head.lastModified.getTime() < second) doomed.push(key);
    }
  }
  return doomed.sort();
}

/**
 * Every Filename the current indexes of every suite list, and every pool file still in its
 * grace period (undefined: an index is missing).
 */
async function referencedElsewhere(
  deps: PoolSweepDeps,
  before: Date,
): Promise<Set<string> | undefined> {
  const out = new Set<string>();
  for (const suite of await deps.state.listSuites()) {
    for (const r of await deps.state.retiredSince(suite, before)) {
      if (isPoolKey(r.key)) out.add(r.key);
    }
    const state = await deps.state.loadSuite(suite);
    for (const [key, index] of Object.entries(state?.indexes ?? {})) {
      const body = await deps.bucket.get(byHashKey(indexDir(suite, key), index.gz.sha512));
      if (body === undefined) return undefined;
      for (const m of gunzipSync(body)
        .toString()
        .matchAll(/^Filename: (.+)$/gm)) {
        if (m[1] !== undefined) out.add(m[1]);
      }
    }
  }
  return out;
}
