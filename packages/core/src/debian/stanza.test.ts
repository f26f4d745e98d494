import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { runOk, scratch } from "../testing";
import { type Field, type Paragraph, parseParagraph, renderParagraph } from "./control";
import { debHashes } from "./hashes";
import {
  compareStanzaKeys,
  dpkgCapitalize,
  orderStanzaFields,
  PACKAGES_FIELD_ORDER,
  type PackagesEntry,
  renderPackages,
  renderStanza,
  stanzaSortKey,
} from "./stanza";
import { compareVersions } from "./version";

const tmp = scratch("stanza-test-");
afterAll(() => tmp.cleanup());
let batch = 0;

const HASHES = {
  filename: "pool/main/k/kiro/kiro_1.0_amd64.deb",
  size: 1234,
  md5: "0".repeat(32),
  sha1: "1".repeat(40),
  sha256: "2".repeat(64),
  sha512: "3".repeat(128),
};

// ---- generators of control paragraphs that dpkg-deb accepts ----

const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.,;()'"!?/_+=<>@-]{0,11}$/);
const words = (min: number, max: number) =>
  fc.array(word, { minLength: min, maxLength: max }).map((w) => w.join(" "));
const pkgName = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,12}$/);
const version = fc.stringMatching(/^([0-9]{1,2}:)?[0-9][a-z0-9.+~]{0,8}(-[a-z0-9.+~]{1,5})?$/);
const relation = fc
  .tuple(pkgName, fc.option(fc.tuple(fc.constantFrom("<<", "<=", "=", ">=", ">>"), version)))
  .map(([n, r]) => (r === null ? n : `${n} (${r[0]} ${r[1]})`));
const relations = (maxAlternatives: number) =>
  fc
    .array(
      fc
        .array(relation, { minLength: 1, maxLength: maxAlternatives })
        .map((alts) => alts.join(" | ")),
      { minLength: 1, maxLength: 4 },
    )
    .map((parts) => parts.join(", "));
// dpkg allows alternatives in Depends-like fields only, not in Conflicts, Breaks, Replaces.
const depends = relations(3);
const conflicts = relations(1);
// A Description: synopsis, then extended lines (" text", "  verbatim", " .").
const description = fc
  .tuple(
    words(1, 6),
    fc.array(
      fc.oneof(
        words(1, 8).map((w) => ` ${w}`),
        words(1, 4).map((w) => `   ${w}`),
        fc.constant(" ."),
      ),
      { maxLength: 6 },
    ),
  )
  // dpkg-scanpackages drops trailing " ." lines (Perl's split); a test below covers that case
  .map(([synopsis, lines]) => [synopsis, ...lines].join("\n").replace(/(\n \.)+$/, ""));
