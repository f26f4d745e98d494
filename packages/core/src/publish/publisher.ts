// The publisher: turns the package table into a signed repository, incrementally. This file
// only coordinates; each step has its own file (docs/architecture.md walks one record through):
//
//   1. entries.ts  read the truth of the touched ids (never the stream's images, which may be
//                  stale, duplicated or out of order); record → index entry (build, pin, pool)
//   2. plan.ts     per suite, the new indexes: the touched ids against the committed state, or
//                  every record of the suite against an empty state (a rebuild, a new suite)
//   3. commit.ts   the suites' commits, all at once, compare-and-swap on their generations;
//                  losing means planning again from the winner's state (the one retry loop)
//   4. writer.ts   by-hash objects before the commit; after it sign, wait out InRelease's
//                  second, then the plain index paths, Release, Release.gpg, InRelease; then
//                  any newer generation again, so it stays on top
//   5. root.ts     kiro-repo.deb and, on a rebuild, the keyrings and index.html
//   6. sweep.ts    by-hash objects past their grace period, and pool files whose records went
//                  (pool-sweep.ts: only those, and only if nothing refers to them then)
import type { Logger } from "pino";
import { type PackageRecord, packageIdParts, type RecordIssue } from "../record/schema";
import type { SigningKey } from "../signing";
import type { ObjectStore } from "./bucket";
import { type PlannedCommit, suiteCommit, untilCommitted } from "./commit";
import {
  type EntryContext,
  type EntryReport,
  type HeldBack,
  headPool,
  type Location,
  listedPool,
  locationOf,
  type RecordSource,
  suiteMembers,
  type Touch,
  touchedChanges,
} from "./entries";
import { type Change, committedBase, emptyBase, planSuite, type SuitePlan } from "./plan";
import { releasedPool } from "./pool-sweep";
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

export interface PublishReport {
  /** Suites whose Release was (re)published. */
  readonly published: string[];
  readonly invalid: { key: string; issues: readonly RecordIssue[] }[];
  /**
   * Records whose pool file is missing or of another size or MD5: held back (not in any index;
   * the versions already published stay), published once their file is there.
   */
  readonly heldBack: HeldBack[];
  /** Ids that failed for good in this publication (e.g. a pinned build that changed). */
  readonly failed: { id: string; error: string }[];
  readonly attempts: number;
}

