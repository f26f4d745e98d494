// The publisher: turns the package table into a signed repository, incrementally.
//
// A publication reads the current truth of the ids it was told about (never the stream's
// images, which may be stale, duplicated or out of order), splices their stanzas into the
// indexes they enter or leave, and commits the suite's new state with a compare-and-swap on
// its generation. Losing the race means computing again from the winner's state, so no change
// is lost; after its uploads a publisher checks that nobody committed since, and re-publishes
// the newest generation if somebody did, so a slow publisher never leaves an older InRelease
// over a newer one. Order of writes: by-hash objects, commit, plain index paths, Release,
// Release.gpg, InRelease.
import type { Logger } from "pino";
import { byHashPath } from "../debian/by-hash";
import type { Paragraph } from "../debian/control";
import { readDeb } from "../debian/deb";
import { debHashes } from "../debian/hashes";
import { renderStanza } from "../debian/stanza";
import { compareVersions } from "../debian/version";
import { recordControl } from "../record/control";
import { fileAttributes, poolPath } from "../record/pool";
import type { PackageRecord, RecordIssue, RecordResult } from "../record/schema";
import { type SigningKey, signRelease } from "../signing";
import type { ObjectStore } from "./bucket";
import { buildRecordDeb } from "./build";
import { buildIndex, type Entry, type IndexFiles, type Manifest, updateIndex } from "./chunks";
import { distDir, type IndexFile, type IndexId, indexDir, indexKey, objectHeaders } from "./layout";
import { releaseDate, renderSuiteRelease, suiteArchitectures } from "./release";
import { writeRootFiles } from "./root";
import type { PublisherSettings } from "./settings";
import type { FileHash, IndexState, Retired, StateStore, SuiteCommit, SuiteState } from "./state";

/** What the publisher needs of the package table (PackageStore provides it). */
export interface RecordSource {
  getMany(ids: readonly string[]): Promise<Map<string, RecordResult | undefined>>;
  /** Every item; `segments` > 1 scans in parallel (PackageStore does). */
  scan(options?: { segments?: number }): AsyncIterable<RecordResult>;
  versionsOf(name: string): Promise<PackageRecord[]>;
  pinFile(
    id: string,
    file: {
      filename: string;
      file_size: number;
      md5_hash: string;
      sha1_hash: string;
      sha256_hash: string;
      sha512_hash: string;
    },
  ): Promise<"pinned" | "already">;
}

export interface PublisherDeps {
  readonly records: RecordSource;
  readonly state: StateStore;
  readonly bucket: ObjectStore;
  readonly keys: readonly SigningKey[];
  readonly settings: PublisherSettings;
  readonly logger: Logger;
  readonly now?: () => Date;
  /** Granularity of the bucket's Last-Modified (S3: one second; 0 turns the wait off). */
  readonly lastModifiedGranularityMs?: number;
}

/** Where a record lives: the suite and component named on it (or the stage's defaults). */
export interface Location {
  readonly suite: string;
  readonly component: string;
}

/** A change to publish: an id, and every location its stream images placed it in. */
export interface Touch {
  readonly id: string;
  readonly locations: readonly Location[];
}

export interface PublishReport {
  /** Suites whose Release was (re)published. */
  readonly published: string[];
  readonly invalid: { key: string; issues: readonly RecordIssue[] }[];
  /** Records whose pool file is missing or of another size: published anyway, loudly. */
  readonly missingFiles: { id: string; filename: string; problem: string }[];
  /** Ids that failed for good in this publication (e.g. a pinned build that changed). */
  readonly failed: { id: string; error: string }[];
  readonly attempts: number;
}

const MAX_ATTEMPTS = 8;
/** Parallel segments of a rebuild's table scan. */
const SCAN_SEGMENTS = 4;
const ID_ARCH = (id: string): string => id.split("#")[2] ?? "";

export class ConflictError extends Error {
  override name = "ConflictError";
}

