// aptly, as an operator would run it for the same packages: a local repo, `repo add` of the
// .debs, `publish repo` to a filesystem endpoint; then the cost of one more package
// (`repo add` + `publish update`).
//
// Flags, chosen so aptly does no more than we do: -skip-signing (we sign; openpgp signing of a
// Release costs milliseconds), -skip-contents (we write no Contents indexes), -acquire-by-hash
// (we publish by-hash). aptly's default index compressions are kept: Packages, .gz and .bz2,
// never .xz (we write .gz and .xz).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { median, run } from "./proc";

export interface AptlyResult {
  readonly n: number;
  readonly repoAddMs: number;
  readonly publishMs: number;
  /** repo add + publish: aptly's full build of the repository. */
  readonly fullMs: number;
  /** One more package: repo add, publish update (medians) and their sum per sample. */
  readonly oneRecord: {
    readonly samples: { addMs: number; updateMs: number }[];
    readonly addMs: number;
    readonly updateMs: number;
    readonly totalMs: number;
  };
  readonly flags: string;
}

const PUBLISH_FLAGS = ["-skip-signing", "-skip-contents", "-acquire-by-hash", "-batch"];

export async function benchAptly(options: {
  readonly n: number;
  readonly work: string;
  /** A directory holding exactly the n .debs. */
  readonly debDir: string;
  /** Paths of .debs for the one-record samples, one per sample. */
  readonly extraDebs: readonly string[];
}): Promise<AptlyResult> {
  const root = join(options.work, "aptly");
  const endpointDir = join(options.work, "aptly-published");
  await mkdir(root, { recursive: true });
  await mkdir(endpointDir, { recursive: true });
  const config = join(options.work, "aptly.conf");
  await writeFile(
    config,
    JSON.stringify({
      rootDir: root,
      architectures: ["amd64", "arm64"],
      gpgDisableSign: true,
      gpgDisableVerify: true,
      FileSystemPublishEndpoints: { bench: { rootDir: endpointDir, linkMethod: "hardlink" } },
    }),
  );
  const aptly = (...args: string[]) => run("aptly", [`-config=${config}`, ...args]);

  await aptly("repo", "create", "-distribution=stable", "-component=main", "bench");
  const add = await aptly("repo", "add", "bench", options.debDir);
  const publish = await aptly(
    "publish",
    "repo",
    ...PUBLISH_FLAGS,
    "-architectures=amd64,arm64",
    "-distribution=stable",
    "-origin=Kiro",
    "-label=Kiro",
    "bench",
    "filesystem:bench:.",
  );
  const samples: { addMs: number; updateMs: number }[] = [];
  for (const deb of options.extraDebs) {
    const one = await aptly("repo", "add", "bench", deb);
    const update = await aptly(
      "publish",
      "update",
      "-skip-signing",
      "-skip-contents",
      "-batch",
      "stable",
      "filesystem:bench:.",
    );
    samples.push({ addMs: one.ms, updateMs: update.ms });
  }
  return {
    n: options.n,
    repoAddMs: add.ms,
    publishMs: publish.ms,
    fullMs: add.ms + publish.ms,
    oneRecord: {
      samples,
      addMs: median(samples.map((s) => s.addMs)),
      updateMs: median(samples.map((s) => s.updateMs)),
      totalMs: median(samples.map((s) => s.addMs + s.updateMs)),
    },
    flags: `${PUBLISH_FLAGS.join(" ")} (indexes: Packages, .gz, .bz2; no .xz)`,
  };
}