/** What to publish: the touched ids, or every record (of some suites). */
type Request =
  | { readonly touches: readonly Touch[] }
  | { readonly suites: readonly string[] | undefined; readonly root: boolean };

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

  location(record: PackageRecord): Location {
    return locationOf(record, this.deps.settings);
  }

  /** Publishes the current truth of the touched ids. Idempotent; safe to run concurrently. */
  publishChanges(touches: readonly Touch[]): Promise<PublishReport> {
    if (touches.length === 0) return Promise.resolve(emptyReport(0));
    return this.publish({ touches });
  }

  /**
   * A full rebuild: every index of the given suites (all, by default) from the package table
   * and one listing of the pool, through the same planner. Only files whose bytes changed are
   * uploaded. `root: false` leaves the root files alone (the benchmark's rebuild).
   */
  rebuild(options: { suites?: readonly string[]; root?: boolean } = {}): Promise<PublishReport> {
    return this.publish({ suites: options.suites, root: options.root !== false });
  }

  /** One attempt per turn of the only retry loop: plan, upload, commit, write, tidy. */
  private publish(request: Request): Promise<PublishReport> {
    const { logger, settings, state, bucket, keys, records } = this.deps;
    return untilCommitted("touches" in request ? "publication" : "rebuild", logger, async (n) => {
      const report = emptyReport(n);
      const planned = await this.plan(request, report);
      const { valid } = planned;
      // Pool files the touched records no longer name: retired with the commit of their suite,
      // or on their own when their suite has none (a held-back record deleted).
      const pool = releasedPool(planned.touched.values(), this.now().toISOString());
      const commits = planned.commits.map((c) => {
        const files = pool.get(c.commit.state.suite);
        pool.delete(c.commit.state.suite);
        return files === undefined
          ? c
          : { ...c, commit: { ...c.commit, retired: [...c.commit.retired, ...files] } };
      });
      if (commits.length > 0) {
        await Promise.all(commits.map((c) => this.writer.putByHash(c.commit.state.suite, c.files)));
        if (!(await state.commit(commits.map((c) => c.commit)))) return "conflict";
      }
      for (const [suite, files] of pool) await state.retire(suite, files);
      const published = await this.writer.publishCommitted(commits, (s) => state.loadSuite(s));
      report.published.push(...published.keys());
      const repo = settings.root.repoPackage;
      if ("touches" in request) {
        if (request.touches.some((t) => packageIdParts(t.id).name === repo)) {
          await copyNewestRepoPackage(this.deps, await records.versionsOf(repo));
        }
      } else if (request.root) {
        await copyNewestRepoPackage(this.deps, valid);
        await writeRootFiles(bucket, settings.root, keys);
      }
      await sweep(this.deps, published, new Date(this.now().getTime() - settings.byHashGraceMs));
      return report;
    });
  }

  /** Steps 1-3: this attempt's commits (each suite's state loaded once). */
  private async plan(
    request: Request,
    report: MutableReport,
  ): Promise<{
    commits: PlannedCommit[];
    valid: PackageRecord[];
    touched: ReadonlyMap<string, Change>;
  }> {
    const { settings, state, logger, bucket } = this.deps;
    const current = new Map<string, SuiteState | undefined>();
    const plans: SuitePlan[] = [];
    const full = new Set<string>();
    let touched = new Map<string, Change>();
    if ("touches" in request) {
      touched = await touchedChanges(request.touches, this.context(headPool(bucket), report));
      const suites = [...touched.values()].flatMap((c) => [
        ...c.was.map((l) => l.suite),
        ...(c.now ? [c.now.location.suite] : []),
      ]);
      for (const suite of [...new Set(suites)].sort()) {
        const committed = await state.loadSuite(suite);
        current.set(suite, committed);
        const planned =
          committed === undefined
            ? { full: "first publication of the suite" }
            : await planSuite(
                suite,
                committedBase(settings, committed.indexes),
                [...touched.values()],
                (k) =>
                  this.writer.previous(committed, k, (s, keys) => state.loadManifests(s, keys)),
              );
        if (planned !== undefined && "full" in planned) {
          logger.info({ suite, reason: planned.full }, "suite needs a full build");
          full.add(suite);
        } else if (planned !== undefined) plans.push(planned);
      }
    }
    let valid: PackageRecord[] = [];
    if (!("touches" in request) || full.size > 0) {
      // A rebuild reports what it reads; a full build inside a publication reports its ids only.
      // Either lists the pool once, and judges each file as a HEAD would (convergence).
      const only = "touches" in request ? full : request.suites && new Set(request.suites);
      const ctx = this.context(
        await listedPool(bucket),
        "touches" in request ? emptyReport(0) : report,
      );
      const read = await suiteMembers(only, touched, ctx);
      valid = read.valid;
      const suites = only ?? [
        settings.defaultSuite,
        ...read.members.keys(),
        ...(await state.listSuites()),
      ];
      for (const suite of [...new Set(suites)].sort()) {
        if (!current.has(suite)) current.set(suite, await state.loadSuite(suite));
        const list = read.members.get(suite) ?? [];
        const changes = list.map((now) => ({ id: now.entry.id, now, was: [] }));
        const planned = await planSuite(
          suite,
          emptyBase(settings, suite, list),
          changes,
          async () => new Map(),
        );
        if (planned === undefined || "full" in planned)
          throw new Error(`cannot plan ${suite} whole`);
        plans.push(planned);
      }
    }
    const commits: PlannedCommit[] = [];
    for (const plan of plans.sort((a, b) => (a.suite < b.suite ? -1 : 1))) {
      const commit = suiteCommit(settings, plan, current.get(plan.suite), this.now());
      if (commit !== undefined) commits.push(commit);
      else logger.info({ suite: plan.suite }, "nothing to publish: every index is as published");
    }
    return { commits, valid, touched };
  }

  private context(pool: EntryContext["pool"], report: EntryReport): EntryContext {
    const { bucket, records, settings, logger } = this.deps;
    return { bucket, records, settings, logger, pool, report };
  }
}

type MutableReport = { -readonly [K in keyof PublishReport]: PublishReport[K] };

const emptyReport = (attempts: number): MutableReport => ({
  published: [],
  invalid: [],
  heldBack: [],
  failed: [],
  attempts,
});

export type { Location, RecordSource, Touch } from "./entries";
