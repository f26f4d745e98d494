import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalVersion } from "../debian/canonical-version";
import { packageId, parseRecord, poolPath, type RecordResult } from "../record";
import { legacyIds, planMigration, type RowDecision } from "./plan";

const NOW = new Date("2026-01-01T00:00:00Z");

/** Legacy items: versions in several spellings of few classes, some invalid, some odd fields. */
const itemArb = fc.oneof(
  fc
    .record({
      base: fc.constantFrom("1.0", "1.2", "0.7.45", "2.0~rc1", "1.0+dfsg"),
      spelling: fc.constantFrom("", "0:", "-0", "0"),
      sha256: fc.option(fc.constantFrom("a".repeat(64), "b".repeat(64)), { nil: undefined }),
      processed: fc.option(fc.constantFrom("2025-01-02T03:04:05", "yesterday"), {
        nil: undefined,
      }),
    })
    .map(({ base, spelling, sha256, processed }) => ({
      version:
        spelling === "0:" ? `0:${base}` : spelling === "-0" ? `${base}-0` : `${spelling}${base}`,
      ...(sha256 === undefined ? {} : { sha256_hash: sha256 }),
      ...(processed === undefined ? {} : { processed_timestamp: processed }),
    })),
  fc.constantFrom<Record<string, unknown>>(
    { version: "not a version!" },
    { version: "" },
    { version: 7 },
    { version: "1.0", file_size: "many" },
    { version: "1.0", md5_hash: "xyz" },
  ),
);

/** The legacy table is keyed by version: one item per spelling. */
const tableArb = fc
  .array(itemArb, { maxLength: 12 })
  .map((items) => [...new Map(items.map((i) => [JSON.stringify(i.version), i])).values()]);

function recordFor(version: string, sha256: string): RecordResult {
  return parseRecord({
    package_id: packageId("kiro", version, "amd64"),
    package_name: "kiro",
    version,
    architecture: "amd64",
    source: "migration",
    filename: poolPath("main", "kiro", version, "amd64"),
    file_size: 10,
    md5_hash: "0".repeat(32),
    sha1_hash: "0".repeat(40),
    sha256_hash: sha256,
    sha512_hash: "0".repeat(128),
    maintainer: "Kiro Team <support@kiro.dev>",
    description: "Kiro",
    processed_timestamp: NOW.toISOString(),
  });
}

const kinds = (ds: readonly RowDecision[]) => new Map(ds.map((d) => [d.key, d.kind]));

describe("planMigration", () => {
  it("decides every item exactly once, migrating at most one item per dpkg version", () => {
    fc.assert(
      fc.property(tableArb, (items) => {
        const decisions = planMigration(items, new Map(), NOW);
        expect(decisions).toHaveLength(items.length);
        const migrating = decisions.flatMap((d) => (d.kind === "migrate" ? [d.id] : []));
        expect(new Set(migrating).size).toBe(migrating.length);
        expect(decisions.some((d) => d.kind === "skip")).toBe(false);
        // Every valid dpkg version class is migrated once, or all its items are reported.
        for (const d of decisions) {
          if (d.kind === "migrate") {
            expect(d.id).toBe(`kiro#${canonicalVersion(d.row.version)}#amd64`);
          }
        }
        const ids = legacyIds(items);
        for (const id of migrating) expect(ids).toContain(id);
      }),
      { numRuns: 300 },
    );
  });

  it("does not depend on the scan order", () => {
    fc.assert(
      fc.property(
        tableArb.chain((items) =>
          fc.tuple(fc.constant(items), fc.shuffledSubarray(items, { minLength: items.length })),
        ),
        ([items, shuffled]) => {
          expect(kinds(planMigration(shuffled, new Map(), NOW))).toEqual(
            kinds(planMigration(items, new Map(), NOW)),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("skips on a rerun what the first run migrated, and reports the same items again", () => {
    fc.assert(
      fc.property(tableArb, (items) => {
        const first = planMigration(items, new Map(), NOW);
        const existing = new Map<string, RecordResult>();
        for (const d of first) {
          if (d.kind === "migrate") {
            existing.set(d.id, recordFor(d.row.version, d.row.sha256_hash ?? "a".repeat(64)));
          }
        }
        const again = planMigration(items, existing, NOW);
        again.forEach((d, i) => {
          const before = first[i] as RowDecision;
          expect(d.kind).toBe(before.kind === "migrate" ? "skip" : "report");
        });
      }),
      { numRuns: 300 },
    );
  });

  it("reports what the table contradicts, and invalid items under the id", () => {
    const recorded = new Map([
      [packageId("kiro", "1.0", "amd64"), recordFor("1.0", "a".repeat(64))],
      [
        packageId("kiro", "1.2", "amd64"),
        parseRecord({ package_id: "kiro#1.2#amd64", package_name: "kiro" }),
      ],
    ]);
    const [conflict, invalid, same] = planMigration(
      [{ version: "1.0", sha256_hash: "B".repeat(64) }, { version: "1.2" }, { version: "2.0" }],
      new Map([...recorded, [packageId("kiro", "2.0", "amd64"), recordFor("2.0", "c".repeat(64))]]),
      NOW,
    );
    expect(conflict).toMatchObject({ kind: "report" });
    expect(conflict?.kind === "report" && conflict.problems[0]).toMatch(
      /sha256_hash b{64} \(legacy\) vs a{64} \(recorded\)/,
    );
    expect(invalid?.kind === "report" && invalid.problems[0]).toMatch(
      /an invalid item holds kiro#1\.2#amd64/,
    );
    expect(same).toMatchObject({ kind: "skip", reason: "already migrated" });
  });

  it("keeps the canonical spelling among duplicates and names the others", () => {
    const ds = planMigration(
      [{ version: "1.0-0" }, { version: "1.0" }, { version: "0:1.0" }],
      new Map(),
      NOW,
    );
    expect(ds.map((d) => d.kind)).toEqual(["report", "migrate", "report"]);
    expect(ds[0]?.kind === "report" && ds[0].problems[0]).toMatch(
      /duplicate of version=1\.0: dpkg sees the same version \(1\.0\)/,
    );
  });

  it("names every bad field", () => {
    const [d] = planMigration(
      [{ version: "1.0", file_size: "many", md5_hash: "xyz" }],
      new Map(),
      NOW,
    );
    expect(d?.kind === "report" && d.problems).toEqual([
      "file_size: must be a whole number",
      "md5_hash: must be an MD5 (32 hex digits)",
    ]);
    const [t] = planMigration(
      [{ version: "1.0", processed_timestamp: "yesterday" }],
      new Map(),
      NOW,
    );
    expect(t?.kind === "report" && t.problems).toEqual([
      'processed_timestamp "yesterday" is not a date',
    ]);
  });
});
