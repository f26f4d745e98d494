// An in-memory StateStore (model tests): the same compare-and-swap on the generation as the
// DynamoDB one.
import type { Manifest } from "../publish/manifest";
import type { Retired, StateStore, SuiteCommit, SuiteState } from "../publish/state";

export class MemoryStateStore implements StateStore {
  private readonly suites = new Map<string, SuiteState>();
  private readonly manifests = new Map<string, Manifest>();
  private readonly retired = new Map<string, Retired[]>();

  async loadSuite(suite: string): Promise<SuiteState | undefined> {
    const state = this.suites.get(suite);
    return state === undefined ? undefined : structuredClone(state);
  }

  async listSuites(): Promise<string[]> {
    return [...this.suites.keys()].sort();
  }

  async loadManifests(suite: string, indexKeys: readonly string[]): Promise<Map<string, Manifest>> {
    const out = new Map<string, Manifest>();
    for (const key of indexKeys) {
      const manifest = this.manifests.get(`${suite}|${key}`);
      if (manifest !== undefined) out.set(key, structuredClone(manifest));
    }
    return out;
  }

  async commit(commits: readonly SuiteCommit[]): Promise<boolean> {
    for (const c of commits) {
      if ((this.suites.get(c.state.suite)?.generation ?? 0) !== c.from) return false;
    }
    for (const c of commits) {
      this.suites.set(c.state.suite, structuredClone(c.state));
      for (const [key, manifest] of c.manifests) {
        this.manifests.set(`${c.state.suite}|${key}`, structuredClone(manifest));
      }
      this.retired.set(c.state.suite, [...(this.retired.get(c.state.suite) ?? []), ...c.retired]);
    }
    return true;
  }

  async retire(suite: string, retired: readonly Retired[]): Promise<void> {
    this.retired.set(suite, [...(this.retired.get(suite) ?? []), ...structuredClone(retired)]);
  }

  async retiredBefore(suite: string, before: Date): Promise<Retired[]> {
    return (this.retired.get(suite) ?? []).filter((r) => new Date(r.at) < before);
  }

  async retiredSince(suite: string, since: Date): Promise<Retired[]> {
    return (this.retired.get(suite) ?? []).filter((r) => new Date(r.at) >= since);
  }

  async forgetRetired(suite: string, retired: readonly Retired[]): Promise<void> {
    const gone = new Set(retired.map((r) => `${r.at}|${r.key}`));
    this.retired.set(
      suite,
      (this.retired.get(suite) ?? []).filter((r) => !gone.has(`${r.at}|${r.key}`)),
    );
  }
}
