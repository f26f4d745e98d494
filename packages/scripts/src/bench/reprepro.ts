// reprepro on the same packages: `includedeb` of every .deb (in batches, as `xargs` would run
// it, without exporting between batches), one `export`; then one more package: `includedeb`
// and `export`. Indexes as we write them: Packages, .gz and .xz; no signing.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { median, progress, run } from "./proc";

export interface RepreproResult {
  readonly n: number;
  readonly includeMs: number;
  readonly exportMs: number;
  readonly fullMs: number;
  readonly oneRecord: {
    readonly samples: { includeMs: number; exportMs: number }[];
    readonly includeMs: number;
    readonly exportMs: number;
    readonly totalMs: number;
  };
}

const DISTRIBUTIONS = `Origin: Kiro
Label: Kiro
Codename: stable
Architectures: amd64 arm64
Components: main
DebIndices: Packages Release . .gz .xz
`;

/** Files per `includedeb` call (what `xargs -n` would pass). */
const BATCH = 1000;

export async function benchReprepro(options: {
  readonly n: number;
  readonly work: string;
  /** Absolute paths of the n .debs. */
  readonly debs: readonly string[];
  readonly extraDebs: readonly string[];
}): Promise<RepreproResult> {
  const base = join(options.work, "reprepro");
  await mkdir(join(base, "conf"), { recursive: true });
  await writeFile(join(base, "conf", "distributions"), DISTRIBUTIONS);
  const reprepro = (...args: string[]) => run("reprepro", ["-b", base, "--silent", ...args]);

  let includeMs = 0;
  for (let i = 0; i < options.debs.length; i += BATCH) {
    const batch = options.debs.slice(i, i + BATCH);
    includeMs += (await reprepro("--export=never", "includedeb", "stable", ...batch)).ms;
    if (options.debs.length > BATCH) {
      progress(`  reprepro includedeb ${Math.min(i + BATCH, options.debs.length)}/${options.n}`);
    }
  }
  const exported = await reprepro("export", "stable");
  const samples: { includeMs: number; exportMs: number }[] = [];
  for (const deb of options.extraDebs) {
    const one = await reprepro("--export=never", "includedeb", "stable", deb);
    const exp = await reprepro("export", "stable");
    samples.push({ includeMs: one.ms, exportMs: exp.ms });
  }
  return {
    n: options.n,
    includeMs,
    exportMs: exported.ms,
    fullMs: includeMs + exported.ms,
    oneRecord: {
      samples,
      includeMs: median(samples.map((s) => s.includeMs)),
      exportMs: median(samples.map((s) => s.exportMs)),
      totalMs: median(samples.map((s) => s.includeMs + s.exportMs)),
    },
  };
}
