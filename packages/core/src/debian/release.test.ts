import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { runOk, scratch } from "../testing";
import { gzip, xz } from "./compress";
import { getField, parseParagraph } from "./control";
import { debHashes } from "./hashes";
import {
  formatReleaseDate,
  nextReleaseDate,
  parseRelease,
  parseReleaseDate,
  RELEASE_HASHES,
  type ReleaseFile,
  type ReleaseInput,
  renderRelease,
  validateRelease,
} from "./release";

const tmp = scratch("release-test-");
afterAll(() => tmp.cleanup());
let counter = 0;

const SECOND = 1000;
// Whole-second dates in years 1970..9999, and any-millisecond ones
const secondsDate = fc
  .integer({ min: 0, max: Math.floor(Date.UTC(9999, 11, 31, 23, 59, 59) / SECOND) })
  .map((s) => new Date(s * SECOND));
const anyDate = fc.date({
  min: new Date(0),
  max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)),
  noInvalidDate: true,
});

const file = (path: string, bytes: Uint8Array): ReleaseFile => {
  const h = debHashes(bytes);
  return { path, size: h.size, md5: h.md5, sha1: h.sha1, sha256: h.sha256, sha512: h.sha512 };
};

const segment = fc
  .stringMatching(/^[A-Za-z0-9_+~-][A-Za-z0-9._+~-]{0,8}$/)
  .filter((s) => s !== "." && s !== "..");
const pathArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join("/"));
const hexArb = (n: number) =>
  fc.uint8Array({ minLength: n / 2, maxLength: n / 2 }).map((b) => Buffer.from(b).toString("hex"));
const fileArb: fc.Arbitrary<ReleaseFile> = fc.record({
  path: pathArb,
  size: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
  md5: hexArb(32),
  sha1: hexArb(40),
  sha256: hexArb(64),
  sha512: hexArb(128),
});
const oneLineArb = fc
  .string({ minLength: 1, maxLength: 30, unit: "grapheme-ascii" })
  .map((s) => s.trim())
  .filter((s) => s !== "" && !/[\p{Cc}]/u.test(s));
const distArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/);
const releaseArb: fc.Arbitrary<ReleaseInput> = fc
  .record({
    origin: oneLineArb,
    label: oneLineArb,
    suite: distArb,
    codename: fc.option(distArb, { nil: undefined }),
    date: fc.date({ min: new Date(0), max: new Date(Date.UTC(2200, 0, 1)), noInvalidDate: true }),
    validFor: fc.option(fc.integer({ min: 1, max: 1e9 }), { nil: undefined }),
    architectures: fc.uniqueArray(fc.constantFrom("amd64", "arm64", "i386", "riscv64", "armhf"), {
      minLength: 1,
    }),
    components: fc.uniqueArray(distArb, { minLength: 1, maxLength: 3 }),
    description: fc.option(oneLineArb, { nil: undefined }),
    acquireByHash: fc.boolean(),
    hashes: fc.option(
      fc
        .uniqueArray(fc.constantFrom(...RELEASE_HASHES), { minLength: 1 })
        .filter((hs) => hs.includes("SHA256") || hs.includes("SHA512")),
      { nil: undefined },
    ),
    files: fc.uniqueArray(fileArb, { minLength: 1, maxLength: 8, selector: (f) => f.path }),
  })
  .map(({ validFor, ...r }) => ({
    ...r,
    validUntil: validFor === undefined ? undefined : new Date(r.date.getTime() + validFor * SECOND),
  }));

