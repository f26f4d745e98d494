// A suite's Release: what it lists follows from the state of its indexes alone, so any
// publisher (or a rebuild) renders the same text for the same state and Date.
import { nextReleaseDate, renderRelease } from "../debian/release";
import { INDEX_FILES, indexRelDir, parseIndexKey } from "./layout";
import type { IndexState } from "./state";

export interface ReleaseSettings {
  readonly architectures: readonly string[];
  readonly components: readonly string[];
  readonly origin: string;
  readonly label: string;
  readonly codename?: string;
  readonly description?: string;
  readonly validUntilDays?: number;
}

/** Configured architectures plus every one that still has packages of its own. */
export function suiteArchitectures(
  settings: Pick<ReleaseSettings, "architectures">,
  state: { readonly indexes: Readonly<Record<string, IndexState>> },
): string[] {
  const archs = new Set(settings.architectures);
  for (const [key, index] of Object.entries(state.indexes)) {
    if (index.own > 0) archs.add(parseIndexKey(key).architecture);
  }
  return [...archs].sort();
}

/** Monotonic and a little in the past: max(now - 5 min, previous + 1 s). */
export const releaseDate = (now: Date, previous: Date | undefined): Date =>
  nextReleaseDate(now, previous);

export function renderSuiteRelease(
  settings: ReleaseSettings,
  suite: string,
  indexes: Readonly<Record<string, IndexState>>,
  date: Date,
): string {
  const components = new Set(settings.components);
  const files: { path: string; size: number; sha256: string; sha512: string }[] = [];
  for (const [key, index] of Object.entries(indexes)) {
    const id = parseIndexKey(key);
    components.add(id.component);
    // The uncompressed name too: apt fetches only indexes whose plain name the Release lists.
    for (const name of ["Packages", ...INDEX_FILES] as const) {
      const hash = name === "Packages" ? index.raw : name === "Packages.gz" ? index.gz : index.xz;
      files.push({
        path: `${indexRelDir(id)}/${name}`,
        size: hash.size,
        sha256: hash.sha256,
        sha512: hash.sha512,
      });
    }
  }
  return renderRelease({
    origin: settings.origin,
    label: settings.label,
    suite,
    codename: settings.codename ?? suite,
    date,
    ...(settings.validUntilDays === undefined
      ? {}
      : { validUntil: new Date(date.getTime() + settings.validUntilDays * 86_400_000) }),
    architectures: suiteArchitectures(settings, { indexes }),
    components: [...components].sort(),
    ...(settings.description === undefined ? {} : { description: settings.description }),
    acquireByHash: true,
    hashes: ["SHA256", "SHA512"],
    files,
  });
}
