// Step 3 of a publication (docs/architecture.md, "The state table"): a suite's plan becomes a
// commit (its Release, its generation, the by-hash objects it retires), and every suite of a
// publication commits at once with a compare-and-swap on the generations it was planned from.
// Losing the race means planning again from the winner's state, so no change is lost: this is
// the only retry loop of the publisher.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { backoffDelay } from "../store/retry";
import type { SuitePlan } from "./plan";
import { releaseDate, renderSuiteRelease } from "./release";
import type { PublisherSettings } from "./settings";
import type { IndexState, Retired, SuiteCommit, SuiteState } from "./state";
import { byHashKeys } from "./writer";

export const MAX_ATTEMPTS = 8;

export class ConflictError extends Error {
  override name = "ConflictError";
}

/** A commit and the index files it uploads (the plain paths to write after it). */
export interface PlannedCommit {
  readonly commit: SuiteCommit;
  readonly files: SuitePlan["files"];
}

/**
 * The commit of a plan over the suite's current state, or undefined when every index is as
 * published and the Release is not due for signing again. Only files whose bytes changed are
 * uploaded; files the new state no longer lists are retired.
 */
export function suiteCommit(
  settings: PublisherSettings,
  plan: SuitePlan,
  current: SuiteState | undefined,
  now: Date,
): PlannedCommit | undefined {
  const { suite, indexes } = plan;
  const same = (a: IndexState | undefined, b: IndexState | undefined) =>
    a?.gz.sha512 === b?.gz.sha512 && a?.xz.sha512 === b?.xz.sha512;
  const files = new Map(
    [...plan.files].filter(([key]) => !same(current?.indexes[key], indexes[key])),
  );
  const keys = (r: Record<string, unknown>) => JSON.stringify(Object.keys(r).sort());
  // With Valid-Until, a Release past half its validity is signed again even if unchanged
  // (the daily rebuild keeps it from expiring on users).
  const validMs = (settings.validUntilDays ?? 0) * 86_400_000;
  const stale =
    validMs > 0 &&
    current !== undefined &&
    now.getTime() - new Date(current.date).getTime() > validMs / 2;
  if (
    current !== undefined &&
    files.size === 0 &&
    keys(current.indexes) === keys(indexes) &&
    !stale
  ) {
    return undefined;
  }
  const date = releaseDate(now, current ? new Date(current.date) : undefined);
  const retired: Retired[] = [];
  const listed = new Set(Object.entries(indexes).flatMap(([k, i]) => byHashKeys(suite, k, i)));
  for (const [key, old] of Object.entries(current?.indexes ?? {})) {
    for (const k of byHashKeys(suite, key, old)) {
      if (!listed.has(k)) retired.push({ key: k, at: now.toISOString() });
    }
  }
  return {
    commit: {
      from: current?.generation ?? 0,
      state: {
        suite,
        generation: (current?.generation ?? 0) + 1,
        date: date.toISOString(),
        release: renderSuiteRelease(settings, suite, indexes, date),
        indexes,
      },
      manifests: plan.manifests,
      retired,
    },
    files,
  };
}

/**
 * Runs attempts until one does not lose the commit race (`"conflict"`), with the store's
 * backoff between them; ConflictError after MAX_ATTEMPTS.
 */
export async function untilCommitted<T>(
  what: string,
  logger: Logger,
  attempt: (n: number) => Promise<T | "conflict">,
): Promise<T> {
  for (let n = 1; n <= MAX_ATTEMPTS; n++) {
    const outcome = await attempt(n);
    if (outcome !== "conflict") return outcome;
    logger.info(
      { attempt: n },
      "another publisher committed first; computing again from its state",
    );
    await sleep(backoffDelay(n + 1, 20, 2000, Math.random()));
  }
  throw new ConflictError(
    `${what} could not commit after ${MAX_ATTEMPTS} attempts: too much contention`,
  );
}
