import { readFileSync } from "node:fs";
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { run, runOk } from "../testing";
import {
  architectureSchema,
  componentSchema,
  isValidDistName,
  isValidPackageName,
  isValidSection,
  KNOWN_ARCHITECTURES,
  KNOWN_SECTIONS,
  MACHINE_ARCHITECTURES,
  machineArchitectureSchema,
  PRIORITIES,
  packageNameSchema,
  prioritySchema,
  sectionSchema,
  suiteSchema,
} from "./policy";

const accepts = (schema: v.GenericSchema, value: unknown) => v.safeParse(schema, value).success;

const chars = (s: string) => fc.constantFrom(...s.split(""));
const LOWER_DIGITS = "abcdefghijklmnopqrstuvwxyz0123456789";
const validName = fc
  .tuple(
    chars(LOWER_DIGITS),
    fc.array(chars(`${LOWER_DIGITS}+.-`), { minLength: 1, maxLength: 40 }),
  )
  .map(([first, rest]) => first + rest.join(""));

const insertAt = (s: string, at: number, piece: string) => {
  const i = at % (s.length + 1);
  return s.slice(0, i) + piece + s.slice(i);
};
const controlChar = fc.integer({ min: 0, max: 0x1f }).map((c) => String.fromCharCode(c));

// Names the oracle says are valid, one dpkg call per name but a single spawn for the batch.
function dpkgRejected(names: readonly string[]): string[] {
  const script =
    'for n in "$@"; do dpkg --validate-pkgname "$n" >/dev/null 2>&1 || printf "%s\\n" "$n"; done';
  return runOk("sh", ["-c", script, "sh", ...names])
    .stdout.split("\n")
    .filter(Boolean);
}

