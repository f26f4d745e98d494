import { describe, expect, it } from "vitest";
import { legacyKeys, normaliseTimestamp } from "./legacy";

describe("normaliseTimestamp", () => {
  it("reads legacy timestamps as UTC when they have no zone", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    expect(normaliseTimestamp("2025-01-02T03:04:05", now)).toBe("2025-01-02T03:04:05.000Z");
    expect(normaliseTimestamp("2025-01-02T03:04:05+01:00", now)).toBe("2025-01-02T02:04:05.000Z");
    expect(normaliseTimestamp(undefined, now)).toBe(now.toISOString());
    expect(() => normaliseTimestamp("yesterday", now)).toThrow(/not a date/);
  });
});

describe("legacyKeys", () => {
  it("tries the item's key, then its file under the old pool and at the root", () => {
    expect(legacyKeys({ s3_key: "/debs/a.deb", actual_filename: "kiro-ide-1.deb" })).toEqual([
      "debs/a.deb",
      "pool/main/k/kiro/kiro-ide-1.deb",
      "kiro-ide-1.deb",
    ]);
    expect(legacyKeys({ actual_filename: "releases/kiro-ide-1.deb" })).toEqual([
      "releases/kiro-ide-1.deb",
    ]);
    expect(legacyKeys({})).toEqual([]);
  });
});
