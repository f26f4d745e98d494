import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { run, scratch } from "../testing/index";
import {
  compareVersions,
  isValidVersion,
  newestVersion,
  parseVersion,
  stripEpoch,
  VersionError,
  versionSchema,
} from "./version";

// ---- oracles: many cases per spawn ----

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** Runs a shell script of one output line per case; dpkg must print nothing on stderr. */
function runScript(lines: readonly string[]): string[] {
  const { dir, cleanup } = scratch("version-oracle-");
  try {
    const file = join(dir, "cases.sh");
    writeFileSync(file, `${lines.join("\n")}\n`);
    const result = run("sh", [file]);
    expect(result.status, result.stderr).toBe(0);
    const out = result.stdout.split("\n");
    out.pop();
    expect(out).toHaveLength(lines.length);
    return out;
  } finally {
    cleanup();
  }
}

const RELATION = { "-1": "lt", "0": "eq", "1": "gt" } as const;

/**
 * Whether `dpkg --compare-versions` confirms each claimed order (-1, 0, 1). Exactly one of
 * lt, eq, gt holds, so confirming the claim checks it in one dpkg run per pair.
 */
function dpkgConfirms(claims: readonly (readonly [string, string, -1 | 0 | 1])[]): string[] {
  return runScript(
    claims.map(
      ([a, b, r]) => `dpkg --compare-versions -- ${quote(a)} ${RELATION[r]} ${quote(b)}; echo $?`,
    ),
  );
}

/** Whether `dpkg --validate-version` accepts each version without error or warning. */
function dpkgAccepts(versions: readonly string[]): boolean[] {
  return runScript(
    versions.map((s) => `dpkg --validate-version -- ${quote(s)} 2>/dev/null; echo $?`),
  ).map((rc) => rc === "0");
}

/** Dpkg::Version (dpkg-dev's Perl port) in one process, for volume. */
function perlCompare(pairs: readonly (readonly [string, string])[]): number[] {
  const script =
    'while (<STDIN>) { chomp; my ($a, $b) = split / /; print version_compare($a, $b), "\\n" }';
  const result = run("perl", ["-MDpkg::Version", "-e", script], {
    input: pairs.map(([a, b]) => `${a} ${b}\n`).join(""),
  });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim().split("\n").map(Number);
}

// ---- generators: versions built valid by construction, pairs biased towards near-equal ----

interface Model {
  epoch?: string;
  upstream: string[];
  revision?: string[];
}

const render = (m: Model): string => {
  const up = m.upstream.join("");
  // A hyphen in upstream is only allowed when a revision follows.
  const rev = m.revision ?? (up.includes("-") ? ["1"] : undefined);
  return `${m.epoch === undefined ? "" : `${m.epoch}:`}${up}${rev ? `-${rev.join("")}` : ""}`;
};

const digitsArb = (long: boolean) =>
  long
    ? fc.oneof(
        { weight: 4, arbitrary: fc.stringMatching(/^[0-9]{1,3}$/) },
        { weight: 1, arbitrary: fc.stringMatching(/^0{0,3}[1-9][0-9]{14,30}$/) },
      )
    : fc.stringMatching(/^[0-9]{1,4}$/);
const nonDigitArb = (hyphen: boolean) =>
  fc.constantFrom(
    "~",
    "~",
    "~~",
    ".",
    ".",
    "+",
    "a",
    "b",
    "z",
    "A",
    "Z",
    "rc",
    ".a",
    "+b",
    ...(hyphen ? ["-"] : []),
  );
const tokenArb = (long: boolean, hyphen: boolean) => fc.oneof(digitsArb(long), nonDigitArb(hyphen));
const epochArb = fc.option(fc.constantFrom("0", "1", "2", "00", "01", "10", "2147483647"), {
  nil: undefined,
});

const modelArb = (long: boolean): fc.Arbitrary<Model> =>
  fc.record(
    {
      epoch: epochArb,
      upstream: fc
        .tuple(digitsArb(long), fc.array(tokenArb(long, true), { maxLength: 5 }))
        .map(([d, rest]) => [d, ...rest]),
      revision: fc.option(fc.array(tokenArb(long, false), { minLength: 1, maxLength: 3 }), {
        nil: undefined,
      }),
    },
    { requiredKeys: ["upstream"] },
  );

