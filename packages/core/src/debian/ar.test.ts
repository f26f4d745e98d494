import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runOk, scratch } from "../testing";
import { readAr, writeAr } from "./ar";
import { DebFormatError, DebSpecError } from "./format-error";

// Spawns Debian's tools many times: generous on a busy 2-core machine.
const ORACLE_TIMEOUT = 300_000;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

// Names GNU ar stores inline (it appends "/", so at most 15 characters).
// (no leading "-": GNU ar would take it for an option)
const arName = fc.stringMatching(/^[a-z0-9_][a-z0-9_+.-]{0,14}$/);
const arMembers = fc.uniqueArray(
  fc.record({ name: arName, data: fc.uint8Array({ maxLength: 300 }) }),
  { selector: (m) => m.name, minLength: 1, maxLength: 6 },
);

/** Runs `fn` on every way of damaging `bytes`: each truncation and some bit flips. */
function damaged(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.nat({ max: bytes.length - 1 }).map((n) => bytes.subarray(0, n)),
    fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 })).map(([at, bit]) => {
      const copy = bytes.slice();
      copy[at] = (copy[at] ?? 0) ^ (1 << bit);
      return copy;
    }),
  );
}

describe("writeAr/readAr", () => {
  it("round-trips names and data with fixed metadata", () => {
    fc.assert(
      fc.property(arMembers, (members) => {
        const read = readAr(writeAr(members));
        expect(read.map((m) => m.name)).toEqual(members.map((m) => m.name));
        read.forEach((m, i) => {
          expect(m.data).toEqual(members[i]?.data);
          expect([m.mtime, m.uid, m.gid, m.mode]).toEqual([0, 0, 0, 0o100644]);
        });
      }),
      { numRuns: 500 },
    );
  });

  it(
    "writes what GNU ar lists and extracts, and reads what GNU ar writes",
    () => {
      const cases = fc.sample(arMembers, { numRuns: 25, seed: 7 });
      const { dir, cleanup } = scratch();
      try {
        const script: string[] = ["set -e"];
        cases.forEach((members, i) => {
          writeFileSync(join(dir, `mine${i}.a`), writeAr(members));
          mkdirSync(join(dir, `src${i}`));
          for (const m of members) writeFileSync(join(dir, `src${i}`, m.name), m.data);
          const names = members.map((m) => `'${m.name}'`).join(" ");
          script.push(
            `cd ${dir} && echo "== ${i}" && ar t mine${i}.a`,
            `mkdir out${i} && cd out${i} && ar x ../mine${i}.a`,
            `cd ../src${i} && ar rcDS ../gnu${i}.a ${names}`,
          );
        });
        const listed = runOk("bash", ["-c", script.join("\n")]).stdout;
        const sections = listed.split(/^== \d+\n/m).slice(1);
        cases.forEach((members, i) => {
          expect(sections[i]?.trim().split("\n")).toEqual(members.map((m) => m.name));
          for (const m of members) {
            expect(new Uint8Array(readFileSync(join(dir, `out${i}`, m.name)))).toEqual(m.data);
          }
          const gnu = readAr(readFileSync(join(dir, `gnu${i}.a`)), `gnu${i}.a`);
          expect(gnu.map((m) => [m.name, new Uint8Array(m.data)])).toEqual(
            members.map((m) => [m.name, m.data]),
          );
        });
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );

  it("pads odd members with a newline and starts with the magic", () => {
    const bytes = writeAr([{ name: "a", data: text("x") }]);
    expect(new TextDecoder().decode(bytes)).toBe(
      `!<arch>\na               0           0     0     100644  1         \`\nx\n`,
    );
  });

  it("refuses names that dpkg's format cannot hold, and duplicates", () => {
    for (const name of ["", "a/b", "with space", "x".repeat(17), "é"]) {
      expect(() => writeAr([{ name, data: text("") }])).toThrow(DebSpecError);
    }
    expect(() =>
      writeAr([
        { name: "a", data: text("") },
        { name: "a", data: text("") },
      ]),
    ).toThrow(/duplicate/);
  });
});

describe("readAr errors", () => {
  const good = writeAr([
    { name: "debian-binary", data: text("2.0\n") },
    { name: "odd", data: text("abc") },
  ]);
  const fail = (bytes: Uint8Array, message: RegExp): void => {
    expect(() => readAr(bytes, "x.deb")).toThrow(DebFormatError);
    expect(() => readAr(bytes, "x.deb")).toThrow(message);
  };

  it("names the problem and the source", () => {
    fail(text("!<arch"), /^x\.deb: not an ar archive/);
    fail(text("<arch>!\nxxxx"), /bad magic/);
    fail(good.subarray(0, 30), /truncated ar member header #1 at offset 8/);
    fail(good.subarray(0, 70), /debian-binary\): size 4 goes beyond the end/);
    const badTerminator = good.slice();
    badTerminator[66] = 0x20;
    fail(badTerminator, /bad terminator/);
    const badSize = good.slice();
    badSize.set(text("1x"), 8 + 48);
    fail(badSize, /invalid size "1x/);
    const badMode = good.slice();
    badMode.set(text("9"), 8 + 40);
    fail(badMode, /mode is not a number/);
  });

  it("tolerates a GNU trailing slash and a missing final pad byte", () => {
    const slash = good.slice();
    slash.set(text("odd/"), 8 + 60 + 4);
    expect(readAr(slash).map((m) => m.name)).toEqual(["debian-binary", "odd"]);
    expect(readAr(good.subarray(0, good.length - 1)).map((m) => m.name)).toEqual([
      "debian-binary",
      "odd",
    ]);
  });

  it("either reads or throws DebFormatError on any truncation or bit flip", () => {
    fc.assert(
      fc.property(
        arMembers.chain((members) => damaged(writeAr(members))),
        (bytes) => {
          try {
            readAr(bytes, "damaged");
          } catch (error) {
            expect(error).toBeInstanceOf(DebFormatError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
