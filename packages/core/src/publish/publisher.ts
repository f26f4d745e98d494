// The publisher: turns the package table into a signed repository, incrementally. This file
// only coordinates; each step has its own file (docs/architecture.md walks one record through):
//
//   1. entries.ts  read the truth of the touched ids (never the stream's images, which may be
//                  stale, duplicated or out of order); record → index entry (build, pin, pool)
//   2. plan.ts     per suite, the new indexes: the touched ids against the committed state, or
//                  every record of the suite against an empty state (a rebuild, a new suite)
//   3. commit.ts   the suites' commits, all at once, compare-and-swap on their generations;
//                  losing means planning again from the winner's state (the one retry loop)
//   4. writer.ts   by-hash objects before the commit; after it the plain index paths, Release,
//                  Release.gpg, InRelease; then any newer generation again, so it stays on top
//   5. root.ts     kiro-repo.deb and, on a rebuild, the keyrings and index.html
//   6. sweep.ts    by-hash objects past their grace period
import type { Logger } from "pino";
import { packageIdParts, type RecordIssue } from "../record/schema";
import type { SigningKey } from "../signing";
import type { ObjectStore } from "./bucket";
import type { PreviousIndex } from "./chunks";
import { type PlannedCommit, suiteCommit, untilCommitted } from "./commit";
import {
  type EntryContext,
  entryOf,
  headPool,
  type Location,
  listedPool,
  locationOf,
  type Placed,
  type RecordSource,
} from "./entries";
import { type Change, committedBase, emptyBase, planSuite, type SuitePlan } from "./plan";
import { copyNewestRepoPackage, writeRootFiles } from "./root";
import type { PublisherSettings } from "./settings";
import type { StateStore, SuiteState } from "./state";
import { sweep } from "./sweep";
import { RepositoryWriter } from "./writer";

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

/** What to publish: the touched ids, or every record (of some suites). */
type Request =
  | { readonly touches: readonly Touch[] }
  | { readonly suites: readonly string[] | undefined; readonly pool: boolean };

/** Parallel segments of a table scan. */
const SCAN_SEGMENTS = 4;

export class Publisher {
  private readonly now: () => Date;
  private readonly writer: RepositoryWriter;

  constructor(private readonly deps: PublisherDeps) {
    this.now = deps.now ?? (() => new Date());
    this.writer = new RepositoryWriter({
      bucket: deps.bucket,
      keys: deps.keys,
      logger: deps.logger,
      now: this.now,
      lastModifiedGranularityMs: deps.lastModifiedGranularityMs ?? 1000,
    });
  }

  location(record: Parameters<typeof locationOf>[0]): Location {
    return locationOf(record, this.deps.settings);
  }

  /** Publishes the current truth of the touched ids. Idempotent; safe to run concurrently. */
  publishChanges(touches: readonly Touch[]): Promise<PublishReport> {
    if (touches.length === 0) return Promise.resolve(emptyReport(0));
    return this.publish({ touches });
  }

  /**
   * A full rebuild: every index of the given suites (all, by default) from the package table
   * alone, through the same planner. Only files whose bytes changed are uploaded. `pool: false`
   * neither lists the pool nor writes the root files (the benchmark's rebuild).
   */
  rebuild(options: { suites?: readonly string[]; pool?: boolean } = {}): Promise<PublishReport> {
    return this.publish({ suites: options.suites, pool: options.pool !== false });
  }

  private publish(request: Request): Promise<PublishReport> {
    const { logger, settings, state } = this.deps;
    return untilCommitted("touches" in request ? "publication" : "rebuild", logger, async (n) => {
      const report = emptyReport(n);
      const planned = await this.plan(request, report);
      if (planned.length > 0) {
        await Promise.all(planned.map((p) => this.writer.putByHash(p.commit.state.suite, p.files)));
        if (!(await state.commit(planned.map((p) => p.commit)))) return "conflict";
      } else if ("touches" in request) {
        logger.info("nothing to publish: the indexes already hold these records");
      }
      const published = await this.writeCommitted(planned);
      report.published.push(...published.keys());
      const root = settings.root;
      if ("touches" in request) {
        if (request.touches.some((t) => packageIdParts(t.id).name === root.repoPackage)) {
          await copyNewestRepoPackage(
            this.deps,
            await this.deps.records.versionsOf(root.repoPackage),
          );
        }
      } else if (request.pool) {
        await copyNewestRepoPackage(this.deps, report.valid ?? []);
        await writeRootFiles(this.deps.bucket, root, this.deps.keys);
      }
      await sweep(this.deps, published, new Date(this.now().getTime() - settings.byHashGraceMs));
      const { valid: _valid, ...out } = report;
      return out;
    });
  }