// Names as dpkg capitalises them, never one dpkg-scanpackages orders itself.
const knownLower = new Set(PACKAGES_FIELD_ORDER.map((n) => n.toLowerCase()));
const extraName = fc
  .array(fc.stringMatching(/^[A-Z][a-z0-9]{1,6}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join("-"))
  .filter((n) => !knownLower.has(n.toLowerCase()) && n === dpkgCapitalize(n));
const extraValue = fc.oneof(
  words(1, 5),
  fc
    .tuple(
      words(1, 3),
      fc.array(
        words(1, 4).map((w) => ` ${w}`),
        { minLength: 1, maxLength: 3 },
      ),
    )
    .map(([first, rest]) => [first, ...rest].join("\n")),
);

const optionalKnown = fc.record(
  {
    Source: fc.oneof(
      pkgName,
      fc.tuple(pkgName, version).map(([n, ver]) => `${n} (${ver})`),
    ),
    Essential: fc.constantFrom("yes", "no"),
    Protected: fc.constant("yes"),
    "Installed-Size": fc.nat(100000).map(String),
    "Pre-Depends": depends,
    Depends: depends,
    Recommends: depends,
    Suggests: depends,
    Enhances: depends,
    Conflicts: conflicts,
    Breaks: conflicts,
    Replaces: conflicts,
    Provides: pkgName,
    "Built-Using": fc.tuple(pkgName, version).map(([n, ver]) => `${n} (= ${ver})`),
    Section: fc.constantFrom("editors", "devel", "non-free/devel", "misc"),
    Priority: fc.constantFrom("optional", "required", "important", "standard", "extra"),
    "Multi-Arch": fc.constantFrom("same", "foreign", "allowed", "no"),
    Homepage: word.map((w) => `https://example.com/${encodeURIComponent(w)}`),
  },
  { requiredKeys: [] },
);

/** A control paragraph in a random field order, valid for dpkg-deb --build. */
const controlArb: fc.Arbitrary<Paragraph> = fc
  .tuple(
    pkgName,
    version,
    fc.constantFrom("amd64", "arm64", "all"),
    words(1, 3).map((n) => `${n} <dev@example.com>`),
    description,
    optionalKnown,
    fc.uniqueArray(fc.tuple(extraName, extraValue), {
      maxLength: 4,
      selector: ([n]) => n.toLowerCase(),
    }),
  )
  .chain(([pkg, ver, arch, maintainer, desc, known, extra]) => {
    // dpkg-deb refuses Multi-Arch: same on an `all` package
    if (arch === "all" && known["Multi-Arch"] === "same") delete known["Multi-Arch"];
    const fields: Field[] = [
      { name: "Package", value: pkg },
      { name: "Version", value: ver },
      { name: "Architecture", value: arch },
      { name: "Maintainer", value: maintainer },
      { name: "Description", value: desc },
      ...Object.entries(known).map(([name, value]) => ({ name, value })),
      ...extra.map(([name, value]) => ({ name, value })),
    ];
    return fc.shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length });
  });

const withoutSha512 = (stanza: string) => stanza.replace(/^SHA512: .*\n/m, "");

// ---- dpkg-deb and dpkg-scanpackages as oracles ----

interface Built {
  readonly control: Paragraph;
  readonly filename: string;
  readonly bytes: Uint8Array;
}

/** Builds one .deb per control paragraph (one dpkg-deb run each, one shell), in pool/. */
function buildDebs(dir: string, controls: readonly Paragraph[]): Built[] {
  mkdirSync(join(dir, "pool"), { recursive: true });
  const indices = controls.map((control, i) => {
    const root = join(dir, `src${i}`);
    mkdirSync(join(root, "DEBIAN"), { recursive: true });
    writeFileSync(join(root, "DEBIAN", "control"), renderParagraph(control));
    return String(i);
  });
  const script =
    'for i in "$@"; do dpkg-deb -Znone --root-owner-group --build "src$i" "pool/case$i.deb" >/dev/null; done';
  runOk("bash", ["-ec", script, "bash", ...indices], { cwd: dir });
  return controls.map((control, i) => {
    const filename = `pool/case${i}.deb`;
    return { control, filename, bytes: new Uint8Array(readFileSync(join(dir, filename))) };
  });
}

/** dpkg-scanpackages -m over pool/: its output, and its stanzas by Filename. */
function scanPackages(dir: string): { output: string; byFilename: Map<string, string> } {
  const output = runOk("dpkg-scanpackages", ["-m", "pool"], { cwd: dir }).stdout;
  const byFilename = new Map<string, string>();
  for (const raw of output.split("\n\n")) {
    if (raw === "") continue;
    const filename = /^Filename: (.*)$/m.exec(raw)?.[1];
    if (filename === undefined) throw new Error(`stanza without Filename:\n${raw}`);
    byFilename.set(filename, `${raw}\n`);
  }
  return { output, byFilename };
}

function stanzaOf(built: Built): string {
  const { size, md5, sha1, sha256, sha512 } = debHashes(built.bytes);
  return renderStanza({
    control: built.control,
    filename: built.filename,
    size,
    md5,
    sha1,
    sha256,
    sha512,
  });
}

