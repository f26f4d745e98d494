// Step 7 of a publication (docs/architecture.md, "Guarantees"): by-hash objects a Release no
// longer lists stay for a grace period (a client may have fetched the previous InRelease just
// before), then they are deleted, unless the current state lists them again. Pool files whose
// records went share the retired list and the grace period; pool-sweep.ts decides on them.
import { isPoolKey, type PoolSweepDeps, sweepPool } from "./pool-sweep";
import type { Retired, SuiteState } from "./state";
import { byHashKeys } from "./writer";

export async function sweep(
  deps: PoolSweepDeps,
  /** The suites just published, with their state as published last. */
  suites: ReadonlyMap<string, SuiteState>,
  before: Date,
): Promise<void> {
  const pool = new Map<string, Retired[]>();
  for (const [suite, state] of suites) {
    const expired = await deps.state.retiredBefore(suite, before);
    if (expired.length === 0) continue;
    const files = expired.filter((r) => isPoolKey(r.key));
    if (files.length > 0) pool.set(suite, files);
    const objects = expired.filter((r) => !isPoolKey(r.key));
    if (objects.length === 0) continue;
    const current = new Set(
      Object.entries(state.indexes).flatMap(([key, index]) => byHashKeys(suite, key, index)),
    );
    const doomed = [...new Set(objects.map((r) => r.key))].filter((k) => !current.has(k));
    if (doomed.length > 0) await deps.bucket.delete(doomed);
    await deps.state.forgetRetired(suite, objects);
    deps.logger.info(
      { suite, deleted: doomed.length },
      "swept by-hash objects past their grace period",
    );
  }
  if (pool.size > 0) await sweepPool(deps, pool, before);
}