  /** Steps 1-3: the commits of this attempt, each suite's state loaded once. */
  private async plan(request: Request, report: AttemptReport): Promise<PlannedCommit[]> {
    const { settings, state, logger } = this.deps;
    const current = new Map<string, SuiteState | undefined>();
    const plans: SuitePlan[] = [];
    const full = new Set<string>();
    let touched = new Map<string, Change>();
    if ("touches" in request) {
      touched = await this.changesOf(request.touches, report);
      const suites = new Set<string>();
      for (const c of touched.values()) {
        for (const l of c.was) suites.add(l.suite);
        if (c.now) suites.add(c.now.location.suite);
      }
      for (const suite of [...suites].sort()) {
        const committed = await state.loadSuite(suite);
        current.set(suite, committed);
        const planned =
          committed === undefined
            ? { full: "first publication of the suite" }
            : await planSuite(
                suite,
                committedBase(settings, committed.indexes),
                [...touched.values()],
                (keys) => this.previous(suite, committed, keys),
              );
        if (planned === undefined) continue;
        if ("full" in planned) {
          logger.info({ suite, reason: planned.full }, "suite needs a full build");
          full.add(suite);
        } else plans.push(planned);
      }
    }
    if (!("touches" in request) || full.size > 0) {
      const only = "touches" in request ? full : request.suites && new Set(request.suites);
      const members = await this.scan(request, only, touched, report);
      const suites = only ?? [
        settings.defaultSuite,
        ...members.keys(),
        ...(await state.listSuites()),
      ];
      for (const suite of [...new Set(suites)].sort()) {
        if (!current.has(suite)) current.set(suite, await state.loadSuite(suite));
        const list = members.get(suite) ?? [];
        const changes = list.map((now) => ({ id: now.entry.id, now, was: [] }));
        const planned = await planSuite(
          suite,
          emptyBase(settings, suite, list),
          changes,
          noPrevious,
        );
        if (planned === undefined || "full" in planned)
          throw new Error(`cannot plan ${suite} whole`);
        plans.push(planned);
      }
    }
    const commits: PlannedCommit[] = [];
    for (const plan of plans.sort((a, b) => (a.suite < b.suite ? -1 : 1))) {
      const commit = suiteCommit(settings, plan, current.get(plan.suite), this.now());
      if (commit === undefined)
        logger.info({ suite: plan.suite }, "every index is already as published");
      else commits.push(commit);
    }
    return commits;
  }

  /** Step 1 for touched ids: their truth, read now, and their entries. */
  private async changesOf(
    touches: readonly Touch[],
    report: AttemptReport,
  ): Promise<Map<string, Change>> {
    const was = new Map<string, Location[]>();
    for (const t of touches) was.set(t.id, [...(was.get(t.id) ?? []), ...t.locations]);
    const truth = await this.deps.records.getMany([...was.keys()]);
    const ctx = this.entryContext(headPool(this.deps.bucket), true, report);
    const out = new Map<string, Change>();
    for (const [id, locations] of was) {
      const result = truth.get(id);
      let now: Placed | null = null;
      if (result !== undefined && !result.ok)
        report.invalid.push({ key: result.key, issues: result.issues });
      else if (result !== undefined) {
        const entry = await entryOf(result.record, ctx);
        if (entry !== undefined) now = { location: this.location(result.record), entry };
      }
      out.set(id, { id, now, was: locations });
    }
    return out;
  }

