import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { recordArb } from "../testing/record-arbitrary";
import { ControlMappingError, controlAttributes, recordControl } from "./control";
import type { PackageRecordInput } from "./schema";

describe("record and control paragraph", () => {
  it("renders well-known fields in canonical order, extras sorted after them", () => {
    const fields = recordControl({
      package_name: "kiro",
      version: "1.0",
      architecture: "amd64",
      maintainer: "M <m@example.org>",
      description: "d",
      installed_size: 12,
      control_extra: { "X-Zeta": "z", "X-Alpha": "a" },
    });
    expect(fields.map((f) => f.name)).toEqual([
      "Package",
      "Architecture",
      "Version",
      "Maintainer",
      "Installed-Size",
      "Description",
      "X-Alpha",
      "X-Zeta",
    ]);
    expect(fields.find((f) => f.name === "Installed-Size")?.value).toBe("12");
  });

  it("maps control fields back to the same attributes (case-insensitive names)", () => {
    fc.assert(
      fc.property(recordArb, (record) => {
        const attributes = controlAttributes(recordControl(record));
        for (const [key, value] of Object.entries(attributes)) {
          expect((record as Record<string, unknown>)[key]).toEqual(value);
        }
        expect(recordControl({ ...record, ...attributes } as PackageRecordInput)).toEqual(
          recordControl(record),
        );
      }),
      { numRuns: 300 },
    );
    expect(controlAttributes([{ name: "pre-depends", value: "x" }])).toEqual({ pre_depends: "x" });
  });

  it("refuses index-only fields and a non-numeric Installed-Size", () => {
    expect(() => controlAttributes([{ name: "Filename", value: "x" }])).toThrow(
      ControlMappingError,
    );
    expect(() => controlAttributes([{ name: "Installed-Size", value: "12k" }])).toThrow(
      /Installed-Size/,
    );
  });
});
