// Wrappers around the publisher's ports, for tests and the benchmark: they observe or delay
// calls, never change what a call does, so the production code has no hooks of its own.
import type { ObjectStore } from "../publish/bucket";
import type { ObjectHeaders } from "../publish/layout";
import type { StateStore } from "../publish/state";

/** An ObjectStore that counts the requests it forwards, by operation (`list` counts pages). */
export function countingObjectStore(inner: ObjectStore): {
  store: ObjectStore;
  readonly requests: Record<string, number>;
  reset(): void;
} {
  const requests: Record<string, number> = {};
  const counted =
    <A extends unknown[], R>(op: string, f: (...args: A) => R) =>
    (...args: A): R => {
      requests[op] = (requests[op] ?? 0) + 1;
      return f(...args);
    };
  const store: ObjectStore = {
    get: counted("get", (key: string) => inner.get(key)),
    head: counted("head", (key: string) => inner.head(key)),
    put: counted("put", (key: string, body: Uint8Array | string, headers: ObjectHeaders) =>
      inner.put(key, body, headers),
    ),
    copy: counted("copy", (from: string, to: string, headers: ObjectHeaders) =>
      inner.copy(from, to, headers),
    ),
    delete: counted("delete", (keys: readonly string[]) => inner.delete(keys)),
    async *list(prefix) {
      requests.list = (requests.list ?? 0) + 1;
      yield* inner.list(prefix);
    },
  };
  return {
    store,
    requests,
    reset() {
      for (const key of Object.keys(requests)) delete requests[key];
    },
  };
}

/** The points between a publication's steps where a pause can interleave publishers. */
export type PauseStep = "loaded" | "committed" | "indexes-written";
export type PauseHook = (step: PauseStep) => Promise<void>;

/**
 * The ports of a publisher, paused at its steps: `loaded` before the commit, `committed` after
 * a commit that won, `indexes-written` before the Release (after the plain index paths).
 */
export function pausingPorts(
  ports: { state: StateStore; bucket: ObjectStore },
  pause: PauseHook,
): { state: StateStore; bucket: ObjectStore } {
  const { state, bucket } = ports;
  return {
    state: {
      loadSuite: (suite) => state.loadSuite(suite),
      listSuites: () => state.listSuites(),
      loadManifests: (suite, keys) => state.loadManifests(suite, keys),
      retire: (suite, retired) => state.retire(suite, retired),
      retiredBefore: (suite, before) => state.retiredBefore(suite, before),
      retiredSince: (suite, since) => state.retiredSince(suite, since),
      forgetRetired: (suite, retired) => state.forgetRetired(suite, retired),
      async commit(commits) {
        await pause("loaded");
        const won = await state.commit(commits);
        if (won) await pause("committed");
        return won;
      },
    },
    bucket: {
      get: (key) => bucket.get(key),
      head: (key) => bucket.head(key),
      copy: (from, to, headers) => bucket.copy(from, to, headers),
      list: (prefix) => bucket.list(prefix),
      delete: (keys) => bucket.delete(keys),
      async put(key, body, headers) {
        if (/^dists\/[^/]+\/Release$/.test(key)) await pause("indexes-written");
        return bucket.put(key, body, headers);
      },
    },
  };
}
