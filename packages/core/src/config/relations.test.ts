import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { run, scratch } from "../testing";
import { relationFieldArb, versionArb } from "../testing/config-arbitraries";
import { parseRelations, RELATION_FIELDS, type RelationField, relationsSchema } from "./relations";

// The dpkg field name of each config field.
const CONTROL_NAME: Record<RelationField, string> = {
  pre_depends: "Pre-Depends",
  depends: "Depends",
  recommends: "Recommends",
  suggests: "Suggests",
  enhances: "Enhances",
  breaks: "Breaks",
  conflicts: "Conflicts",
  replaces: "Replaces",
  provides: "Provides",
};

/** dpkg parses these stanzas' relationship fields; its exit status and errors are the verdict. */
function dpkgParses(fields: readonly (readonly [RelationField, string])[]): {
  status: number;
  stderr: string;
} {
  const { dir, cleanup } = scratch();
  try {
    mkdirSync(join(dir, "updates"));
    mkdirSync(join(dir, "info"));
    const status = fields
      .map(
        ([field, value], i) =>
          `Package: p${i}\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\nMaintainer: A <a@b.c>\nDescription: d\n${CONTROL_NAME[field]}: ${value}\n`,
      )
      .join("\n");
    writeFileSync(join(dir, "status"), status);
    return run("dpkg-query", [`--admindir=${dir}`, "-W"]);
  } finally {
    cleanup();
  }
}

const fieldArb = fc.constantFrom(...RELATION_FIELDS);

describe("relationship fields", () => {
  it("accepts generated relations, normalizes them, and dpkg parses the result", () => {
    const accepted: [RelationField, string][] = [];
    fc.assert(
      fc.property(
        fieldArb.chain((f) => fc.tuple(fc.constant(f), relationFieldArb(f))),
        ([field, { input, normal }]) => {
          const parsed = parseRelations(input, field);
          expect(parsed).toEqual({ ok: true, value: normal });
          // Normal form is a fixed point.
          expect(parseRelations(normal, field)).toEqual({ ok: true, value: normal });
          expect(v.parse(relationsSchema(field), input)).toBe(normal);
          accepted.push([field, normal]);
        },
      ),
      { numRuns: 1000 },
    );
    const verdict = dpkgParses(accepted);
    expect(verdict.stderr).toBe("");
    expect(verdict.status).toBe(0);
  });

  it("the oracle rejects what dpkg cannot parse", () => {
    expect(dpkgParses([["depends", "ab (>= 1"]]).status).not.toBe(0);
    expect(dpkgParses([["conflicts", "ab | cd"]]).status).not.toBe(0);
    expect(dpkgParses([["depends", "ab (>= 1)"]]).status).toBe(0);
  });

  const rejected = (input: string | string[], field: RelationField = "depends") =>
    expect(parseRelations(input, field).ok, JSON.stringify(input)).toBe(false);

  it("rejects broken relations in any position", () => {
    const broken = fc.constantFrom(
      "Libc6",
      "ab_c",
      "ab (> 1)",
      "ab (< 1)",
      "ab (>= )",
      "ab (>= 1",
      "ab >= 1",
      "ab [amd64]",
      "ab <!nocheck>",
      "ab:x86_64",
      "ab:",
      "ab (= 1.0 beta)",
      "(>= 1)",
      "ab cd",
      "a",
      "",
    );
    fc.assert(
      fc.property(
        fieldArb.chain((f) => fc.tuple(fc.constant(f), relationFieldArb(f))),
        broken,
        fc.nat(),
        ([field, { normal }], bad, at) => {
          const clauses = normal.split(", ");
          clauses.splice(at % (clauses.length + 1), 0, bad);
          expect(parseRelations(clauses.join(", "), field).ok).toBe(false);
          expect(parseRelations(clauses, field).ok).toBe(false);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("allows alternatives only where dpkg does, and only (= v) in Provides", () => {
    for (const field of ["breaks", "conflicts", "replaces", "provides"] as const)
      rejected("ab | cd", field);
    for (const field of ["pre_depends", "depends", "recommends", "suggests", "enhances"] as const) {
      expect(parseRelations("ab|cd", field)).toEqual({ ok: true, value: "ab | cd" });
    }
    fc.assert(
      fc.property(versionArb, fc.constantFrom("<<", "<=", ">=", ">>"), (version, op) => {
        rejected(`ab (${op} ${version})`, "provides");
        expect(parseRelations(`ab (= ${version})`, "provides")).toEqual({
          ok: true,
          value: `ab (= ${version})`,
        });
      }),
    );
    rejected("ab:any", "provides");
    expect(parseRelations("ab:any", "depends")).toEqual({ ok: true, value: "ab:any" });
    rejected([]);
    rejected("ab,");
    rejected("ab, | cd");
  });

  it("the schema takes a string or a list of strings only", () => {
    expect(v.safeParse(relationsSchema("depends"), 3).success).toBe(false);
    expect(v.safeParse(relationsSchema("depends"), [1]).success).toBe(false);
    expect(v.parse(relationsSchema("depends"), ["ab", "bc | cd (>= 1)"])).toBe(
      "ab, bc | cd (>= 1)",
    );
  });
});