type Mutation = (m: Model) => Model;
const mutationArb = (long: boolean): fc.Arbitrary<Mutation> =>
  fc.oneof(
    tokenArb(long, false).map(
      (t): Mutation =>
        (m) =>
          m.revision
            ? { ...m, revision: [...m.revision, t] }
            : { ...m, upstream: [...m.upstream, t] },
    ),
    fc.tuple(fc.nat(), tokenArb(long, true)).map(
      ([i, t]): Mutation =>
        (m) => {
          const up = [...m.upstream];
          if (up.length > 1) up[1 + (i % (up.length - 1))] = t;
          return { ...m, upstream: up };
        },
    ),
    fc.tuple(fc.nat(), tokenArb(long, false)).map(
      ([i, t]): Mutation =>
        (m) => {
          if (!m.revision) return { ...m, revision: [t] };
          const rev = [...m.revision];
          rev[i % rev.length] = t;
          return { ...m, revision: rev };
        },
    ),
    fc.constant<Mutation>((m) => ({
      ...m,
      upstream: m.upstream.length > 1 ? m.upstream.slice(0, -1) : m.upstream,
    })),
    fc.constant<Mutation>((m) => ({ ...m, epoch: m.epoch === undefined ? "0" : undefined })),
    fc.constant<Mutation>((m) => ({ ...m, revision: m.revision ? undefined : ["0"] })),
    fc.constant<Mutation>((m) => ({
      ...m,
      epoch: String(Math.min(Number(m.epoch ?? "0") + 1, 2147483647)),
    })),
    fc.constant<Mutation>((m) => ({
      ...m,
      upstream: m.upstream.map((t) => (/^[0-9]/.test(t) ? `0${t}` : t)),
    })),
  );

/** Two versions: mostly one and a few mutations of it, sometimes independent. */
const pairArb = (long: boolean): fc.Arbitrary<[string, string]> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(modelArb(long), fc.array(mutationArb(long), { minLength: 1, maxLength: 3 }))
        .map(([m, ms]): [string, string] => [render(m), render(ms.reduce((acc, f) => f(acc), m))]),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(modelArb(long), modelArb(long))
        .map(([a, b]): [string, string] => [render(a), render(b)]),
    },
  );
const versionArb = modelArb(true).map(render);

// ---- unit cases ----

describe("parseVersion", () => {
  it("splits epoch, upstream and revision (the revision after the last hyphen)", () => {
    expect(parseVersion("1:2.0-1")).toEqual({ epoch: 1, upstream: "2.0", revision: "1" });
    expect(parseVersion("1.0-1-2")).toEqual({ epoch: 0, upstream: "1.0-1", revision: "2" });
    expect(parseVersion("0:1")).toEqual({ epoch: 0, upstream: "1", revision: "" });
    expect(parseVersion("007:1.0~rc1+dfsg-0ubuntu1~22.04")).toEqual({
      epoch: 7,
      upstream: "1.0~rc1+dfsg",
      revision: "0ubuntu1~22.04",
    });
    expect(parseVersion("2147483647:1").epoch).toBe(2147483647);
  });

  it.each([
    ["", "empty"],
    [" 1.0", "whitespace"],
    ["1.0 ", "whitespace"],
    ["1.0\n", "whitespace"],
    ["a1.0", "start with a digit"],
    [".1", "start with a digit"],
    ["1:a", "start with a digit"],
    ["1.0-", "revision (after the last hyphen) is empty"],
    ["-1", "upstream version is empty"],
    ["1:-1", "upstream version is empty"],
    ["1:", "nothing follows"],
    [":1", "epoch"],
    ["a:1", "epoch"],
    ["+1:1", "epoch"],
    ["-0:1", "epoch"],
    ["2147483648:1", "at most 2147483647"],
    ["99999999999999999999:1", "at most"],
    ["1:1:1", "colon is allowed only after the epoch"],
    ["1.0_1", '"_"'],
    ["1.0-1_2", 'revision contains "_"'],
    ["1.0-1+b:", "colon"],
    ["1.0é", '"é"'],
  ])("rejects %j (%s)", (s, rule) => {
    expect(isValidVersion(s)).toBe(false);
    expect(() => parseVersion(s)).toThrow(VersionError);
    expect(() => parseVersion(s)).toThrow(rule);
    expect(() => parseVersion(s)).toThrow(JSON.stringify(s));
  });
});