  /**
   * Step 1 for whole suites: one scan of the table, every valid record of `only` (all suites
   * by default) as an entry. Touched ids keep the truth they were planned with; what a scan
   * inside an incremental publication finds wrong elsewhere is not this publication's report.
   */
  private async scan(
    request: Request,
    only: ReadonlySet<string> | undefined,
    touched: ReadonlyMap<string, Change>,
    report: AttemptReport,
  ): Promise<Map<string, Placed[]>> {
    const rebuild = !("touches" in request);
    const pool = rebuild && request.pool;
    const own = rebuild ? report : emptyReport(0);
    const ctx = this.entryContext(
      pool ? await listedPool(this.deps.bucket) : headPool(this.deps.bucket),
      pool,
      own,
    );
    const members = new Map<string, Placed[]>();
    const add = (placed: Placed) => {
      if (only && !only.has(placed.location.suite)) return;
      members.set(placed.location.suite, [...(members.get(placed.location.suite) ?? []), placed]);
    };
    const valid = [];
    for await (const result of this.deps.records.scan({ segments: SCAN_SEGMENTS })) {
      if (!result.ok) {
        own.invalid.push({ key: result.key, issues: result.issues });
        continue;
      }
      valid.push(result.record);
      if (touched.has(result.record.package_id)) continue;
      const location = this.location(result.record);
      if (only && !only.has(location.suite)) continue;
      const entry = await entryOf(result.record, ctx);
      if (entry !== undefined) add({ location, entry });
    }
    for (const c of touched.values()) if (c.now) add(c.now);
    if (rebuild) {
      report.valid = valid;
      this.deps.logger.info(
        { packages: valid.length, invalid: own.invalid.length },
        "rebuild: records read from the package table",
      );
    }
    return members;
  }

  /** The previous files of the indexes a plan splices (one manifest read for all). */
  private async previous(
    suite: string,
    state: SuiteState,
    keys: readonly string[],
  ): Promise<Map<string, PreviousIndex>> {
    const manifests = await this.deps.state.loadManifests(suite, keys);
    const out = new Map<string, PreviousIndex>();
    await Promise.all(
      keys.map(async (key) => {
        const index = state.indexes[key];
        const files = index && (await this.writer.previous(suite, key, index, manifests.get(key)));
        if (files) out.set(key, files);
        else this.deps.logger.warn({ index: key }, "previous index files are gone");
      }),
    );
    return out;
  }

  /**
   * Step 4 after the commit: each suite's files, then, if a newer generation was committed
   * meanwhile (our uploads may have overwritten it), that one again so it stays on top.
   */
  private async writeCommitted(
    planned: readonly PlannedCommit[],
  ): Promise<Map<string, SuiteState>> {
    for (const { commit, files } of planned) {
      await this.writer.writeGeneration(commit.state, [...files.keys()]);
    }
    const published = new Map<string, SuiteState>();
    for (const { commit } of planned) {
      let latest = commit.state;
      for (;;) {
        const stored = await this.deps.state.loadSuite(latest.suite);
        if (stored === undefined || stored.generation === latest.generation) break;
        this.deps.logger.info(
          { suite: latest.suite, ours: latest.generation, latest: stored.generation },
          "a newer generation was committed meanwhile; publishing it again so it stays on top",
        );
        await this.writer.writeGeneration(stored, Object.keys(stored.indexes));
        latest = stored;
      }
      published.set(latest.suite, latest);
    }
    return published;
  }

  private entryContext(
    pool: EntryContext["pool"],
    checkFiles: boolean,
    report: AttemptReport,
  ): EntryContext {
    const { bucket, records, settings, logger } = this.deps;
    return { bucket, records, settings, logger, pool, checkFiles, report };
  }
}

const noPrevious = async (): Promise<Map<string, PreviousIndex>> => new Map();

type AttemptReport = {
  -readonly [K in keyof PublishReport]: PublishReport[K];
} & { valid?: Parameters<typeof copyNewestRepoPackage>[1] };

const emptyReport = (attempts: number): AttemptReport => ({
  published: [],
  invalid: [],
  missingFiles: [],
  failed: [],
  attempts,
});

export type { Location, RecordSource } from "./entries";