describe("renderStanza against dpkg-scanpackages", () => {
  it("dpkg-scanpackages cannot write SHA512 (so it is compared without it)", () => {
    const result = runOk("bash", ["-c", "dpkg-scanpackages -h sha512 . 2>&1 || true"]);
    expect(result.stdout).toMatch(/unsupported checksum 'sha512'/);
  });

  it("writes what dpkg-scanpackages writes for hand-made packages of every kind", () => {
    const dir = join(tmp.dir, `hand${batch++}`);
    const controls: Paragraph[] = [
      parseParagraph(
        [
          "Description: a thing with a long description",
          " Long text here.",
          " .",
          "   verbatim  line",
          " ..",
          "Package: foo",
          "X-Zeta-Field: z",
          "Version: 1:2.0~rc1-1",
          "Homepage: https://example.com/",
          "Maintainer: A B <a@b.c>",
          "Architecture: amd64",
          "Multi-Arch: same",
          "Essential: yes",
          "Aa-Field: first",
          "Built-Using: gcc-12 (= 12.2.0-14)",
          "Source: foosrc (2.0-1)",
          "Depends: libc6 (>= 2.34),",
          " libfoo | libbar",
          "Pre-Depends: dpkg (>= 1.19)",
          "Installed-Size: 123",
          "Static-Built-Using: rustc (= 1.70)",
          "Section: editors",
          "Priority: optional",
          "Recommends: a, b",
          "Suggests: c",
          "Conflicts: d",
          "Breaks: e (<< 1)",
          "Replaces: e (<< 1)",
          "Provides: editor",
          "Enhances: f",
          "Protected: yes",
          "",
        ].join("\n"),
      ),
      parseParagraph(
        "Package: kiro\nVersion: 0.7.45\nArchitecture: amd64\nMaintainer: Kiro <k@example.com>\nDescription: IDE\n",
      ),
      parseParagraph(
        "Package: kiro\nVersion: 0.8.0\nArchitecture: amd64\nMaintainer: Kiro <k@example.com>\nDescription: IDE\n",
      ),
      parseParagraph(
        "Package: kiro-repo\nVersion: 2.0.0\nArchitecture: all\nMaintainer: Kiro <k@example.com>\nDescription: repo setup\n Installs the key.\nX-Origin-Url: https://x.example/\n",
      ),
    ];
    const built = buildDebs(dir, controls);
    const { output, byFilename } = scanPackages(dir);
    for (const b of built) {
      expect(withoutSha512(stanzaOf(b))).toBe(byFilename.get(b.filename));
    }
    // versions here sort the same by bytes (dpkg-scanpackages) and by dpkg's order (ours)
    const entries = built.map((b) => ({ key: stanzaSortKey(b.control), stanza: stanzaOf(b) }));
    expect(withoutSha512(renderPackages(entries)).replace(/^SHA512: .*\n/gm, "")).toBe(output);
  });

  it("keeps names and values as spelled where dpkg-scanpackages rewrites them", () => {
    const dir = join(tmp.dir, `caps${batch++}`);
    const control = parseParagraph(
      "Package: p1\nVersion: 1\nArchitecture: all\nMaintainer: M <m@x>\nDescription: d\n text\n .\n .\nX-Kiro-URL: u\nX-A: a\n",
    );
    const [b] = buildDebs(dir, [control]);
    if (b === undefined) throw new Error("no deb built");
    const ours = withoutSha512(stanzaOf(b));
    expect(ours).toMatch(/^X-Kiro-URL: u$/m);
    expect(ours).toContain("Description: d\n text\n .\n .\n");
    // dpkg-scanpackages re-capitalises the name and drops the trailing " ." lines
    const theirs = ours.replace("X-Kiro-URL", "X-Kiro-Url").replace("text\n .\n .\n", "text\n");
    expect(scanPackages(dir).byFilename.get(b.filename)).toBe(theirs);
  });

  it("is byte-identical to dpkg-scanpackages for generated packages (batches of 30, one scan each)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(controlArb, {
          minLength: 30,
          maxLength: 30,
          selector: (c) => stanzaSortKey(c).package,
        }),
        (controls) => {
          const dir = join(tmp.dir, `gen${batch++}`);
          const built = buildDebs(dir, controls);
          const { output, byFilename } = scanPackages(dir);
          for (const b of built)
            expect(withoutSha512(stanzaOf(b))).toBe(byFilename.get(b.filename));
          // one version per name: the whole file is identical too
          const entries = built.map((b) => ({
            key: stanzaSortKey(b.control),
            stanza: stanzaOf(b),
          }));
          expect(renderPackages(entries).replace(/^SHA512: .*\n/gm, "")).toBe(output);
        },
      ),
      { numRuns: 2, endOnFailure: true }, // no shrinking: each run builds 30 packages
    );
  });
});