const ordered: [string, string, -1 | 0 | 1][] = [
  ["1.0~rc1", "1.0", -1],
  ["1.0~~", "1.0~", -1],
  ["1.0~~a", "1.0~", -1],
  ["1.0~", "1.0", -1],
  ["1.0", "1.0.", -1],
  ["1.0", "1.0a", -1],
  ["1.0a", "1.0+", -1], // letters before non-letters
  ["1.0a", "1.0.", -1],
  ["1.0+", "1.0.", -1], // then ASCII order
  ["1.0A", "1.0a", -1],
  ["1.0Z", "1.0a", -1],
  ["1:0", "9.9", 1],
  ["2:1", "10:0", -1],
  ["01:1", "1:1", 0],
  ["0:1.0", "1.0", 0],
  ["1.0-1", "1.0", 1],
  ["1.0", "1.0-0", 0], // no revision orders like "0"
  ["1.0-0.1", "1.0", 1],
  ["1.0-1~bpo1", "1.0-1", -1],
  ["1.0-1", "1.0-1+b1", -1],
  ["10", "9", 1],
  ["1.01", "1.1", 0],
  ["001", "1", 0],
  ["1.0", "1.00", 0],
  ["1.0", "1.0.0", -1],
  ["9007199254740993", "9007199254740992", 1], // equal as JS numbers
  ["1.123456789012345678901234567890", "1.123456789012345678901234567891", -1],
  ["1.000000000000000000000000000001", "1.1", 0],
  ["99999999999999999999999999999999", "100000000000000000000000000000000", -1],
  ["1.0-1-1", "1.0-1", 1], // upstream 1.0-1 vs 1.0
  ["1.0-a", "1.0-1", 1],
  ["1a", "1-a", 1], // upstream "1a" vs "1"
];

