import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { architectureArb, packageNameArb, versionArb } from "../testing/record-arbitrary";
import { isSafePoolPath, poolPath, poolPrefix } from "./pool";

describe("pool paths", () => {
  it("follows Debian's layout", () => {
    expect(poolPath("main", "kiro", "0.7.45", "amd64")).toBe(
      "pool/main/k/kiro/kiro_0.7.45_amd64.deb",
    );
    expect(poolPath("main", "kiro-repo", "2.0.0", "all")).toBe(
      "pool/main/k/kiro-repo/kiro-repo_2.0.0_all.deb",
    );
    expect(poolPath("main", "libfoo", "1:2.0-1", "arm64")).toBe(
      "pool/main/libf/libfoo/libfoo_2.0-1_arm64.deb",
    );
    expect(poolPrefix("lib")).toBe("l");
    expect(poolPrefix("lib+")).toBe("lib+");
  });

  it("gives a safe, epoch-free, per-name path for every valid package", () => {
    fc.assert(
      fc.property(packageNameArb, versionArb, architectureArb, (name, version, arch) => {
        const path = poolPath("main", name, version, arch);
        expect(isSafePoolPath(path)).toBe(true);
        expect(path).not.toContain(":");
        expect(path.startsWith(`pool/main/${poolPrefix(name)}/${name}/${name}_`)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps every version of a package apart (the original's every-version-kept property)", () => {
    fc.assert(
      fc.property(
        packageNameArb,
        fc.uniqueArray(versionArb, { minLength: 2, maxLength: 5 }),
        (name, versions) => {
          // Versions equal but for the epoch share a file name, as in Debian; others never do.
          const stripped = new Set(versions.map((v) => v.replace(/^[0-9]+:/, "")));
          const paths = new Set(versions.map((v) => poolPath("main", name, v, "amd64")));
          expect(paths.size).toBe(stripped.size);
        },
      ),
    );
  });

  it("rejects anything with a dangerous segment", () => {
    const bad = fc.constantFrom("..", ".", "", "a b", "a:b", "a\u0000b", "a\nb", "a%2fb", "ä");
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z0-9]{1,5}$/), { minLength: 2, maxLength: 4 }),
        bad,
        fc.nat(),
        (segs, b, at) => {
          const copy = [...segs];
          copy.splice(at % (copy.length + 1), 0, b);
          expect(isSafePoolPath(`pool/${copy.join("/")}.deb`)).toBe(false);
        },
      ),
    );
  });
});