describe("package names", () => {
  it("accepts every policy name, and dpkg accepts them too", () => {
    const seen: string[] = [];
    fc.assert(
      fc.property(validName, (name) => {
        expect(isValidPackageName(name)).toBe(true);
        expect(accepts(packageNameSchema, name)).toBe(true);
        seen.push(name);
      }),
      { numRuns: 300 },
    );
    expect(dpkgRejected(seen)).toEqual([]);
    expect(dpkgRejected(["ok-name", "bad!name"])).toEqual(["bad!name"]); // the oracle can say no
  });

  it("rejects uppercase, _, /, control characters anywhere", () => {
    const bad = fc.oneof(chars("ABCXYZ_/ \u00e9:~"), controlChar, fc.constant("\x7f"));
    fc.assert(
      fc.property(validName, bad, fc.nat(), (name, piece, at) => {
        const mutated = insertAt(name, at, piece);
        expect(isValidPackageName(mutated)).toBe(false);
        expect(accepts(packageNameSchema, mutated)).toBe(false);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects a leading - . +, a single character, `..` and the empty name", () => {
    fc.assert(
      fc.property(validName, chars("-.+"), (name, lead) => {
        expect(isValidPackageName(lead + name)).toBe(false);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(chars(LOWER_DIGITS), (c) => {
        expect(isValidPackageName(c)).toBe(false);
      }),
    );
    for (const name of ["", "..", "../x", "./x", "a/b", "kiro\n"]) {
      expect(isValidPackageName(name), JSON.stringify(name)).toBe(false);
    }
  });

  it("agrees with a character-by-character reading of the policy on arbitrary strings", () => {
    const policy = (s: string) =>
      s.length >= 2 &&
      LOWER_DIGITS.includes(s[0] ?? "") &&
      [...s.slice(1)].every((c) => `${LOWER_DIGITS}+.-`.includes(c));
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), validName, fc.string({ unit: chars(`${LOWER_DIGITS}+.-_A/`) })),
        (s) => {
          expect(isValidPackageName(s)).toBe(policy(s));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("the schema reports a non-string as such", () => {
    expect(accepts(packageNameSchema, 42)).toBe(false);
  });
});

describe("architectures", () => {
  it("every known machine architecture is one dpkg knows, and `all` is separate", () => {
    const dpkgArches = new Set(runOk("dpkg-architecture", ["-L"]).stdout.split("\n"));
    for (const arch of MACHINE_ARCHITECTURES) expect(dpkgArches.has(arch), arch).toBe(true);
    expect(KNOWN_ARCHITECTURES).toContain("all");
    expect(MACHINE_ARCHITECTURES).not.toContain("all");
    for (const arch of KNOWN_ARCHITECTURES) {
      expect(run("dpkg", ["--validate-archname", arch]).status, arch).toBe(0);
    }
  });

  it("accepts exactly the known list", () => {
    fc.assert(
      fc.property(fc.oneof(fc.constantFrom(...KNOWN_ARCHITECTURES), fc.string()), (s) => {
        const known = (KNOWN_ARCHITECTURES as readonly string[]).includes(s);
        expect(accepts(architectureSchema, s)).toBe(known);
        expect(accepts(machineArchitectureSchema, s)).toBe(known && s !== "all");
      }),
      { numRuns: 500 },
    );
    for (const typo of ["x86_64", "aarch64", "AMD64", "amd64 ", "any", "source", ""]) {
      expect(accepts(architectureSchema, typo), typo).toBe(false);
    }
  });
});

describe("suite, codename and component names", () => {
  const ALNUM = "ABCXYZabcxyz0189";
  const validDist = fc
    .tuple(chars(ALNUM), fc.array(chars(`${ALNUM}._-`), { maxLength: 30 }))
    .map(([first, rest]) => first + rest.join(""))
    .filter((s) => !s.includes(".."));

  it("accepts generated valid names", () => {
    fc.assert(
      fc.property(validDist, (name) => {
        expect(isValidDistName(name)).toBe(true);
        expect(accepts(suiteSchema, name)).toBe(true);
        expect(accepts(componentSchema, name)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("rejects /, .., white space, control characters and a leading . _ -", () => {
    const bad = fc.oneof(
      fc.constantFrom("/", "..", " ", "\t", "\n", "%", ":", "\u00e9"),
      controlChar,
    );
    fc.assert(
      fc.property(validDist, bad, fc.nat(), (name, piece, at) => {
        const mutated = insertAt(name, at, piece);
        expect(accepts(suiteSchema, mutated)).toBe(false);
        expect(accepts(componentSchema, mutated)).toBe(false);
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(validDist, chars("._-"), (name, lead) => {
        expect(isValidDistName(lead + name)).toBe(false);
      }),
      { numRuns: 200 },
    );
    for (const name of ["", ".", "..", "a..b", "updates/main", "main/"]) {
      expect(isValidDistName(name), name).toBe(false);
    }
  });
});

describe("sections and priorities", () => {
  // lintian's data files are the oracle for the lists; missing lintian fails the test.
  const lintianList = (name: string) =>
    readFileSync(`/usr/share/lintian/data/fields/${name}`, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !l.startsWith("#"));

  it("the section list is lintian's", () => {
    expect([...KNOWN_SECTIONS].sort()).toEqual(lintianList("archive-sections").sort());
  });

  it("the priorities are lintian's plus the deprecated extra", () => {
    expect(PRIORITIES.filter((p) => p !== "extra").sort()).toEqual(
      lintianList("priorities").sort(),
    );
    for (const p of PRIORITIES) expect(accepts(prioritySchema, p)).toBe(true);
    expect(accepts(prioritySchema, "Optional")).toBe(false);
  });

  it("accepts a known section with or without an area and rejects anything else", () => {
    const area = fc.constantFrom("", "contrib/", "non-free/", "non-free-firmware/");
    fc.assert(
      fc.property(area, fc.constantFrom(...KNOWN_SECTIONS), (a, s) => {
        expect(accepts(sectionSchema, a + s)).toBe(true);
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        const known = (KNOWN_SECTIONS as readonly string[]).includes(
          s.replace(/^(contrib|non-free|non-free-firmware)\//, ""),
        );
        expect(isValidSection(s)).toBe(known);
      }),
      { numRuns: 1000 },
    );
    for (const s of ["main/devel", "Devel", "editor", "devel/", "/devel", "non-free/"]) {
      expect(isValidSection(s), s).toBe(false);
    }
  });
});