describe("renderStanza", () => {
  const INDEX = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

  it("parses back to the control fields plus the index fields, in canonical order", () => {
    fc.assert(
      fc.property(controlArb, (control) => {
        const stanza = renderStanza({ control, ...HASHES });
        const back = parseParagraph(stanza);
        expect(back.map((f) => f.name).filter((n) => !INDEX.includes(n))).toEqual(
          orderStanzaFields(control).map((f) => f.name),
        );
        const values = new Map(back.map((f) => [f.name, f.value]));
        for (const f of control) expect(values.get(f.name)).toBe(f.value);
        expect(back.filter((f) => INDEX.includes(f.name))).toEqual([
          { name: "Filename", value: HASHES.filename },
          { name: "Size", value: String(HASHES.size) },
          { name: "MD5sum", value: HASHES.md5 },
          { name: "SHA1", value: HASHES.sha1 },
          { name: "SHA256", value: HASHES.sha256 },
          { name: "SHA512", value: HASHES.sha512 },
        ]);
        // the canonical order: ranked fields by rank, then the rest by capitalised name
        const ranks = back.map((f) =>
          PACKAGES_FIELD_ORDER.findIndex((n) => n.toLowerCase() === f.name.toLowerCase()),
        );
        const firstUnranked = ranks.indexOf(-1);
        const ranked = firstUnranked < 0 ? ranks : ranks.slice(0, firstUnranked);
        expect(ranked).toEqual([...ranked].sort((a, b) => a - b));
        if (firstUnranked >= 0) {
          expect(ranks.slice(firstUnranked).every((r) => r === -1)).toBe(true);
          const rest = back.slice(firstUnranked).map((f) => dpkgCapitalize(f.name));
          expect(rest).toEqual([...rest].sort());
        }
      }),
      { numRuns: 500 },
    );
  });

  it("does not depend on the order of the control fields, and is deterministic", () => {
    fc.assert(
      fc.property(
        controlArb.chain((c) =>
          fc.tuple(
            fc.constant(c),
            fc.shuffledSubarray([...c], { minLength: c.length, maxLength: c.length }),
          ),
        ),
        ([control, shuffled]) => {
          expect(renderStanza({ control: shuffled, ...HASHES })).toBe(
            renderStanza({ control, ...HASHES }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never rewrites a value", () => {
    const control = parseParagraph(
      "Package: p1\nVersion: 1\nArchitecture: all\nDescription: d\n\tTabbed line\n  two spaces\nX-Y: a  b\t c\n",
    );
    const stanza = renderStanza({ control, ...HASHES });
    expect(stanza).toContain("Description: d\n\tTabbed line\n  two spaces\n");
    expect(stanza).toContain("X-Y: a  b\t c\n");
  });

  it("rejects index fields in the control, bad hashes, paths and keys, naming the package", () => {
    const base = parseParagraph("Package: p1\nVersion: 1\nArchitecture: all\nDescription: d\n");
    const bad = (over: Partial<Parameters<typeof renderStanza>[0]>) => () =>
      renderStanza({ control: base, ...HASHES, ...over });
    expect(bad({ control: [...base, { name: "filename", value: "x" }] })).toThrow(
      /p1.*filename.*index/,
    );
    expect(bad({ control: [...base, { name: "SHA512", value: "x" }] })).toThrow(/SHA512/);
    expect(bad({ md5: "ABC" })).toThrow(/p1: md5: md5 must be 32 lowercase hex/);
    expect(bad({ sha512: "3".repeat(127) })).toThrow(/sha512/);
    expect(bad({ size: -1 })).toThrow(/size/);
    expect(bad({ size: 1.5 })).toThrow(/size/);
    for (const filename of [
      "/abs.deb",
      "../x.deb",
      "pool/../x.deb",
      "pool/./x.deb",
      "a b.deb",
      "pool/",
      "a//b",
      "x\n.deb",
      "",
    ]) {
      expect(bad({ filename }), filename).toThrow(/filename/);
    }
    expect(bad({ control: base.filter((f) => f.name !== "Version") })).toThrow(/Version/);
    expect(
      bad({ control: base.map((f) => (f.name === "Version" ? { ...f, value: "a1" } : f)) }),
    ).toThrow(/Version/);
    expect(
      bad({ control: base.map((f) => (f.name === "Package" ? { ...f, value: "P" } : f)) }),
    ).toThrow(/Package/);
    expect(bad({ control: base.filter((f) => f.name !== "Architecture") })).toThrow(/Architecture/);
    expect(bad({ control: [...base, { name: "package", value: "p1" }] })).toThrow(/duplicate/);
  });
});

describe("renderPackages", () => {
  const entryArb = fc
    .tuple(
      fc.constantFrom("aa", "b0", "kiro", "kiro-cli", "lib+x"),
      version,
      fc.constantFrom("amd64", "arm64", "all"),
    )
    .map(([pkg, ver, arch]): PackagesEntry => {
      const control = parseParagraph(
        `Package: ${pkg}\nVersion: ${ver}\nArchitecture: ${arch}\nDescription: d\n`,
      );
      return { key: stanzaSortKey(control), stanza: renderStanza({ control, ...HASHES }) };
    });

  it("sorts by name, dpkg version, architecture; input order does not matter", () => {
    fc.assert(
      fc.property(
        fc
          .array(entryArb, { maxLength: 30 })
          .chain((es) =>
            fc.tuple(
              fc.constant(es),
              fc.shuffledSubarray(es, { minLength: es.length, maxLength: es.length }),
            ),
          ),
        ([entries, shuffled]) => {
          const out = renderPackages(entries);
          expect(renderPackages(shuffled)).toBe(out);
          if (entries.length === 0) {
            expect(out).toBe("");
            return;
          }
          expect(out.endsWith("\n\n")).toBe(true);
          const keys = out
            .slice(0, -1)
            .split("\n\n")
            .map((s) => stanzaSortKey(parseParagraph(s)));
          expect(keys).toHaveLength(entries.length);
          for (let i = 1; i < keys.length; i++) {
            const [a, b] = [keys[i - 1], keys[i]];
            if (a === undefined || b === undefined) throw new Error("missing key");
            expect(compareStanzaKeys(a, b)).toBeLessThanOrEqual(0);
            if (a.package === b.package)
              expect(compareVersions(a.version, b.version)).toBeLessThanOrEqual(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("orders versions as dpkg does, not as strings", () => {
    const entry = (ver: string): PackagesEntry => {
      const control = parseParagraph(
        `Package: kiro\nVersion: ${ver}\nArchitecture: amd64\nDescription: d\n`,
      );
      return { key: stanzaSortKey(control), stanza: renderStanza({ control, ...HASHES }) };
    };
    const out = renderPackages(["1.10", "1.9", "1:0.1", "1.9~rc1"].map(entry));
    expect([...out.matchAll(/^Version: (.*)$/gm)].map((m) => m[1])).toEqual([
      "1.9~rc1",
      "1.9",
      "1.10",
      "1:0.1",
    ]);
  });

  it("orders versions dpkg finds equal by their spelling", () => {
    const entry = (ver: string): PackagesEntry => {
      const control = parseParagraph(
        `Package: kiro\nVersion: ${ver}\nArchitecture: amd64\nDescription: d\n`,
      );
      return { key: stanzaSortKey(control), stanza: renderStanza({ control, ...HASHES }) };
    };
    expect(compareVersions("1.0", "0:1.0-0")).toBe(0);
    const a = renderPackages(["1.0", "0:1.0-0"].map(entry));
    expect(renderPackages(["0:1.0-0", "1.0"].map(entry))).toBe(a);
  });
});
