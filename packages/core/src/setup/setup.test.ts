import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type LoadedConfig, loadConfig } from "../config";
import { readDeb } from "../debian/deb";
import { compareVersions } from "../debian/version";
import { buildRecordDeb } from "../publish/build";
import { toRecord } from "../record/schema";
import { run, scratch } from "../testing";
import { nextVersion, setupPackageRecord } from "./index";

let config: LoadedConfig;
beforeAll(async () => {
  config = await loadConfig(join(import.meta.dirname, "../../../.."), "prod");
});

const keyring = Uint8Array.from([0x98, 1, 2, 3]);

function record(version = "2.0.0") {
  const pkg = config.packages.get("kiro-repo");
  if (!pkg) throw new Error("no kiro-repo config");
  return toRecord(
    setupPackageRecord({
      pkg,
      stage: config.stage,
      keyring,
      version,
      now: new Date("2026-11-24T12:00:00Z"),
    }),
  );
}

describe("setup package", () => {
  it("is a valid build record whose .deb carries the source, keyring and scripts", () => {
    const deb = readDeb(buildRecordDeb(record()));
    expect(deb.conffiles).toEqual(["/etc/apt/sources.list.d/kiro.sources"]);
    const paths = deb.dataFiles.map((f) => f.path);
    expect(paths).toContain("/usr/share/keyrings/kiro-archive-keyring.gpg");
    expect(paths).toContain("/etc/apt/sources.list.d/kiro.sources");
    expect(deb.scripts.postinst).toContain(config.stage.repo_url);
  });

  it("builds reproducibly and passes lintian without errors or bashisms", () => {
    const a = buildRecordDeb(record());
    const b = buildRecordDeb(record());
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    const { dir, cleanup } = scratch();
    try {
      const file = join(dir, "kiro-repo_2.0.0_all.deb");
      writeFileSync(file, a);
      run("dpkg-deb", ["--info", file]);
      const lint = run("lintian", ["--no-tag-display-limit", file]);
      const errors = lint.stdout.split("\n").filter((l) => l.startsWith("E:"));
      expect(errors, lint.stdout).toEqual([]);
      // The maintainer scripts are plain sh: no bashism, real or apparent (an awk function).
      expect(lint.stdout).not.toMatch(/bashism/);
    } finally {
      cleanup();
    }
  });

  it("increments the newest version by Debian order", () => {
    expect(nextVersion([])).toBe("1.0.0");
    expect(nextVersion(["2.0.9", "2.0.10", "1.9"])).toBe("2.0.11");
    expect(nextVersion(["1.0~rc1"])).toBe("1.0~rc2");
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[0-9]{1,3}(\.[0-9]{1,3}){0,2}([~+][a-z]{1,3}[0-9]{0,2})?$/), {
          minLength: 1,
        }),
        (versions) => {
          const next = nextVersion(versions);
          for (const v of versions) expect(compareVersions(next, v)).toBe(1);
        },
      ),
    );
  });
});
