// The publisher's own state: per suite, the generation last published, its Release, the
// hashes of every index file it lists, and each index's chunk manifest. It lives in a small
// DynamoDB table of its own so that publishers can serialise on a conditional write (S3 offers
// no compare-and-swap that s3rver or older setups honour), and it is never the truth about
// packages: a full rebuild recreates it from the package table alone.
import * as v from "valibot";
import { fileDigestSchema, type Manifest, manifestSchema } from "./manifest";

const indexStateSchema = v.strictObject({
  /** The uncompressed Packages: listed in the Release, never uploaded. */
  raw: fileDigestSchema,
  gz: fileDigestSchema,
  xz: fileDigestSchema,
  /** Entries whose Architecture is not `all`: an architecture stays listed while it has any. */
  own: v.pipe(v.number(), v.integer(), v.minValue(0)),
});
export type IndexState = v.InferOutput<typeof indexStateSchema>;

export const suiteStateSchema = v.strictObject({
  suite: v.string(),
  generation: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** The Date of the Release last published (ISO 8601): the next one is later. */
  date: v.pipe(v.string(), v.isoTimestamp()),
  release: v.string(),
  /** By index key (`suite/component/architecture`). */
  indexes: v.record(v.string(), indexStateSchema),
});
export type SuiteState = v.InferOutput<typeof suiteStateSchema>;

/**
 * An object kept until `at` + grace: a by-hash object no longer listed by the current Release
 * (`dists/…`), or a pool file whose record went (`pool/…`, with the ids that named it: the
 * sweep deletes it only if none of them, nor any index, refers to it then; pool-sweep.ts).
 */
export interface Retired {
  readonly key: string;
  readonly at: string;
  /** A pool file's: the ids of the records that named it. */
  readonly ids?: readonly string[];
}

export interface SuiteCommit {
  /** The generation the new state was computed from (0: none yet). */
  readonly from: number;
  readonly state: SuiteState;
  /** Manifests of the indexes this commit changed (by index key). */
  readonly manifests: ReadonlyMap<string, Manifest>;
  readonly retired: readonly Retired[];
}

/** Where the publisher keeps its state. DynamoDB (dynamo-state.ts); tests use testing/memory-state.ts. */
export interface StateStore {
  loadSuite(suite: string): Promise<SuiteState | undefined>;
  /** Every suite ever published (a rebuild keeps publishing a suite that lost its packages). */
  listSuites(): Promise<string[]>;
  loadManifests(suite: string, indexKeys: readonly string[]): Promise<Map<string, Manifest>>;
  /** Commits all or nothing; false when another publisher committed first. */
  commit(commits: readonly SuiteCommit[]): Promise<boolean>;
  /**
   * Records retired objects outside a commit (pool files of records that left no index, e.g.
   * a held-back record deleted): like a commit's, after the commit that saw them go.
   */
  retire(suite: string, retired: readonly Retired[]): Promise<void>;
  /** Retired objects of a suite retired before `before`. */
  retiredBefore(suite: string, before: Date): Promise<Retired[]>;
  /** Retired objects of a suite retired at or after `since` (still in their grace period). */
  retiredSince(suite: string, since: Date): Promise<Retired[]>;
  forgetRetired(suite: string, retired: readonly Retired[]): Promise<void>;
}

export class StateError extends Error {
  override name = "StateError";
}

export function parseSuiteState(value: unknown, where: string): SuiteState {
  const result = v.safeParse(suiteStateSchema, value);
  if (!result.success) {
    throw new StateError(
      `publisher state ${where} is corrupt: ${result.issues.map((i) => `${v.getDotPath(i) ?? "(item)"}: ${i.message}`).join("; ")} (a force rebuild recreates it)`,
    );
  }
  return result.output;
}

export function parseManifest(value: unknown, where: string): Manifest {
  const result = v.safeParse(manifestSchema, value);
  if (!result.success) {
    throw new StateError(`index manifest ${where} is corrupt (a force rebuild recreates it)`);
  }
  return result.output;
}
