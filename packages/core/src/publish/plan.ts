// Step 2 of a publication (docs/architecture.md): the new indexes of one suite, from the state
// they apply to and the entries that enter or leave it. The only input besides its arguments
// is `previous`, which fetches an index's published files to splice (chunks.ts).
//
// There is one planner. An incremental publication plans the touched ids against the suite's
// committed state; a full build plans every record of the suite against an empty state, with
// the configured components and architectures seeded so that empty indexes are listed too.
// Both therefore give the same bytes for the same table.
import { packageIdParts } from "../record/schema";
import { buildIndex, type Entry, type IndexFiles, type PreviousIndex, updateIndex } from "./chunks";
import type { Location, Placed, PoolRef } from "./entries";
import { indexKey } from "./layout";
import type { Manifest } from "./manifest";
import { suiteArchitectures } from "./release";
import type { PublisherSettings } from "./settings";
import type { IndexState } from "./state";

/** One id to plan: its entry and place now (null: gone or unpublishable), and where it was. */
export interface Change {
  readonly id: string;
  readonly now: Placed | null;
  readonly was: readonly Location[];
  /** Pool files its records named and the record no longer does (candidates, pool-sweep.ts). */
  readonly released?: readonly PoolRef[];
}

/** The state a plan starts from: the committed indexes, or none for a full build. */
export interface PlanBase {
  readonly indexes: Readonly<Record<string, IndexState>>;
  /** The suite's architectures: the Release lists exactly these (and `all` goes into each). */
  readonly architectures: readonly string[];
  /** The configured architectures (listed even without packages). */
  readonly configured: readonly string[];
  /** Index keys that exist even when empty (a full build: every component × architecture). */
  readonly seed: readonly string[];
}

/** A suite's planned indexes: every index, and the files of those that changed. */
export interface SuitePlan {
  readonly suite: string;
  readonly indexes: Record<string, IndexState>;
  readonly manifests: Map<string, Manifest>;
  readonly files: Map<string, IndexFiles>;
}

/**
 * Why a plan needs the whole suite instead: an architecture enters or leaves the Release, or
 * an index's previous files are gone.
 */
export type NeedsFullBuild = { readonly full: string };

/** The base of an incremental plan: the committed state. */
export const committedBase = (
  settings: Pick<PublisherSettings, "architectures">,
  indexes: Readonly<Record<string, IndexState>>,
): PlanBase => ({
  indexes,
  architectures: suiteArchitectures(settings, { indexes }),
  configured: settings.architectures,
  seed: [],
});

/** The base of a full build: nothing, with the configured and the records' places seeded. */
export function emptyBase(
  settings: Pick<PublisherSettings, "architectures" | "components">,
  suite: string,
  members: readonly Placed[],
): PlanBase {
  const architectures = [
    ...new Set([
      ...settings.architectures,
      ...members.map((m) => m.entry.architecture).filter((a) => a !== "all"),
    ]),
  ].sort();
  const components = [
    ...new Set([...settings.components, ...members.map((m) => m.location.component)]),
  ].sort();
  const seed = components.flatMap((component) =>
    architectures.map((architecture) => indexKey({ suite, component, architecture })),
  );
  return { indexes: {}, architectures, configured: settings.architectures, seed };
}

/** Pure: which indexes of the suite change, and how. */
export function indexChanges(
  suite: string,
  base: PlanBase,
  changes: readonly Change[],
): Map<string, Map<string, Entry | null>> | NeedsFullBuild {
  const archs = base.architectures;
  const out = new Map<string, Map<string, Entry | null>>(base.seed.map((k) => [k, new Map()]));
  for (const { id, now, was } of changes) {
    const here = now !== null && now.location.suite === suite ? now : null;
    const arch = packageIdParts(id).architecture;
    if (here && arch !== "all" && !archs.includes(arch))
      return { full: `new architecture ${arch}` };
    const components = new Set<string>();
    for (const l of was) if (l.suite === suite) components.add(l.component);
    if (here) components.add(here.location.component);
    for (const component of components) {
      for (const a of arch === "all" ? archs : archs.includes(arch) ? [arch] : []) {
        const key = indexKey({ suite, component, architecture: a });
        const value = here && here.location.component === component ? here.entry : null;
        // Removing from an index that does not exist is nothing to do.
        if (value === null && base.indexes[key] === undefined && !out.has(key)) continue;
        const map = out.get(key) ?? new Map<string, Entry | null>();
        map.set(id, value);
        out.set(key, map);
      }
    }
  }
  return out;
}

/**
 * The suite's new indexes, or undefined when nothing changes. `previous` gives the published
 * files of the indexes to splice (one missing: they are gone, the suite is built whole).
 */
export async function planSuite(
  suite: string,
  base: PlanBase,
  changes: readonly Change[],
  previous: (keys: readonly string[]) => Promise<ReadonlyMap<string, PreviousIndex>>,
): Promise<SuitePlan | NeedsFullBuild | undefined> {
  const byIndex = indexChanges(suite, base, changes);
  if (!(byIndex instanceof Map)) return byIndex;
  if (byIndex.size === 0) return undefined;
  const spliced = [...byIndex.keys()].filter((key) => base.indexes[key] !== undefined);
  const published = spliced.length > 0 ? await previous(spliced) : new Map();
  const indexes: Record<string, IndexState> = { ...base.indexes };
  const manifests = new Map<string, Manifest>();
  const files = new Map<string, IndexFiles>();
  for (const [key, change] of byIndex) {
    const old = base.indexes[key];
    let next: IndexFiles | undefined;
    if (old === undefined) {
      next = await buildIndex([...change.values()].filter((e): e is Entry => e !== null));
    } else {
      const files = published.get(key);
      if (files === undefined) return { full: `previous files of ${key} are gone` };
      next = await updateIndex(files, change);
    }
    if (next === undefined) continue;
    files.set(key, next);
    manifests.set(key, next.manifest);
    indexes[key] = indexState(next);
  }
  if (files.size === 0) return undefined;
  // An architecture that is neither configured nor has packages any more leaves the Release.
  const present = suiteArchitectures({ architectures: base.configured }, { indexes });
  if (present.length !== base.architectures.length) return { full: "an architecture left" };
  return { suite, indexes, manifests, files };
}

export function indexState(files: IndexFiles): IndexState {
  return {
    raw: files.raw,
    gz: files.gzHash,
    xz: files.xzHash,
    own: files.manifest.chunks.reduce((n, c) => n + c.own, 0),
  };
}
