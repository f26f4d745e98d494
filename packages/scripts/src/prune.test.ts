// pruneSelection over generated tables: kept and deleted partition the records of the chosen
// packages, each package keeps its min(N, distinct versions) newest versions (dpkg's order,
// oracle: compareVersions, itself tested against dpkg), and every kept version is newer than
// every deleted one.
import { compareVersions } from "@app/core/debian";
import { toRecord } from "@app/core/record";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { recordArb } from "../../core/src/testing/record-arbitrary";
import { pruneSelection } from "./prune";

const tableArb = fc.array(recordArb, { maxLength: 30 }).map((inputs) => {
  const seen = new Set<string>();
  return inputs
    .map((i) => toRecord(i))
    .filter((r) => !seen.has(r.package_id) && seen.add(r.package_id) !== undefined);
});

const distinct = (versions: string[]) =>
  versions.filter((v, i) => versions.findIndex((w) => compareVersions(v, w) === 0) === i);

describe("pruneSelection", () => {
  it("keeps exactly the N newest versions of each package, deletes the rest once", () => {
    fc.assert(
      fc.property(tableArb, fc.integer({ min: 1, max: 4 }), fc.boolean(), (records, keep, one) => {
        const only = one ? records[0]?.package_name : undefined;
        const doomed = pruneSelection(records, keep, only);
        const ids = doomed.map((r) => r.package_id);
        expect(new Set(ids).size).toBe(ids.length);
        const chosen = records.filter((r) => only === undefined || r.package_name === only);
        expect(doomed.every((r) => chosen.includes(r))).toBe(true);
        for (const name of new Set(chosen.map((r) => r.package_name))) {
          const all = chosen.filter((r) => r.package_name === name);
          const gone = doomed.filter((r) => r.package_name === name);
          const kept = all.filter((r) => !gone.includes(r));
          const keptVersions = distinct(kept.map((r) => r.version));
          expect(keptVersions.length).toBe(
            Math.min(keep, distinct(all.map((r) => r.version)).length),
          );
          for (const k of kept)
            for (const g of gone) expect(compareVersions(k.version, g.version)).toBe(1);
        }
      }),
    );
  });

  it("counts versions, not architectures", () => {
    const rec = (version: string, architecture: string) =>
      toRecord({
        package_id: `kiro#${version}#${architecture}`,
        package_name: "kiro",
        version,
        architecture,
        source: "manual",
        filename: `pool/main/k/kiro/kiro_${version}_${architecture}.deb`,
        file_size: 1,
        md5_hash: "0".repeat(32),
        sha1_hash: "0".repeat(40),
        sha256_hash: "0".repeat(64),
        sha512_hash: "0".repeat(128),
        maintainer: "K <k@example.org>",
        description: "k",
        processed_timestamp: "2026-01-01T00:00:00Z",
      });
    const records = ["1.9", "1.10", "1.0~rc1"].flatMap((v) => [rec(v, "amd64"), rec(v, "arm64")]);
    expect(pruneSelection(records, 2).map((r) => r.package_id)).toEqual([
      "kiro#1.0~rc1#amd64",
      "kiro#1.0~rc1#arm64",
    ]);
  });
});
