// package_id is canonical: versions dpkg finds equal have one id, and a record must carry it.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalVersion } from "../debian/canonical-version";
import { recordArb } from "../testing/record-arbitrary";
import { poolPath } from "./pool";
import { type PackageRecordInput, packageId, parseRecord } from "./schema";

const base = fc.sample(recordArb, { numRuns: 1, seed: 3 })[0] as PackageRecordInput;
const record = (version: string, id: string): PackageRecordInput => ({
  ...base,
  package_name: "dup",
  version,
  architecture: "amd64",
  package_id: id,
  filename: poolPath("main", "dup", version, "amd64"),
});

describe("package_id", () => {
  it("is one id for dup 1.0, 0:1.0 and 1.0-0", () => {
    expect(
      new Set(["1.0", "0:1.0", "1.0-0", "00:1.00-00"].map((v) => packageId("dup", v, "amd64"))),
    ).toEqual(new Set(["dup#1.0#amd64"]));
  });

  it.each([
    ["0:1.0", "dup#0:1.0#amd64"],
    ["1.0-0", "dup#1.0-0#amd64"],
  ])("refuses version %s under the id %s, naming the expected one", (version, id) => {
    const result = parseRecord(record(version, id));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.key).toBe(JSON.stringify(id));
    expect(result.issues).toEqual([
      expect.objectContaining({
        field: "package_id",
        message: expect.stringContaining("must be dup#1.0#amd64"),
      }),
    ]);
  });

  it("accepts a record iff its id is name#canonical(version)#arch", () => {
    fc.assert(
      fc.property(recordArb, fc.boolean(), (r, raw) => {
        const id = raw
          ? `${r.package_name}#${r.version}#${r.architecture}`
          : packageId(r.package_name, r.version, r.architecture);
        const ok = parseRecord({ ...r, package_id: id }).ok;
        expect(ok).toBe(
          id === `${r.package_name}#${canonicalVersion(r.version)}#${r.architecture}`,
        );
      }),
      { numRuns: 500 },
    );
  });
});