describe("Release dates", () => {
  it("are RFC 1123 in UTC", () => {
    expect(formatReleaseDate(new Date(Date.UTC(2026, 10, 24, 15, 53, 56, 789)))).toBe(
      "Tue, 24 Nov 2026 15:53:56 UTC",
    );
    expect(formatReleaseDate(new Date(0))).toBe("Thu, 01 Jan 1970 00:00:00 UTC");
  });

  it("match GNU date's RFC 1123 rendering (one shell for 100 dates)", () => {
    const dates = fc.sample(secondsDate, 100);
    const script = 'for s in "$@"; do date -u -d "@$s" "+%a, %d %b %Y %H:%M:%S UTC"; done';
    const out = runOk(
      "bash",
      ["-c", script, "bash", ...dates.map((d) => String(d.getTime() / SECOND))],
      {
        env: { ...process.env, LC_ALL: "C", TZ: "UTC" },
      },
    ).stdout;
    expect(out.trim().split("\n")).toEqual(dates.map(formatReleaseDate));
  });

  it("parse back to the same second", () => {
    fc.assert(
      fc.property(anyDate, (d) => {
        expect(parseReleaseDate(formatReleaseDate(d)).getTime()).toBe(
          Math.floor(d.getTime() / SECOND) * SECOND,
        );
      }),
      { numRuns: 1000 },
    );
  });

  it("parse every UTC spelling apt accepts, and nothing else", () => {
    const t = Date.UTC(2026, 10, 24, 15, 53, 56);
    for (const zone of ["UTC", "GMT", "Z", "+0000", "-0000"]) {
      expect(parseReleaseDate(`Tue, 24 Nov 2026 15:53:56 ${zone}`).getTime()).toBe(t);
    }
    expect(parseReleaseDate("Tue, 4 Nov 2026 15:53:56 UTC").getTime()).toBe(
      Date.UTC(2026, 10, 4, 15, 53, 56),
    );
    for (const bad of [
      "Tue, 24 Nov 2026 15:53:56 +0100",
      "Tue, 24 Nov 2026 15:53:56 CET",
      "Tue, 24 Nov 2026 15:53:56",
      "Tue, 31 Nov 2026 15:53:56 UTC",
      "Tue, 24 Nov 2026 24:00:00 UTC",
      "2026-11-24T15:53:56Z",
      "",
    ]) {
      expect(() => parseReleaseDate(bad), bad).toThrow(/date/);
    }
  });
});