export class Publisher {
  private readonly now: () => Date;
  /**
   * The index files this process wrote last, by index file (their by-hash key says which
   * content): a warm Lambda splices its next change without downloading them again.
   */
  private readonly recentFiles = new Map<string, { key: string; body: Uint8Array }>();
  /** When this process last wrote each suite's InRelease, and which generation. */
  private readonly lastInRelease = new Map<string, { generation: number; at: number }>();

  constructor(private readonly deps: PublisherDeps) {
    this.now = deps.now ?? (() => new Date());
  }

  location(record: PackageRecord): Location {
    return {
      suite: record.suite ?? this.deps.settings.defaultSuite,
      component: record.component ?? this.deps.settings.defaultComponent,
    };
  }

  /** Publishes the current truth of the touched ids. Idempotent; safe to run concurrently. */
  async publishChanges(touches: readonly Touch[]): Promise<PublishReport> {
    const { logger } = this.deps;
    const report = emptyReport();
    const ids = [...new Set(touches.map((t) => t.id))];
    if (ids.length === 0) return report;
    const candidates = new Map<string, Location[]>();
    for (const t of touches)
      candidates.set(t.id, [...(candidates.get(t.id) ?? []), ...t.locations]);

    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const attemptReport = emptyReport();
      const truth = await this.deps.records.getMany(ids);
      const entries = new Map<string, { location: Location; entry: Entry } | null>();
      for (const id of ids) {
        const result = truth.get(id);
        if (result === undefined) {
          entries.set(id, null);
        } else if (!result.ok) {
          attemptReport.invalid.push({ key: result.key, issues: result.issues });
          entries.set(id, null);
        } else {
          const entry = await this.entryOf(result.record, attemptReport, true);
          entries.set(
            id,
            entry === undefined ? null : { location: this.location(result.record), entry },
          );
        }
      }

      // Every suite a touched id is or was in.
      const suites = new Set<string>();
      for (const id of ids) {
        for (const l of candidates.get(id) ?? []) suites.add(l.suite);
        const e = entries.get(id);
        if (e) suites.add(e.location.suite);
      }

      const commits: PlannedCommit[] = [];
      const rebuildSuites: string[] = [];
      for (const suite of [...suites].sort()) {
        const state = await this.deps.state.loadSuite(suite);
        if (state === undefined) {
          rebuildSuites.push(suite); // first publication of a suite: build it whole
          continue;
        }
        const planned = await this.planSuite(suite, state, ids, candidates, entries);
        if (planned === "rebuild") rebuildSuites.push(suite);
        else if (planned !== undefined) commits.push(planned);
      }
      if (rebuildSuites.length > 0) {
        logger.info(
          { suites: rebuildSuites },
          "suite needs a full build (new suite or architecture set changed)",
        );
        const rebuilt = await this.rebuild({ suites: rebuildSuites, pool: false });
        report.published.push(...rebuilt.published);
        if (commits.length === 0) return merge(report, attemptReport, attempt);
      }
      if (commits.length === 0) {
        logger.info({ ids }, "nothing to publish: the indexes already hold these records");
        return merge(report, attemptReport, attempt);
      }
      if (!(await this.commitAndPublish(commits))) {
        logger.info(
          { attempt },
          "another publisher committed first; computing again from its state",
        );
        await sleep(Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2));
        continue;
      }
      report.published.push(...commits.map((c) => c.commit.state.suite));
      if (ids.some((id) => id.startsWith(`${this.deps.settings.root.repoPackage}#`))) {
        await this.updateRepoCopy();
      }
      await this.sweep(commits.map((c) => c.commit.state.suite));
      return merge(report, attemptReport, attempt);
    }
    throw new ConflictError(`could not commit after ${MAX_ATTEMPTS} attempts: too much contention`);
  }

  /** The new state of one suite after the touched ids, or undefined when nothing changes. */
  private async planSuite(
    suite: string,
    state: SuiteState,
    ids: readonly string[],
    candidates: ReadonlyMap<string, Location[]>,
    entries: ReadonlyMap<string, { location: Location; entry: Entry } | null>,
  ): Promise<PlannedCommit | "rebuild" | undefined> {
    const archs = suiteArchitectures(this.deps.settings, state);
    const changes = new Map<string, Map<string, Entry | null>>();
    for (const id of ids) {
      const e = entries.get(id) ?? null;
      const here = e !== null && e.location.suite === suite ? e : null;
      const arch = ID_ARCH(id);
      if (here && arch !== "all" && !archs.includes(arch)) return "rebuild"; // a new architecture
      const components = new Set<string>();
      for (const l of candidates.get(id) ?? []) if (l.suite === suite) components.add(l.component);
      if (here) components.add(here.location.component);
      for (const component of components) {
        for (const a of arch === "all" ? archs : archs.includes(arch) ? [arch] : []) {
          const key = indexKey({ suite, component, architecture: a });
          const value = here && here.location.component === component ? here.entry : null;
          // Removing from an index that does not exist is nothing to do.
          if (value === null && state.indexes[key] === undefined) continue;
          const map = changes.get(key) ?? new Map<string, Entry | null>();
          map.set(id, value);
          changes.set(key, map);
        }
      }
    }
    if (changes.size === 0) return undefined;

    const manifests = await this.deps.state.loadManifests(suite, [...changes.keys()]);
    const newIndexes: Record<string, IndexState> = { ...state.indexes };
    const newManifests = new Map<string, Manifest>();
    const files = new Map<string, IndexFiles>();
    for (const [key, change] of changes) {
      const previous = state.indexes[key];
      let next: IndexFiles | undefined;
      if (previous === undefined) {
        next = await buildIndex([...change.values()].filter((e): e is Entry => e !== null));
      } else {
        const manifest = manifests.get(key);
        const dir = indexDir(suite, key);
        const [gz, xz] = await Promise.all([
          this.indexFile(dir, "Packages.gz", byHashKey(dir, previous.gz.sha512)),
          this.indexFile(dir, "Packages.xz", byHashKey(dir, previous.xz.sha512)),
        ]);
        if (manifest === undefined || gz === undefined || xz === undefined) {
          this.deps.logger.warn(
            { index: key },
            "previous index files are gone; building the suite whole",
          );
          return "rebuild";
        }
        next = await updateIndex({ gz, xz, manifest }, change);
      }
      if (next === undefined) continue;
      files.set(key, next);
      newManifests.set(key, next.manifest);
      newIndexes[key] = indexState(next);
    }
    if (files.size === 0) return undefined;
    // An architecture that is neither configured nor has packages any more leaves the Release.
    const present = suiteArchitectures(this.deps.settings, { indexes: newIndexes });
    if (present.length !== archs.length) return "rebuild";
    return this.prepareCommit(suite, state, newIndexes, newManifests, files);
  }

  private async prepareCommit(
    suite: string,
    previous: SuiteState | undefined,
    indexes: Record<string, IndexState>,
    manifests: Map<string, Manifest>,
    files: ReadonlyMap<string, IndexFiles>,
  ): Promise<PlannedCommit> {
    const now = this.now();
    const date = releaseDate(now, previous ? new Date(previous.date) : undefined);
    const release = renderSuiteRelease(this.deps.settings, suite, indexes, date);
    // Content-addressed objects first: harmless if this publisher loses the race.
    const uploads: Promise<void>[] = [];
    const retired: Retired[] = [];
    for (const [key, f] of files) {
      const dir = indexDir(suite, key);
      const state = indexState(f);
      uploads.push(this.putByHash(dir, "Packages.gz", f.gz, state.gz));
      uploads.push(this.putByHash(dir, "Packages.xz", f.xz, state.xz));
      const old = previous?.indexes[key];
      if (old !== undefined) {
        for (const file of [old.gz, old.xz]) {
          if (file.sha512 !== state.gz.sha512 && file.sha512 !== state.xz.sha512) {
            retired.push({ key: byHashKey(dir, file.sha512), at: now.toISOString() });
          }
        }
      }
    }
    await Promise.all(uploads);
    return {
      commit: {
        from: previous?.generation ?? 0,
        state: {
          suite,
          generation: (previous?.generation ?? 0) + 1,
          date: date.toISOString(),
          release,
          indexes,
        },
        manifests,
        retired,
      },
      changed: [...files.keys()],
    };
  }

  /** Commits, then writes plain paths and the Release files; false if the commit lost. */
  private async commitAndPublish(commits: readonly PlannedCommit[]): Promise<boolean> {
    if (!(await this.deps.state.commit(commits.map((c) => c.commit)))) return false;
    for (const { commit, changed } of commits) {
      await this.writeGeneration(commit.state, changed);
    }
    // A newer generation committed meanwhile may have been overwritten by our uploads.
    for (const { commit } of commits) {
      let ours = commit.state.generation;
      for (;;) {
        const latest = await this.deps.state.loadSuite(commit.state.suite);
        if (latest === undefined || latest.generation === ours) break;
        this.deps.logger.info(
          { suite: latest.suite, ours, latest: latest.generation },
          "a newer generation was committed meanwhile; publishing it again so it stays on top",
        );
        await this.writeGeneration(latest, Object.keys(latest.indexes));
        ours = latest.generation;
      }
    }
    return true;
  }

  /** Plain index paths (copies of by-hash objects), then Release, Release.gpg, InRelease. */
  private async writeGeneration(state: SuiteState, indexKeys: readonly string[]): Promise<void> {
    const { bucket, keys } = this.deps;
    await Promise.all(
      indexKeys.flatMap((key) => {
        const index = state.indexes[key];
        if (index === undefined) return [];
        const dir = indexDir(state.suite, key);
        return (["Packages.gz", "Packages.xz"] as const).map((name) =>
          bucket.copy(
            byHashKey(dir, (name === "Packages.gz" ? index.gz : index.xz).sha512),
            `${dir}/${name}`,
            objectHeaders(`${dir}/${name}`),
          ),
        );
      }),
    );
    const signed = await signRelease(state.release, keys, this.now());
    const dist = distDir(state.suite);
    await this.nextSecondAfter(`${dist}/InRelease`, state);
    await bucket.put(`${dist}/Release`, state.release, objectHeaders(`${dist}/Release`));
    await bucket.put(
      `${dist}/Release.gpg`,
      signed.releaseGpg,
      objectHeaders(`${dist}/Release.gpg`),
    );
    await bucket.put(`${dist}/InRelease`, signed.inRelease, objectHeaders(`${dist}/InRelease`));
    this.lastInRelease.set(state.suite, { generation: state.generation, at: Date.now() });
    this.deps.logger.info(
      {
        suite: state.suite,
        generation: state.generation,
        date: state.date,
        indexes: indexKeys.length,
      },
      "published",
    );
  }

  /**
   * Waits until the clock is past the second the current object was written in. apt asks
   * with If-Modified-Since, which S3 answers at one-second granularity: an InRelease written
   * in the same second as the one a client already has would be answered 304, and that
   * client would miss this generation until the next one.
   */
  private async nextSecondAfter(key: string, state: SuiteState): Promise<void> {
    const step = this.deps.lastModifiedGranularityMs ?? 1000;
    if (step <= 0) return;
    // If the InRelease in place is the previous generation and this process wrote it, its
    // time is known here; otherwise ask the bucket.
    const mine = this.lastInRelease.get(state.suite);
    const written =
      mine !== undefined && mine.generation === state.generation - 1
        ? mine.at
        : (await this.deps.bucket.head(key))?.lastModified.getTime();
    if (written === undefined) return;
    const wait = Math.floor(written / step) * step + step - Date.now();
    if (wait > 0) await sleep(wait + 50);
  }

  /** A previous index file: from this process's memory if it wrote it, else from the bucket. */
  private async indexFile(
    dir: string,
    name: IndexFile,
    key: string,
  ): Promise<Uint8Array | undefined> {
    const recent = this.recentFiles.get(`${dir}/${name}`);
    return recent?.key === key ? recent.body : await this.deps.bucket.get(key);
  }

  private async putByHash(
    dir: string,
    name: IndexFile,
    body: Uint8Array,
    hash: FileHash,
  ): Promise<void> {
    const key = byHashKey(dir, hash.sha512);
    await this.deps.bucket.put(key, body, objectHeaders("", name));
    this.recentFiles.set(`${dir}/${name}`, { key, body });
  }

  /** The index entry of a valid record, or undefined when it cannot be published. */
  private async entryOf(
    record: PackageRecord,
    report: MutableReport,
    checkPool = false,
  ): Promise<Entry | undefined> {
    if (record.source !== "build") {
      if (checkPool) {
        // The table is the truth: published anyway, but said loudly (one HEAD request).
        const found = await this.deps.bucket.head(record.filename as string);
        if (found === undefined || found.size !== record.file_size) {
          const problem =
            found === undefined
              ? "missing from the pool"
              : `has ${found.size} bytes, the record says ${record.file_size}`;
          report.missingFiles.push({
            id: record.package_id,
            filename: record.filename ?? "",
            problem,
          });
          this.deps.logger.warn(
            { id: record.package_id, filename: record.filename, problem },
            "pool file missing or of another size: published anyway",
          );
        }
      }
      return entry(record, recordControl(record), {
        filename: record.filename as string,
        size: record.file_size as number,
        md5: record.md5_hash as string,
        sha1: record.sha1_hash as string,
        sha256: record.sha256_hash as string,
        sha512: record.sha512_hash as string,
      });
    }
    return this.buildEntry(record, report, undefined);
  }

  /**
   * Builds a build record's .deb, uploads it to the pool if it is not there, and pins its size
   * and hashes on the record the first time. A pinned record whose bytes changed is refused.
   */
  private async buildEntry(
    record: PackageRecord,
    report: MutableReport,
    pool: ReadonlyMap<string, number> | undefined,
  ): Promise<Entry | undefined> {
    const { bucket, records, logger } = this.deps;
    let bytes: Uint8Array;
    try {
      bytes = buildRecordDeb(record);
    } catch (error) {
      report.failed.push({
        id: record.package_id,
        error: `build failed: ${(error as Error).message}`,
      });
      return undefined;
    }
    const h = debHashes(bytes);
    const { suite: _s, component } = this.location(record);
    const filename =
      record.filename ??
      poolPath(component, record.package_name, record.version, record.architecture);
    if (record.sha256_hash !== undefined && record.sha256_hash !== h.sha256) {
      const error = `rebuilt .deb differs from the pinned one (sha256 ${h.sha256} != ${record.sha256_hash}): a published version never changes its bytes; publish a new version instead`;
      logger.error({ id: record.package_id }, error);
      report.failed.push({ id: record.package_id, error });
      return undefined;
    }
    const existing = pool
      ? pool.has(filename)
        ? { size: pool.get(filename) ?? 0 }
        : undefined
      : await bucket.head(filename);
    if (existing === undefined) {
      await bucket.put(filename, bytes, objectHeaders(filename));
      logger.info(
        { id: record.package_id, filename, size: h.size },
        "built and uploaded to the pool",
      );
    } else if (existing.size !== h.size) {
      const error = `pool file ${filename} has ${existing.size} bytes, the build has ${h.size}: refusing to overwrite a published file`;
      logger.error({ id: record.package_id }, error);
      report.failed.push({ id: record.package_id, error });
      return undefined;
    }
    if (record.sha256_hash === undefined) {
      await records.pinFile(record.package_id, fileAttributes(filename, h));
      logger.info(
        { id: record.package_id, sha256: h.sha256 },
        "pinned size and hashes on the record",
      );
    }
    return entry(record, readDeb(bytes, filename).control, { filename, ...h });
  }

  /**
   * A full rebuild: every index of the given suites (all, by default) from the package table
   * alone. Only files whose bytes changed are uploaded. Its output equals the incremental path's.
   */
  async rebuild(
    options: { suites?: readonly string[]; pool?: boolean } = {},
  ): Promise<PublishReport> {
    const { logger, settings } = this.deps;
    const report = emptyReport();
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const attemptReport = emptyReport();
      const valid: PackageRecord[] = [];
      for await (const result of this.deps.records.scan({ segments: SCAN_SEGMENTS })) {
        if (result.ok) valid.push(result.record);
        else attemptReport.invalid.push({ key: result.key, issues: result.issues });
      }
      // Pool listing: to find missing files (reported, never fatal) and to skip re-uploads.
      const pool = options.pool === false ? undefined : await this.listPool();
      const bySuite = new Map<string, { record: PackageRecord; entry: Entry }[]>();
      for (const record of valid) {
        const e =
          record.source === "build"
            ? await this.buildEntry(record, attemptReport, pool)
            : await this.entryOf(record, attemptReport);
        if (e === undefined) continue;
        const { suite } = this.location(record);
        if (options.suites && !options.suites.includes(suite)) continue;
        const list = bySuite.get(suite) ?? [];
        list.push({ record, entry: e });
        bySuite.set(suite, list);
        if (pool && record.source !== "build") {
          const size = pool.get(record.filename ?? "");
          if (size === undefined || size !== record.file_size) {
            const problem =
              size === undefined
                ? "missing from the pool"
                : `has ${size} bytes, the record says ${record.file_size}`;
            attemptReport.missingFiles.push({
              id: record.package_id,
              filename: record.filename ?? "",
              problem,
            });
          }
        }
      }
      const suites = new Set(
        options.suites ?? [
          settings.defaultSuite,
          ...bySuite.keys(),
          ...(await this.deps.state.listSuites()),
        ],
      );
      const commits: PlannedCommit[] = [];
      for (const suite of [...suites].sort()) {
        const state = await this.deps.state.loadSuite(suite);
        const members = bySuite.get(suite) ?? [];
        const archs = [
          ...new Set([
            ...settings.architectures,
            ...members.map((m) => m.record.architecture).filter((a) => a !== "all"),
          ]),
        ].sort();
        const components = [
          ...new Set([
            ...settings.components,
            ...members.map((m) => this.location(m.record).component),
          ]),
        ].sort();
        const indexes: Record<string, IndexState> = {};
        const manifests = new Map<string, Manifest>();
        const files = new Map<string, IndexFiles>();
        for (const component of components) {
          for (const architecture of archs) {
            const key = indexKey({ suite, component, architecture });
            const built = await buildIndex(
              members
                .filter(
                  (m) =>
                    this.location(m.record).component === component &&
                    (m.record.architecture === architecture || m.record.architecture === "all"),
                )
                .map((m) => m.entry),
            );
            indexes[key] = indexState(built);
            manifests.set(key, built.manifest);
            const old = state?.indexes[key];
            if (
              old?.gz.sha512 !== indexes[key].gz.sha512 ||
              old?.xz.sha512 !== indexes[key].xz.sha512
            ) {
              files.set(key, built);
            }
          }
        }
        const sameIndexes =
          state !== undefined &&
          JSON.stringify(Object.keys(state.indexes).sort()) ===
            JSON.stringify(Object.keys(indexes).sort()) &&
          files.size === 0;
        // With Valid-Until, a Release past half its validity is signed again even if unchanged
        // (the daily rebuild keeps it from expiring on users).
        const validMs = (settings.validUntilDays ?? 0) * 86_400_000;
        const stale =
          validMs > 0 &&
          state !== undefined &&
          this.now().getTime() - new Date(state.date).getTime() > validMs / 2;
        if (sameIndexes && !stale) {
          logger.info({ suite }, "rebuild: every index is already as published");
          continue;
        }
        const planned = await this.prepareCommit(suite, state, indexes, manifests, files);
        // Indexes that disappear (an architecture or component gone) retire their files too.
        for (const [key, old] of Object.entries(state?.indexes ?? {})) {
          if (indexes[key] !== undefined) continue;
          const dir = indexDir(suite, key);
          const at = this.now().toISOString();
          (planned.commit.retired as Retired[]).push(
            { key: byHashKey(dir, old.gz.sha512), at },
            { key: byHashKey(dir, old.xz.sha512), at },
          );
        }
        commits.push(planned);
      }
      logger.info(
        { packages: valid.length, invalid: attemptReport.invalid.length },
        "rebuild: records read from the package table",
      );
      for (const r of valid) logger.info({ id: r.package_id }, "rebuild: included");
      for (const m of attemptReport.missingFiles)
        logger.warn(m, "pool file missing or of another size");
      if (commits.length > 0) {
        if (!(await this.commitAndPublish(commits))) {
          await sleep(Math.min(2000, 20 * 2 ** attempt) * (0.5 + Math.random() / 2));
          continue;
        }
      }
      report.published.push(...commits.map((c) => c.commit.state.suite));
      if (options.pool !== false) {
        await this.updateRepoCopy(valid);
        await writeRootFiles(this.deps.bucket, this.deps.settings.root, this.deps.keys);
      }
      await this.sweep(commits.map((c) => c.commit.state.suite));
      return merge(report, attemptReport, attempt);
    }
    throw new ConflictError(`rebuild could not commit after ${MAX_ATTEMPTS} attempts`);
  }

  private async listPool(): Promise<Map<string, number>> {
    const pool = new Map<string, number>();
    for await (const o of this.deps.bucket.list("pool/")) pool.set(o.key, o.size);
    return pool;
  }

  /** `kiro-repo.deb` at the root: a byte copy of the newest setup package. */
  async updateRepoCopy(all?: readonly PackageRecord[]): Promise<void> {
    const { root } = this.deps.settings;
    const versions =
      all?.filter((r) => r.package_name === root.repoPackage) ??
      (await this.deps.records.versionsOf(root.repoPackage));
    let newest: PackageRecord | undefined;
    for (const r of versions) {
      if (r.sha256_hash === undefined) continue; // not built and pinned yet
      if (newest === undefined || compareVersions(r.version, newest.version) > 0) newest = r;
    }
    if (newest?.filename === undefined) return;
    const key = root.repoCopyKey;
    await this.deps.bucket.copy(newest.filename, key, objectHeaders(key));
    this.deps.logger.info(
      { version: newest.version, from: newest.filename },
      `${key} now copies the newest ${root.repoPackage}`,
    );
  }

  /** Deletes by-hash objects retired longer ago than the grace period, unless listed again. */
  private async sweep(suites: readonly string[]): Promise<void> {
    const before = new Date(this.now().getTime() - this.deps.settings.byHashGraceMs);
    for (const suite of new Set(suites)) {
      const expired = await this.deps.state.retiredBefore(suite, before);
      if (expired.length === 0) continue;
      const state = await this.deps.state.loadSuite(suite);
      const current = new Set<string>();
      for (const [key, index] of Object.entries(state?.indexes ?? {})) {
        const dir = indexDir(suite, key);
        current.add(byHashKey(dir, index.gz.sha512));
        current.add(byHashKey(dir, index.xz.sha512));
      }
      const doomed = [...new Set(expired.map((r) => r.key))].filter((k) => !current.has(k));
      if (doomed.length > 0) await this.deps.bucket.delete(doomed);
      await this.deps.state.forgetRetired(suite, expired);
      this.deps.logger.info(
        { suite, deleted: doomed.length },
        "swept by-hash objects past their grace period",
      );
    }
  }
}

interface PlannedCommit {
  readonly commit: SuiteCommit;
  readonly changed: readonly string[];
}

type MutableReport = {
  -readonly [K in keyof PublishReport]: PublishReport[K];
};

function emptyReport(): MutableReport {
  return { published: [], invalid: [], missingFiles: [], failed: [], attempts: 0 };
}

function merge(report: MutableReport, attempt: MutableReport, attempts: number): PublishReport {
  return {
    published: [...new Set(report.published)],
    invalid: attempt.invalid,
    missingFiles: attempt.missingFiles,
    failed: attempt.failed,
    attempts,
  };
}

/** Where an index file of `dir` is kept under its SHA-512 (the only by-hash copy we write). */
export const byHashKey = (dir: string, sha512: string): string =>
  byHashPath(`${dir}/Packages`, "SHA512", sha512);

function indexState(files: IndexFiles): IndexState {
  return {
    raw: files.raw,
    gz: files.gzHash,
    xz: files.xzHash,
    own: files.manifest.chunks.reduce((n, c) => n + c.own, 0),
  };
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export type { IndexId, PublisherSettings };
