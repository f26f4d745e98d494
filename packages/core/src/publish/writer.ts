// Steps 4 and 6 of a publication (docs/architecture.md, "Write order"): what goes into the
// bucket, in which order, and when. By-hash objects first (content-addressed, harmless if the
// commit then loses), the commit (commit.ts), then per suite the plain index paths (copies of
// the by-hash objects), Release, Release.gpg, InRelease last: a client that sees the new
// InRelease finds every file it lists.
//
// A warm process keeps the index files it wrote and when it wrote each InRelease, so its next
// publication neither downloads the previous index nor asks the bucket for InRelease's time.
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { byHashPath } from "../debian/by-hash";
import { type SigningKey, signRelease } from "../signing";
import type { ObjectStore } from "./bucket";
import type { IndexFiles, PreviousIndex } from "./chunks";
import { distDir, INDEX_FILES, type IndexFile, indexDir, objectHeaders } from "./layout";
import type { FileDigest } from "./manifest";
import type { IndexState, StateStore, SuiteCommit, SuiteState } from "./state";

/** Where an index file of `dir` is kept under its SHA-512 (the only by-hash copy we write). */
export const byHashKey = (dir: string, sha512: string): string =>
  byHashPath(`${dir}/Packages`, "SHA512", sha512);

/** The by-hash keys of an index's files. */
export const byHashKeys = (suite: string, key: string, index: IndexState): string[] => {
  const dir = indexDir(suite, key);
  return [byHashKey(dir, index.gz.sha512), byHashKey(dir, index.xz.sha512)];
};

const digestOf = (index: IndexState, name: IndexFile): FileDigest =>
  name === "Packages.gz" ? index.gz : index.xz;

export interface WriterDeps {
  readonly bucket: ObjectStore;
  readonly keys: readonly SigningKey[];
  readonly logger: Logger;
  readonly now: () => Date;
  /** Granularity of the bucket's Last-Modified (S3: one second; 0 turns the wait off). */
  readonly lastModifiedGranularityMs: number;
}

export class RepositoryWriter {
  /** The index files this process wrote last, by index file (the by-hash key says which). */
  private readonly recentFiles = new Map<string, { key: string; body: Uint8Array }>();
  /** When this process last wrote each suite's InRelease, and which generation. */
  private readonly lastInRelease = new Map<string, { generation: number; at: number }>();

  constructor(private readonly deps: WriterDeps) {}

  /**
   * The published files of a suite's indexes, to splice (one manifest read for all; the files
   * from memory if this process wrote them). An index whose files are gone is left out.
   */
  async previous(
    state: SuiteState,
    keys: readonly string[],
    loadManifests: StateStore["loadManifests"],
  ): Promise<Map<string, PreviousIndex>> {
    const manifests = await loadManifests(state.suite, keys);
    const out = new Map<string, PreviousIndex>();
    await Promise.all(
      keys.map(async (key) => {
        const index = state.indexes[key];
        const manifest = manifests.get(key);
        if (index === undefined || manifest === undefined) return;
        const dir = indexDir(state.suite, key);
        const [gz, xz] = await Promise.all(
          INDEX_FILES.map((name) =>
            this.file(dir, name, byHashKey(dir, digestOf(index, name).sha512)),
          ),
        );
        if (gz !== undefined && xz !== undefined) out.set(key, { gz, xz, manifest });
        else this.deps.logger.warn({ index: key }, "previous index files are gone");
      }),
    );
    return out;
  }

  /** Uploads the changed index files under their by-hash keys (before the commit). */
  async putByHash(suite: string, files: ReadonlyMap<string, IndexFiles>): Promise<void> {
    const uploads: Promise<void>[] = [];
    for (const [key, f] of files) {
      const dir = indexDir(suite, key);
      for (const [name, body, digest] of [
        ["Packages.gz", f.gz, f.gzHash],
        ["Packages.xz", f.xz, f.xzHash],
      ] as const) {
        const target = byHashKey(dir, digest.sha512);
        uploads.push(
          this.deps.bucket.put(target, body, objectHeaders("", name)).then(() => {
            this.recentFiles.set(`${dir}/${name}`, { key: target, body });
          }),
        );
      }
    }
    await Promise.all(uploads);
  }

  /**
   * After a commit: each suite's files, then, if a newer generation was committed meanwhile
   * (our writes may have overwritten it), that one again so it stays on top. Returns each
   * suite's state as published last.
   */
  async publishCommitted(
    commits: readonly { commit: SuiteCommit; files: ReadonlyMap<string, unknown> }[],
    loadSuite: StateStore["loadSuite"],
  ): Promise<Map<string, SuiteState>> {
    for (const { commit, files } of commits) {
      await this.writeGeneration(commit.state, [...files.keys()]);
    }
    const published = new Map<string, SuiteState>();
    for (const { commit } of commits) {
      let latest = commit.state;
      for (;;) {
        const stored = await loadSuite(latest.suite);
        if (stored === undefined || stored.generation === latest.generation) break;
        this.deps.logger.info(
          { suite: latest.suite, ours: latest.generation, latest: stored.generation },
          "a newer generation was committed meanwhile; publishing it again so it stays on top",
        );
        await this.writeGeneration(stored, Object.keys(stored.indexes));
        latest = stored;
      }
      published.set(latest.suite, latest);
    }
    return published;
  }

  /**
   * Plain index paths (copies of by-hash objects), then Release, Release.gpg, InRelease at
   * once. Signing and the If-Modified-Since wait come first, so a client that reads the plain
   * paths (no by-hash) sees a new index beside the old InRelease for as short as possible.
   */
  async writeGeneration(state: SuiteState, indexKeys: readonly string[]): Promise<void> {
    const { bucket, keys, logger } = this.deps;
    const signed = await signRelease(state.release, keys, this.deps.now());
    const dist = distDir(state.suite);
    await this.nextSecondAfter(`${dist}/InRelease`, state);
    await Promise.all(
      indexKeys.flatMap((key) => {
        const index = state.indexes[key];
        if (index === undefined) return [];
        const dir = indexDir(state.suite, key);
        return INDEX_FILES.map((name) =>
          bucket.copy(
            byHashKey(dir, digestOf(index, name).sha512),
            `${dir}/${name}`,
            objectHeaders(`${dir}/${name}`),
          ),
        );
      }),
    );
    await bucket.put(`${dist}/Release`, state.release, objectHeaders(`${dist}/Release`));
    await bucket.put(
      `${dist}/Release.gpg`,
      signed.releaseGpg,
      objectHeaders(`${dist}/Release.gpg`),
    );
    await bucket.put(`${dist}/InRelease`, signed.inRelease, objectHeaders(`${dist}/InRelease`));
    this.lastInRelease.set(state.suite, { generation: state.generation, at: Date.now() });
    logger.info(
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
   * Waits until the clock is past the second the current InRelease was written in. apt asks
   * with If-Modified-Since, which S3 answers at one-second granularity: an InRelease written
   * in the same second as the one a client already has would be answered 304, and that
   * client would miss this generation until the next one.
   */
  private async nextSecondAfter(key: string, state: SuiteState): Promise<void> {
    const step = this.deps.lastModifiedGranularityMs;
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

  private async file(dir: string, name: IndexFile, key: string): Promise<Uint8Array | undefined> {
    const recent = this.recentFiles.get(`${dir}/${name}`);
    return recent?.key === key ? recent.body : await this.deps.bucket.get(key);
  }
}