describe("nextReleaseDate", () => {
  const FIVE_MIN = 5 * 60 * SECOND;

  it("is five minutes behind now when there is no previous Release", () => {
    expect(nextReleaseDate(new Date(Date.UTC(2026, 0, 1, 0, 10, 0, 999))).toISOString()).toBe(
      "2026-01-01T00:05:00.000Z",
    );
  });

  it("is whole seconds, after the previous one, never ahead of now unless the previous was", () => {
    fc.assert(
      fc.property(anyDate, fc.option(anyDate, { nil: undefined }), (now, previous) => {
        const next = nextReleaseDate(now, previous);
        expect(Number.isInteger(next.getTime() / SECOND)).toBe(true);
        expect(next.getTime()).toBeGreaterThanOrEqual(
          Math.floor(now.getTime() / SECOND) * SECOND - FIVE_MIN,
        );
        if (previous !== undefined) {
          expect(next.getTime()).toBeGreaterThan(previous.getTime());
          // what the previous Release says (whole seconds) is strictly older
          expect(next.getTime()).toBeGreaterThan(
            parseReleaseDate(formatReleaseDate(previous)).getTime(),
          );
          if (previous.getTime() + SECOND <= now.getTime())
            expect(next.getTime()).toBeLessThanOrEqual(now.getTime());
          else
            expect(next.getTime()).toBe(Math.floor(previous.getTime() / SECOND) * SECOND + SECOND);
        } else {
          expect(next.getTime()).toBeLessThanOrEqual(now.getTime() - FIVE_MIN);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("is monotonic over any sequence of clocks, including clocks going backwards", () => {
    fc.assert(
      fc.property(fc.array(anyDate, { minLength: 1, maxLength: 30 }), (clocks) => {
        let previous: Date | undefined;
        for (const now of clocks) {
          const next = nextReleaseDate(now, previous);
          if (previous !== undefined) expect(next.getTime()).toBeGreaterThan(previous.getTime());
          previous = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("renderRelease", () => {
  const base = (): ReleaseInput => ({
    origin: "Kiro",
    label: "Kiro",
    suite: "stable",
    codename: "stable",
    date: new Date(Date.UTC(2026, 10, 24, 15, 53, 56)),
    architectures: ["amd64", "arm64"],
    components: ["main"],
    description: "Kiro packages",
    acquireByHash: true,
    files: [
      file("main/binary-arm64/Packages", new Uint8Array()),
      file("main/binary-amd64/Packages.gz", gzip(new Uint8Array())),
    ],
  });

  it("writes Debian's archive layout", () => {
    const text = renderRelease({ ...base(), hashes: ["SHA256"] });
    expect(text).toBe(
      [
        "Origin: Kiro",
        "Label: Kiro",
        "Suite: stable",
        "Codename: stable",
        "Date: Tue, 24 Nov 2026 15:53:56 UTC",
        "Acquire-By-Hash: yes",
        "Architectures: amd64 arm64",
        "Components: main",
        "Description: Kiro packages",
        "SHA256:",
        ` ${debHashes(gzip(new Uint8Array())).sha256}               20 main/binary-amd64/Packages.gz`,
        " e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855                0 main/binary-arm64/Packages",
        "",
      ].join("\n"),
    );
  });

  it("lists SHA256 and SHA512 by default, and only the hashes asked for", () => {
    const names = (text: string) => parseParagraph(text).map((f) => f.name);
    expect(names(renderRelease(base()))).toEqual([
      "Origin",
      "Label",
      "Suite",
      "Codename",
      "Date",
      "Acquire-By-Hash",
      "Architectures",
      "Components",
      "Description",
      "SHA256",
      "SHA512",
    ]);
    expect(
      names(
        renderRelease({
          ...base(),
          hashes: ["SHA512", "MD5Sum"],
          acquireByHash: false,
          codename: undefined,
          description: undefined,
        }),
      ),
    ).toEqual([
      "Origin",
      "Label",
      "Suite",
      "Date",
      "Architectures",
      "Components",
      "MD5Sum",
      "SHA512",
    ]);
  });

  it("reads back what it writes (parseRelease), with files sorted by path", () => {
    fc.assert(
      fc.property(releaseArb, (input) => {
        const text = renderRelease(input);
        const { fields, ...back } = parseRelease(text);
        const expected = validateRelease(input);
        const keep = new Set(
          expected.hashes.map(
            (h) => ({ MD5Sum: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" })[h],
          ),
        );
        expect(back).toEqual({
          ...expected,
          date: new Date(Math.floor(expected.date.getTime() / SECOND) * SECOND),
          validUntil:
            expected.validUntil === undefined
              ? undefined
              : new Date(Math.floor(expected.validUntil.getTime() / SECOND) * SECOND),
          hashes: RELEASE_HASHES.filter((h) => expected.hashes.includes(h)),
          files: [...expected.files]
            .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
            .map((f) =>
              Object.fromEntries(
                Object.entries(f).filter(([k]) => k === "path" || k === "size" || keep.has(k)),
              ),
            ),
        });
        expect(renderRelease(input)).toBe(text);
        expect(getField(fields, "Suite")).toBe(input.suite);
        // hash lines: " <hex> <size in 16 columns> <path>"
        for (const line of text.split("\n").filter((l) => l.startsWith(" "))) {
          expect(line).toMatch(/^ [0-9a-f]+ [ 0-9]{15}[0-9] \S+$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("does not depend on the order of files", () => {
    fc.assert(
      fc.property(
        releaseArb.chain((r) =>
          fc.tuple(
            fc.constant(r),
            fc.shuffledSubarray([...r.files], {
              minLength: r.files.length,
              maxLength: r.files.length,
            }),
          ),
        ),
        ([input, files]) => {
          expect(renderRelease({ ...input, files })).toBe(renderRelease(input));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("rejects what apt would misread or a path that leaves the suite, naming the field", () => {
    const bad = (over: Partial<ReleaseInput>, message: RegExp) =>
      expect(() => renderRelease({ ...base(), ...over })).toThrow(message);
    const f = base().files[0];
    if (f === undefined) throw new Error("no file");
    for (const path of [
      "../x",
      "main/../../x",
      "/main/Packages",
      "main//Packages",
      "main/./P",
      "main/",
      "a b",
      "a\nb",
      "",
    ]) {
      bad({ files: [{ ...f, path }] }, /files\.0\.path/);
    }
    bad(
      { files: [{ ...f, path: `main/by-hash/SHA256/${f.sha256}` }] },
      /files\.0\.path: must not be a by-hash copy/,
    );
    bad({ files: [f, f] }, /files: must not list a path twice/);
    bad({ files: [] }, /at least one file/);
    bad({ files: [{ ...f, sha512: undefined }] }, /main\/binary-arm64\/Packages has no SHA512/);
    bad({ files: [{ ...f, sha256: "ABC" }] }, /files\.0\.sha256/);
    bad({ files: [{ ...f, size: -1 }] }, /files\.0\.size/);
    bad({ suite: "stable/updates" }, /suite/);
    bad({ suite: "../x" }, /suite/);
    bad({ codename: "a b" }, /codename/);
    bad({ components: ["main", "main"] }, /components/);
    bad({ components: [] }, /components/);
    bad({ architectures: ["amd64", "all"] }, /architectures\.1/);
    bad({ origin: "Kiro\nX: y" }, /origin/);
    bad({ label: " Kiro" }, /label/);
    bad({ description: "" }, /description/);
    bad({ hashes: ["MD5Sum", "SHA1"] }, /SHA256 or SHA512/);
    bad({ hashes: ["SHA256", "SHA256"] }, /hashes/);
    bad({ date: new Date(Number.NaN) }, /date/);
    bad(
      { validUntil: new Date(Date.UTC(2026, 10, 24, 15, 53, 56)) },
      /validUntil: must be after date/,
    );
  });
});

describe("renderRelease against apt-ftparchive release", () => {
  const packagesArb = fc
    .array(fc.stringMatching(/^[a-z0-9]{2,8}$/), { maxLength: 40 })
    .map((names) =>
      new TextEncoder().encode(names.map((n) => `Package: ${n}\nVersion: 1\n\n`).join("")),
    );

  it("writes the same fields and byte-identical hash lines for the same dists tree", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom("amd64", "arm64", "i386", "armhf"), { minLength: 1 }),
        fc.uniqueArray(fc.constantFrom("main", "contrib", "non-free"), { minLength: 1 }),
        fc.array(packagesArb, { minLength: 12, maxLength: 12 }),
        (architectures, components, contents) => {
          const root = join(tmp.dir, `ftp${counter++}`);
          const files: ReleaseFile[] = [];
          let i = 0;
          for (const component of components) {
            for (const arch of architectures) {
              const packages = contents[i++ % contents.length] ?? new Uint8Array();
              for (const [name, bytes] of [
                ["Packages", packages],
                ["Packages.gz", gzip(packages)],
                ["Packages.xz", xz(packages)],
              ] as const) {
                const path = `${component}/binary-${arch}/${name}`;
                mkdirSync(dirname(join(root, "dists/stable", path)), { recursive: true });
                writeFileSync(join(root, "dists/stable", path), bytes);
                files.push(file(path, bytes));
              }
            }
          }
          const conf = {
            Origin: "Kiro",
            Label: "Kiro Label",
            Suite: "stable",
            Codename: "kiro",
            Architectures: architectures.join(" "),
            Components: components.join(" "),
            Description: "Kiro repository",
            "Acquire-By-Hash": "yes",
          };
          const theirs = runOk(
            "apt-ftparchive",
            [
              ...Object.entries(conf).flatMap(([k, val]) => [
                "-o",
                `APT::FTPArchive::Release::${k}=${val}`,
              ]),
              "release",
              "dists/stable",
            ],
            { cwd: root },
          ).stdout;
          const theirFields = parseParagraph(theirs, "apt-ftparchive");
          const date = parseReleaseDate(getField(theirFields, "Date") ?? "");
          const ours = renderRelease({
            origin: conf.Origin,
            label: conf.Label,
            suite: conf.Suite,
            codename: conf.Codename,
            date,
            architectures,
            components,
            description: conf.Description,
            acquireByHash: true,
            hashes: ["MD5Sum", "SHA1", "SHA256", "SHA512"],
            files,
          });
          const ourFields = parseParagraph(ours, "renderRelease");
          const sorted = (p: typeof ourFields) =>
            p
              .filter((f) => f.name !== "Date")
              .map((f) => `${f.name}: ${f.value}`)
              .sort();
          // the same fields with the same values (hash sections byte for byte); Date as an instant
          expect(sorted(ourFields)).toEqual(sorted(theirFields));
          expect(parseReleaseDate(getField(ourFields, "Date") ?? "")).toEqual(date);
          const hashLines = (text: string) => text.split("\n").filter((l) => l.startsWith(" "));
          expect(hashLines(ours)).toEqual(hashLines(theirs));
        },
      ),
      { numRuns: 12, endOnFailure: true },
    );
  });
});
