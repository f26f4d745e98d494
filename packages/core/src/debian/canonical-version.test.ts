// canonicalVersion against dpkg itself: `dpkg --compare-versions a eq b` holds iff the
// canonical forms are equal; canonical is idempotent, valid and dpkg-equal to its input.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { run, scratch } from "../testing/exec";
import { canonicalVersion } from "./canonical-version";
import { isValidVersion } from "./version";

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** `dpkg --compare-versions a eq b` for each pair, in one shell. */
function dpkgEqual(pairs: readonly (readonly [string, string])[]): boolean[] {
  const { dir, cleanup } = scratch("canonical-version-");
  try {
    const file = join(dir, "cases.sh");
    writeFileSync(
      file,
      `${pairs.map(([a, b]) => `dpkg --compare-versions -- ${quote(a)} eq ${quote(b)}; echo $?`).join("\n")}\n`,
    );
    const result = run("sh", [file]);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
    const out = result.stdout.trim().split("\n");
    expect(out).toHaveLength(pairs.length);
    return out.map((rc) => rc === "0");
  } finally {
    cleanup();
  }
}

// Small alphabets, so that dpkg-equal pairs are frequent.
const upstreamArb = fc
  .tuple(
    fc.constantFrom("0", "00", "1", "01", "10"),
    fc.array(fc.constantFrom("0", "00", "1", "01", ".", "a", "~", "+", "."), { maxLength: 5 }),
  )
  .map(([d, rest]) => d + rest.join(""));
const revisionArb = fc
  .array(fc.constantFrom("0", "00", "1", "01", ".", "a", "~", "+"), { minLength: 1, maxLength: 4 })
  .map((r) => r.join(""));
const versionArb = fc
  .tuple(
    fc.constantFrom("", "0:", "00:", "1:", "01:"),
    upstreamArb,
    fc.option(revisionArb, { nil: undefined }),
    fc.boolean(),
  )
  .map(([epoch, upstream, revision, hyphen]) => {
    // An upstream may hold a hyphen only when a revision follows.
    const up = hyphen && revision !== undefined ? `${upstream}-1${upstream}` : upstream;
    return `${epoch}${up}${revision === undefined ? "" : `-${revision}`}`;
  })
  .filter(isValidVersion);

/** A dpkg-equal respelling (usually): zeros added, epoch 0 and revision 0 toggled. */
const respell = (v: string, how: number): string => {
  switch (how) {
    case 0:
      return v.replace(/[0-9]+/, (d) => `0${d}`);
    case 1:
      return v.includes(":") ? v : `0:${v}`;
    case 2:
      return v.includes("-") ? v : `${v}-0`;
    case 3:
      return /[^0-9]$/.test(v) ? `${v}0` : v;
    default:
      return v.replace(/\.0$/, ".");
  }
};

const pairArb = fc.oneof(
  fc.tuple(versionArb, versionArb),
  fc
    .tuple(versionArb, fc.array(fc.nat({ max: 4 }), { minLength: 1, maxLength: 3 }))
    .map(([a, hows]) => [a, hows.reduce(respell, a)] as const)
    .filter(([, b]) => isValidVersion(b)),
);

describe("canonicalVersion", () => {
  it("is equal for two versions iff dpkg finds them equal; idempotent and dpkg-equal to its input", () => {
    const pairs = fc.sample(pairArb, { numRuns: 400, seed: 20261202 });
    const equal = dpkgEqual([...pairs, ...pairs.map(([a]) => [a, canonicalVersion(a)] as const)]);
    const mismatches: string[] = [];
    let equalPairs = 0;
    pairs.forEach(([a, b], i) => {
      const dpkg = equal[i] as boolean;
      if (dpkg) equalPairs++;
      if (dpkg !== (canonicalVersion(a) === canonicalVersion(b)))
        mismatches.push(
          `${a} ${b}: dpkg ${dpkg ? "eq" : "ne"}, canonical ${canonicalVersion(a)} ${canonicalVersion(b)}`,
        );
      if (!equal[pairs.length + i])
        mismatches.push(`${a} is not dpkg-equal to ${canonicalVersion(a)}`);
      const c = canonicalVersion(a);
      if (!isValidVersion(c) || canonicalVersion(c) !== c)
        mismatches.push(`${a}: ${c} not a fixed point`);
    });
    expect(mismatches).toEqual([]);
    // The sample must exercise both sides of the equivalence.
    expect(equalPairs).toBeGreaterThan(80);
    expect(pairs.length - equalPairs).toBeGreaterThan(80);
  }, 240_000);

  it("is the identity for versions written the usual way", () => {
    for (const v of [
      "1.0",
      "0.7.45",
      "1:2.3-4",
      "2.0+dfsg-1",
      "1.0~rc1",
      "10.0",
      "1.0-1ubuntu0.1",
      "0.1-0ubuntu1",
      "20261202-1",
      "1.0a",
    ])
      expect(canonicalVersion(v)).toBe(v);
  });

  it.each([
    ["0:1.0", "1.0"],
    ["1.0-0", "1.0"],
    ["01.00", "1.0"],
    ["00:1.0-00", "1.0"],
    ["1.0a0", "1.0a"],
    ["1.", "1.0"],
    ["1.0-1-0", "1.0-1-0"],
  ])("canonicalVersion(%s) is %s", (v, c) => {
    expect(canonicalVersion(v)).toBe(c);
  });
});
