import assert from "node:assert/strict";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { run, runOk, scratch } from "../testing";
import {
  BY_HASH_ALGORITHMS,
  type ByHashAlgorithm,
  byHashObjects,
  byHashPath,
  parseByHashPath,
} from "./by-hash";
import { gzipMembers, xzBlocks } from "./compress";
import { parseParagraph } from "./control";
import { debHashes } from "./hashes";
import { type ReleaseFile, renderRelease } from "./release";
import { renderPackages, renderStanza, stanzaSortKey } from "./stanza";

const tmp = scratch("by-hash-test-");
afterAll(() => tmp.cleanup());

const segment = fc
  .array(fc.constantFrom(..."abcXYZ019._+~-"), { minLength: 1, maxLength: 9 })
  .map((cs) => cs.join(""))
  .filter((s) => s !== "." && s !== ".." && s !== "by-hash");
const indexPathArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join("/"));
const algorithmArb = fc.constantFrom(...BY_HASH_ALGORITHMS);
const hexOf = (algorithm: ByHashAlgorithm) => {
  const bytes = algorithm === "SHA256" ? 32 : 64;
  return fc
    .uint8Array({ minLength: bytes, maxLength: bytes })
    .map((b) => Buffer.from(b).toString("hex"));
};
const objectArb = fc
  .tuple(indexPathArb, algorithmArb)
  .chain(([p, a]) => fc.tuple(fc.constant(p), fc.constant(a), hexOf(a)));

describe("byHashPath", () => {
  it("puts the copy in by-hash/<algorithm>/ beside the index", () => {
    const hex = "a".repeat(64);
    expect(byHashPath("dists/stable/main/binary-amd64/Packages.xz", "SHA256", hex)).toBe(
      `dists/stable/main/binary-amd64/by-hash/SHA256/${hex}`,
    );
    expect(byHashPath("main/binary-amd64/Packages", "SHA512", "b".repeat(128))).toBe(
      `main/binary-amd64/by-hash/SHA512/${"b".repeat(128)}`,
    );
    expect(byHashPath("Contents-amd64", "SHA256", hex)).toBe(`by-hash/SHA256/${hex}`);
  });

  // plain booleans and node:assert here: vitest's expect costs about a millisecond a call
  it("stays in the index's directory, and parses back", () => {
    fc.assert(
      fc.property(objectArb, ([indexPath, algorithm, hex]) => {
        const path = byHashPath(indexPath, algorithm, hex);
        const dir = posix.dirname(indexPath);
        assert.equal(posix.normalize(path), path);
        assert.equal(posix.dirname(posix.dirname(posix.dirname(path))), dir);
        assert.ok(path.startsWith(dir === "." ? "by-hash/" : `${dir}/by-hash/`));
        assert.deepEqual(parseByHashPath(path), {
          dir: dir === "." ? "" : `${dir}/`,
          algorithm,
          hex,
        });
      }),
      { numRuns: 1000 },
    );
  });

  it("gives different objects different paths", () => {
    fc.assert(
      fc.property(objectArb, objectArb, ([pa, aa, ha], [pb, ab, hb]) => {
        const same = posix.dirname(pa) === posix.dirname(pb) && aa === ab && ha === hb;
        return (byHashPath(pa, aa, ha) === byHashPath(pb, ab, hb)) === same;
      }),
      { numRuns: 1000 },
    );
  });

  it("rejects paths that are not plain index files and hashes of the wrong form", () => {
    const hex = "a".repeat(64);
    for (const p of [
      "",
      "/",
      "main/",
      "../Packages",
      "main/../Packages",
      "./Packages",
      "main//Packages",
      "main/by-hash/SHA256/x",
    ]) {
      expect(() => byHashPath(p, "SHA256", hex), p).toThrow(/index path/);
    }
    expect(() => byHashPath("Packages", "SHA256", "A".repeat(64))).toThrow(/lowercase hex/);
    expect(() => byHashPath("Packages", "SHA512", hex)).toThrow(/128/);
    expect(() => byHashPath("Packages", "MD5Sum" as ByHashAlgorithm, hex)).toThrow(/algorithm/);
  });

  it("parseByHashPath says no to anything else", () => {
    for (const p of [
      "Packages",
      `by-hash/SHA1/${"a".repeat(40)}`,
      `by-hash/SHA256/${"a".repeat(63)}`,
      "x/by-hash/SHA256/",
      `../by-hash/SHA256/${"a".repeat(64)}`,
    ]) {
      expect(parseByHashPath(p), p).toBeUndefined();
    }
  });
});