describe("compareVersions", () => {
  it.each(ordered)("%s vs %s is %d", (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it("agrees with dpkg on the hand-picked cases", () => {
    expect(dpkgConfirms(ordered)).toEqual(ordered.map(() => "0"));
  });

  it("throws VersionError for an invalid operand", () => {
    expect(() => compareVersions("1.0", "a")).toThrow(VersionError);
    expect(() => compareVersions("1 0", "1.0")).toThrow(VersionError);
  });
});

describe("stripEpoch and versionSchema", () => {
  it("drops only the epoch", () => {
    expect(stripEpoch("1:2.0-1")).toBe("2.0-1");
    expect(stripEpoch("2.0")).toBe("2.0");
    expect(stripEpoch("0:1.0-1-2")).toBe("1.0-1-2");
    expect(() => stripEpoch("1:1:1")).toThrow(VersionError);
  });

  it("keeps every other part and the order within an epoch", () => {
    fc.assert(
      fc.property(versionArb, (s) => {
        const stripped = stripEpoch(s);
        expect(stripped).not.toContain(":");
        expect(s.endsWith(stripped)).toBe(true);
        expect(compareVersions(`0:${stripped}`, s.replace(/^[0-9]+:/, ""))).toBe(0);
      }),
      { numRuns: 500 },
    );
  });

  it("validates with a message naming the rule", () => {
    expect(v.parse(versionSchema, "1:2.0-1")).toBe("1:2.0-1");
    const bad = v.safeParse(versionSchema, "1.0-");
    expect(bad.success).toBe(false);
    expect(bad.issues?.[0]?.message).toMatch(/Debian version.*revision .* is empty/);
    expect(v.safeParse(versionSchema, 1).success).toBe(false);
  });
});

// ---- properties ----

describe("order properties", () => {
  it("is reflexive and antisymmetric", () => {
    fc.assert(
      fc.property(pairArb(true), ([a, b]) => {
        expect(compareVersions(a, a)).toBe(0);
        const ab = compareVersions(a, b);
        expect(compareVersions(b, a)).toBe(-ab || 0);
      }),
      { numRuns: 2000 },
    );
  });

  it("is transitive", () => {
    fc.assert(
      fc.property(
        versionArb,
        fc.array(mutationArb(true), { minLength: 1, maxLength: 2 }),
        fc.array(mutationArb(true), { minLength: 1, maxLength: 2 }),
        (s, m1, m2) => {
          const model = parseModel(s);
          const xs = [
            s,
            render(m1.reduce((m, f) => f(m), model)),
            render(m2.reduce((m, f) => f(m), model)),
          ];
          for (const a of xs) {
            for (const b of xs) {
              for (const c of xs) {
                const ab = compareVersions(a, b);
                const bc = compareVersions(b, c);
                if (ab <= 0 && bc <= 0)
                  expect(compareVersions(a, c)).toBeLessThanOrEqual(ab + bc < 0 ? -1 : 0);
              }
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("puts x~ below x, and x+, x.0.1 and xa above x", () => {
    fc.assert(
      fc.property(versionArb, (x) => {
        expect(compareVersions(`${x}~`, x)).toBe(-1);
        expect(compareVersions(`${x}~~`, `${x}~`)).toBe(-1);
        expect(compareVersions(`${x}+`, x)).toBe(1);
        expect(compareVersions(`${x}a`, x)).toBe(1);
        expect(compareVersions(`${x}.0.1`, x)).toBe(1);
      }),
      { numRuns: 1000 },
    );
  });
});

/** A model of a valid version (tokens as one string each), for mutation. */
function parseModel(s: string): Model {
  const { epoch, upstream, revision } = parseVersion(s);
  return {
    epoch: s.includes(":") ? String(epoch) : undefined,
    upstream: [upstream],
    revision: revision === "" ? undefined : [revision],
  };
}

/** A fresh random sample, with its seed in failure messages so a failure can be replayed. */
function sample<T>(arb: fc.Arbitrary<T>, n: number): { values: T[]; seed: number } {
  const seed = Math.floor(Math.random() * 2 ** 31);
  return { values: fc.sample(arb, { numRuns: n, seed }), seed };
}

describe("oracles", () => {
  it("orders like dpkg --compare-versions (long digit runs, leading zeros, epochs)", () => {
    const { values: pairs, seed } = sample(pairArb(true), 800);
    const claims = pairs.map(([a, b]) => [a, b, compareVersions(a, b)] as const);
    const confirmed = dpkgConfirms(claims);
    expect(claims.filter((_, i) => confirmed[i] !== "0").slice(0, 5), `seed ${seed}`).toEqual([]);
  });

  it("orders like Dpkg::Version on thousands of pairs (short digit runs: Perl compares them as floats)", () => {
    const { values: pairs, seed } = sample(pairArb(false), 10_000);
    const expected = perlCompare(pairs);
    const mismatches = pairs.filter(([a, b], i) => compareVersions(a, b) !== expected[i]);
    expect(mismatches.slice(0, 5), `seed ${seed}`).toEqual([]);
  });

  // dpkg's parser is laxer than policy in exactly these ways (see version.ts).
  const dpkgOnlyLaxity = (s: string): boolean => {
    if (/^[ \t]|[ \t]$/.test(s)) return true; // dpkg trims blanks
    const colon = s.indexOf(":");
    if (colon < 0) return false;
    // dpkg reads the epoch with strtol, which takes leading whitespace and a sign.
    const epoch = s.slice(0, colon);
    return (
      (/^\s*[+-]?[0-9]+$/.test(epoch) && !/^[0-9]+$/.test(epoch)) || s.includes(":", colon + 1)
    );
  };
  const nasty = fc.constantFrom(..."019aZ.+~-:_!é/# \t\n");
  const candidateArb = fc.oneof(
    fc.string({ unit: nasty, maxLength: 8 }),
    fc.tuple(versionArb, fc.nat(), nasty).map(([s, i, c]) => {
      const at = i % (s.length + 1);
      return s.slice(0, at) + c + s.slice(at);
    }),
    fc
      .tuple(
        fc.constantFrom("", "+", "-", " ", "0"),
        fc.bigInt({ min: 2147483600n, max: 2147483700n }),
        versionArb,
      )
      .map(([sign, n, s]) => `${sign}${n}:${s}`),
    versionArb,
  );

  it("accepts exactly what dpkg accepts, less the documented policy rules", () => {
    const { values: candidates, seed } = sample(candidateArb, 400);
    const accepted = dpkgAccepts(candidates);
    const verdicts = candidates.map((s, i) => ({
      s,
      ours: isValidVersion(s),
      dpkg: accepted[i],
      laxity: dpkgOnlyLaxity(s),
    }));
    // Both sides must be well represented for the comparison to mean something.
    expect(verdicts.filter((x) => x.ours).length).toBeGreaterThan(50);
    expect(verdicts.filter((x) => !x.dpkg).length).toBeGreaterThan(50);
    const mismatches = verdicts.filter(
      ({ ours, dpkg, laxity }) => ours !== (dpkg === true && !laxity),
    );
    expect(mismatches.slice(0, 5), `seed ${seed}`).toEqual([]);
  });
});

describe("newestVersion", () => {
  it("is one of the versions and none is newer (dpkg's order); undefined for none", () => {
    expect(newestVersion([])).toBeUndefined();
    fc.assert(
      fc.property(fc.array(versionArb, { minLength: 1, maxLength: 8 }), (versions) => {
        const newest = newestVersion(versions) as string;
        expect(versions).toContain(newest);
        for (const v of versions) expect(compareVersions(v, newest)).toBeLessThanOrEqual(0);
      }),
    );
  });
});
