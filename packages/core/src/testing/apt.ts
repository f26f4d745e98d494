// apt-get in an isolated root: its own configuration, sources, keyring, lists and cache, so
// date and signature problems are caught (the machine's own apt turns some checks off) and
// the machine's apt is never touched. `apt-get update` exits 0 even when it falls back
// silently, so any W:, E:, Err: or Ign: line is a failure here.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runAsync, scratch } from "./exec";

export interface AptSource {
  readonly url: string;
  readonly suite: string;
  readonly components: readonly string[];
  /** The binary keyring file the source is Signed-By. */
  readonly keyring: string;
}

export interface AptRoot {
  readonly dir: string;
  /** Runs an apt program (apt-get, apt-cache) with the isolated configuration. */
  apt(
    program: "apt-get" | "apt-cache",
    args: readonly string[],
  ): Promise<{ status: number; output: string }>;
  /** `apt-get update`, failing on any warning, error, or ignored index. */
  update(): Promise<string>;
  /** Candidate versions of a package (`apt-cache madison`), newest first. */
  versions(name: string): Promise<string[]>;
  /** Downloads name=version into the root's download dir (apt verifies size and hashes). */
  download(name: string, version: string): Promise<string>;
  /**
   * `apt-get install name=version` into the root itself: dpkg runs with `--root` on the root's
   * own database (maintainer scripts outside a chroot; the root has no shell), never the
   * machine's. A foreign architecture is declared in the root's database first. Returns apt's
   * output; fails on any error.
   */
  install(name: string, version: string): Promise<string>;
  cleanup(): void;
}

export function aptRoot(source: AptSource, architecture = "amd64"): AptRoot {
  const { dir, cleanup } = scratch("apt-root-");
  for (const d of [
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "etc/apt/sources.list.d",
    "etc/apt/trusted.gpg.d",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/lib/dpkg/info",
    "var/lib/dpkg/updates",
    "var/lib/dpkg/triggers",
    "var/log/apt",
    "downloads",
  ]) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  writeFileSync(join(dir, "var/lib/dpkg/status"), "");
  writeFileSync(
    join(dir, "etc/apt/sources.list.d/test.sources"),
    [
      "Types: deb",
      `URIs: ${source.url}`,
      `Suites: ${source.suite}`,
      `Components: ${source.components.join(" ")}`,
      `Signed-By: ${source.keyring}`,
      "",
    ].join("\n"),
  );
  const config = join(dir, "apt.conf");
  writeFileSync(
    config,
    [
      `Dir "${dir}/";`,
      `Dir::State "${dir}/var/lib/apt/";`,
      `Dir::State::status "${dir}/var/lib/dpkg/status";`,
      `Dir::Etc "${dir}/etc/apt/";`,
      `Dir::Cache "${dir}/var/cache/apt/";`,
      `Dir::Log "${dir}/var/log/apt/";`,
      'Dir::Bin::Methods "/usr/lib/apt/methods/";',
      `APT::Architecture "${architecture}";`,
      `APT::Architectures { "${architecture}"; };`,
      'APT::Sandbox::User "root";',
      'Acquire::Languages "none";',
      'Acquire::Check-Valid-Until "true";',
      'Acquire::Check-Date "true";',
      'Acquire::Retries "0";',
      'Debug::NoLocking "true";',
      "",
    ].join("\n"),
  );
  const env = { ...process.env, APT_CONFIG: config, LC_ALL: "C" };
  const apt = async (program: "apt-get" | "apt-cache", args: readonly string[]) => {
    const result = await runAsync(program, args, { env, cwd: join(dir, "downloads") });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  };
  return {
    dir,
    apt,
    async update() {
      const { status, output } = await apt("apt-get", ["update"]);
      const bad = output.split("\n").filter((l) => /^(W|E|Err|Ign):/.test(l));
      if (status !== 0 || bad.length > 0) {
        throw new Error(`apt-get update failed (exit ${status}):\n${output}`);
      }
      return output;
    },
    async versions(name) {
      const { status, output } = await apt("apt-cache", ["madison", name]);
      if (status !== 0) throw new Error(`apt-cache madison ${name} failed:\n${output}`);
      return output
        .split("\n")
        .map((l) => l.split("|").map((p) => p.trim()))
        .filter((parts) => parts[0] === name)
        .map((parts) => parts[1] ?? "");
    },
    async download(name, version) {
      const { status, output } = await apt("apt-get", ["download", `${name}=${version}`]);
      if (status !== 0 || /^(W|E|Err):/m.test(output)) {
        throw new Error(`apt-get download ${name}=${version} failed:\n${output}`);
      }
      return join(dir, "downloads");
    },
    async install(name, version) {
      const dpkg = ["--root", dir, "--log", join(dir, "var/log/dpkg.log")];
      const native = (await runAsync("dpkg", ["--print-architecture"], { env })).stdout.trim();
      if (architecture !== native) {
        const added = await runAsync("dpkg", [...dpkg, "--add-architecture", architecture], {
          env,
        });
        if (added.status !== 0) throw new Error(`dpkg --add-architecture failed:\n${added.stderr}`);
      }
      const { status, output } = await apt("apt-get", [
        "install",
        "--yes",
        "--no-install-recommends",
        ...dpkg.flatMap((option, i) =>
          i % 2 === 0 ? ["-o", `DPkg::Options::=${option}=${dpkg[i + 1]}`] : [],
        ),
        "-o",
        "DPkg::Options::=--force-script-chrootless",
        `${name}=${version}`,
      ]);
      if (status !== 0 || /^(W|E|Err):/m.test(output)) {
        throw new Error(`apt-get install ${name}=${version} failed (exit ${status}):\n${output}`);
      }
      return output;
    },
    cleanup,
  };
}