describe("byHashObjects", () => {
  // The content is a digit: equal digits, equal hashes and sizes (so some files share objects).
  const fileArb: fc.Arbitrary<ReleaseFile> = fc
    .record({
      dir: fc.constantFrom("main/binary-amd64", "main/binary-arm64", "contrib/binary-amd64"),
      name: fc.constantFrom("Packages", "Packages.gz", "Packages.xz"),
      digit: fc.nat(9),
    })
    .map(({ dir, name, digit }) => ({
      path: `${dir}/${name}`,
      size: digit,
      sha256: String(digit).repeat(64),
      sha512: String(digit).repeat(128),
    }));

  it("has one object per directory, algorithm and content, each pointing at a file with that hash", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fileArb, { maxLength: 9, selector: (f) => f.path }),
        fc.uniqueArray(algorithmArb, { minLength: 1 }),
        (files, algorithms) => {
          const objects = byHashObjects(files, algorithms);
          const expected = new Set(
            files.flatMap((f) =>
              algorithms.map(
                (a) => `${posix.dirname(f.path)} ${a} ${a === "SHA256" ? f.sha256 : f.sha512}`,
              ),
            ),
          );
          expect(objects).toHaveLength(expected.size);
          expect(objects.map((o) => o.path)).toEqual([...objects.map((o) => o.path)].sort());
          for (const o of objects) {
            const source = files.find((f) => f.path === o.source);
            expect(source).toBeDefined();
            expect(o.path).toBe(byHashPath(o.source, o.algorithm, o.hex));
            expect(o.hex).toBe(o.algorithm === "SHA256" ? source?.sha256 : source?.sha512);
            expect(o.size).toBe(source?.size);
          }
          expect(byHashObjects([...files].reverse(), algorithms)).toEqual(objects);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("needs the hashes it is asked for", () => {
    expect(() =>
      byHashObjects([{ path: "main/Packages", size: 0, sha256: "0".repeat(64) }], ["SHA512"]),
    ).toThrow(/main\/Packages has no SHA512/);
  });
});

// The whole chain as apt sees it: stanzas, Packages in one-member-per-chunk gzip and
// multi-block xz, a Release with Acquire-By-Hash, the by-hash copies, and no plain index
// files at all, so apt can only succeed through by-hash.
describe("apt-get update over a file: repository made by these modules", () => {
  const packages = [
    ["kiro", "0.7.45", "amd64"],
    ["kiro", "0.10.1", "amd64"],
    ["kiro-cli", "1:2.0~rc1-1", "amd64"],
    ["kiro-repo", "2.0.0", "all"],
  ] as const;

  function buildRepo(root: string): void {
    const entries = packages.map(([name, version, arch]) => {
      const control = parseParagraph(
        `Package: ${name}\nVersion: ${version}\nArchitecture: ${arch}\nMaintainer: Kiro <k@example.com>\nDescription: ${name}\n more\n .\n text\n`,
      );
      const h = debHashes(new TextEncoder().encode(`${name} ${version}`));
      return {
        key: stanzaSortKey(control),
        stanza: renderStanza({
          control,
          filename: `pool/main/k/${name}/${name}_${version}_${arch}.deb`,
          ...h,
        }),
      };
    });
    const text = new TextEncoder().encode(renderPackages(entries));
    const chunks = entries.map((e) => new TextEncoder().encode(`${e.stanza}\n`));
    const indexFiles: [string, Uint8Array][] = [
      ["main/binary-amd64/Packages", text],
      ["main/binary-amd64/Packages.gz", gzipMembers(chunks)],
      ["main/binary-amd64/Packages.xz", xzBlocks(chunks)],
    ];
    const files: ReleaseFile[] = indexFiles.map(([path, bytes]) => ({ path, ...debHashes(bytes) }));
    const suite = join(root, "dists/stable");
    for (const [path, bytes] of indexFiles) {
      for (const o of byHashObjects(files, ["SHA256", "SHA512"]).filter((x) => x.source === path)) {
        mkdirSync(dirname(join(suite, o.path)), { recursive: true });
        writeFileSync(join(suite, o.path), bytes);
      }
    }
    writeFileSync(
      join(suite, "Release"),
      renderRelease({
        origin: "Kiro",
        label: "Kiro",
        suite: "stable",
        date: new Date(Date.now() - 5 * 60 * 1000),
        architectures: ["amd64"],
        components: ["main"],
        acquireByHash: true,
        files,
      }),
    );
  }

  function aptOptions(root: string): string[] {
    const apt = join(root, "apt");
    return [
      `Dir=${apt}/`,
      `Dir::State::status=${apt}/var/lib/dpkg/status`,
      "APT::Architecture=amd64",
      "APT::Architectures=amd64",
      "Debug::NoLocking=1",
      "APT::Sandbox::User=root",
      "Acquire::Languages=none",
    ].flatMap((o) => ["-o", o]);
  }

  function aptUpdate(root: string, compression: string): { status: number; output: string } {
    const apt = join(root, "apt");
    for (const d of [
      "etc/apt/sources.list.d",
      "etc/apt/preferences.d",
      "var/lib/apt/lists/partial",
      "var/cache/apt/archives/partial",
      "var/lib/dpkg",
    ]) {
      mkdirSync(join(apt, d), { recursive: true });
    }
    writeFileSync(join(apt, "var/lib/dpkg/status"), "");
    writeFileSync(
      join(apt, "etc/apt/sources.list"),
      `deb [trusted=yes] file:${join(root, "repo")} stable main\n`,
    );
    const options = aptOptions(root);
    // fetch only this compression, so a broken file cannot be papered over by another one
    // (not lz4: apt keeps its lists lz4-compressed)
    const only = [
      `Acquire::CompressionTypes::Order::=${compression}`,
      ...["gz", "xz", "bz2", "lzma", "zst"]
        .filter((c) => c !== compression)
        .map((c) => `Acquire::CompressionTypes::${c}=false`),
    ].flatMap((o) => ["-o", o]);
    const update = run("apt-get", [...options, ...only, "update"]);
    return { status: update.status, output: update.stdout + update.stderr };
  }

  function aptShow(root: string): string {
    return runOk("apt-cache", [...aptOptions(root), "show", "kiro", "kiro-cli", "kiro-repo"])
      .stdout;
  }

  for (const compression of ["xz", "gz"]) {
    it(`reads every stanza through by-hash (${compression})`, () => {
      const root = join(tmp.dir, `apt-${compression}`);
      buildRepo(join(root, "repo"));
      const update = aptUpdate(root, compression);
      expect(update.status, update.output).toBe(0);
      expect(update.output).not.toMatch(/^(W|E):/m);
      const versions = parseParagraphsLoose(aptShow(root)).map((s) => `${s.Package} ${s.Version}`);
      expect(versions.sort()).toEqual(packages.map(([n, v]) => `${n} ${v}`).sort());
    });
  }

  it("fails without the by-hash copies (there is no other copy)", () => {
    const root = join(tmp.dir, "apt-none");
    buildRepo(join(root, "repo"));
    rmSync(join(root, "repo/dists/stable/main/binary-amd64/by-hash"), { recursive: true });
    const update = aptUpdate(root, "xz");
    expect(update.output).toMatch(/^E: /m);
  });
});

function parseParagraphsLoose(text: string): Record<string, string>[] {
  return text
    .split("\n\n")
    .filter((p) => p.trim() !== "")
    .map((p) => Object.fromEntries(parseParagraph(`${p}\n`).map((f) => [f.name, f.value])));
}
