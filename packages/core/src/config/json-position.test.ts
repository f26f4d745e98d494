import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { jsonErrorOffset } from "./json-position";

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe("jsonErrorOffset", () => {
  it("finds no error in any JSON that JSON.stringify writes", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 2, "\t"), (value, indent) => {
        expect(jsonErrorOffset(JSON.stringify(value, null, indent))).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with JSON.parse on corrupted text, and points inside it", () => {
    const piece = fc.constantFrom(
      "@",
      ",",
      "}",
      "]",
      "{",
      "[",
      '"',
      ":",
      "\\",
      "\n",
      "0",
      "-",
      "e",
      "tru",
      "\u0001",
    );
    fc.assert(
      fc.property(fc.jsonValue(), piece, fc.nat(), fc.boolean(), (value, p, at, remove) => {
        const text = JSON.stringify(value, null, 2);
        const i = at % (text.length + 1);
        const corrupted = remove
          ? text.slice(0, i) + text.slice(i + 1)
          : text.slice(0, i) + p + text.slice(i);
        const offset = jsonErrorOffset(corrupted);
        expect(offset === undefined).toBe(parses(corrupted));
        if (offset !== undefined) expect(offset).toBeLessThanOrEqual(corrupted.length);
      }),
      { numRuns: 3000 },
    );
  });

  it("points at the offending character", () => {
    expect(jsonErrorOffset('{\n  "a": [1,\n  @\n]}')).toBe(15);
    expect(jsonErrorOffset('{"a": 1,}')).toBe(8);
    expect(jsonErrorOffset('{"a": 1')).toBe(7);
    expect(jsonErrorOffset("01")).toBe(1);
    expect(jsonErrorOffset("")).toBe(0);
  });
});
