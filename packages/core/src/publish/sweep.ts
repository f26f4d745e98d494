// Step 7 of a publication (docs/architecture.md, "Guarantees"): by-hash objects a Release no
// longer lists stay for a grace period (a client may have fetched the previous InRelease just
// before), then they are deleted, unless the current state lists them again.
import type { Logger } from "pino";
import type { ObjectStore } from "./bucket";
import type { StateStore, SuiteState } from "./state";
import { byHashKeys } from "./writer";

export async function sweep(
  deps: { state: StateStore; bucket: ObjectStore; logger: Logger },
  /** The suites just published, with their state as published last. */
  suites: ReadonlyMap<string, SuiteState>,
  before: Date,
): Promise<void> {
  for (const [suite, state] of suites) {
    const expired = await deps.state.retiredBefore(suite, before);
    if (expired.length === 0) continue;
    const current = new Set(
      Object.entries(state.indexes).flatMap(([key, index]) => byHashKeys(suite, key, index)),
    );
    const doomed = [...new Set(expired.map((r) => r.key))].filter((k) => !current.has(k));
    if (doomed.length > 0) await deps.bucket.delete(doomed);
    await deps.state.forgetRetired(suite, expired);
    deps.logger.info(
      { suite, deleted: doomed.length },
      "swept by-hash objects past their grace period",
    );
  }
}
