import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { run } from "../testing/index";
import {
  ControlError,
  type Field,
  getField,
  type Paragraph,
  parseParagraph,
  parseParagraphs,
  renderParagraph,
  renderParagraphs,
} from "./control";

// ---- generators ----

const printable = Array.from({ length: 94 }, (_, i) => String.fromCharCode(33 + i));
const nameStart = printable.filter((c) => c !== "#" && c !== "-" && c !== ":");
const nameRest = printable.filter((c) => c !== ":");
const nameArb = fc.oneof(
  fc.constantFrom(
    "Package",
    "Version",
    "Depends",
    "Description",
    "Conffiles",
    "X-Foo",
    "installed-size",
  ),
  fc
    .tuple(
      fc.constantFrom(...nameStart),
      fc.string({ unit: fc.constantFrom(...nameRest), maxLength: 10 }),
    )
    .map(([a, b]) => a + b),
);

// Text inside a line: printable ASCII, inner blanks, and non-ASCII (no-break space included).
const textUnit = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...printable) },
  { weight: 2, arbitrary: fc.constantFrom(" ", "\t") },
  { weight: 1, arbitrary: fc.constantFrom("é", "→", "中", "\u00a0", "😀") },
);
/** A non-empty string that neither starts nor ends with a space or tab. */
const tightArb = fc
  .string({ unit: textUnit, minLength: 1, maxLength: 20 })
  .map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ""))
  .filter((s) => s !== "");
const continuationArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom(" ", " ", "\t", "  ", " \t"), tightArb)
      .map(([p, s]) => p + s),
  },
  { weight: 1, arbitrary: fc.constantFrom(" .", " ..", "  .", "\t.") },
);
const valueArb = fc
  .tuple(fc.option(tightArb, { nil: "" }), fc.array(continuationArb, { maxLength: 4 }))
  .filter(([first, rest]) => first !== "" || rest.length > 0)
  .map(([first, rest]) => [first, ...rest].join("\n"));
const paragraphArb: fc.Arbitrary<Field[]> = fc
  .uniqueArray(nameArb, { minLength: 1, maxLength: 6, selector: (n) => n.toLowerCase() })
  .chain((names) => fc.tuple(...names.map((name) => valueArb.map((value) => ({ name, value })))));
const paragraphsArb = fc.array(paragraphArb, { minLength: 1, maxLength: 4 });

/** The canonical text of paragraphs, written independently of renderParagraph. */
const canonical = (ps: readonly Paragraph[]): string =>
  ps
    .map((p) =>
      p.map((f) => `${f.name}:${f.value.startsWith("\n") ? "" : " "}${f.value}\n`).join(""),
    )
    .join("\n");

/** Text that holds the same paragraphs with everything a reader must tolerate. */
const noisyArb = (ps: readonly Paragraph[]) => {
  const blanks = fc.constantFrom("", " ", "\t ");
  const comment = fc.string({ unit: textUnit, maxLength: 8 }).map((s) => `#${s}`);
  const padding = fc.constantFrom("", " ", "  ", "\t");
  const maybeComments = fc.array(comment, { maxLength: 1 });
  const field = (f: Field) => {
    const [first = "", ...rest] = f.value.split("\n");
    return fc
      .tuple(
        padding,
        padding,
        fc.array(padding, { minLength: rest.length, maxLength: rest.length }),
        maybeComments,
      )
      .map(([lead, trail, trails, comments]) => [
        ...comments,
        `${f.name}:${first === "" ? "" : lead}${first}${trail}`,
        ...rest.map((line, i) => line + (trails[i] ?? "")),
      ]);
  };
  const paragraph = (p: Paragraph) => fc.tuple(...p.map(field)).map((fs) => fs.flat());
  const separator = fc
    .tuple(fc.array(blanks, { minLength: 1, maxLength: 3 }), maybeComments)
    .map(([b, c]) => [...b, ...c]);
  return fc
    .tuple(
      fc.array(blanks, { maxLength: 2 }),
      fc.tuple(...ps.map(paragraph)),
      fc.array(separator, { minLength: ps.length, maxLength: ps.length }),
      fc.boolean(),
    )
    .map(([head, bodies, seps, finalNewline]) => {
      const lines = [
        ...head,
        ...bodies.flatMap((b, i) => (i === 0 ? b : [...(seps[i] ?? []), ...b])),
      ];
      return lines.join("\n") + (finalNewline ? "\n" : "");
    });
};

// ---- unit cases ----

describe("parseParagraphs", () => {
  it("reads folded fields, descriptions, comments and empty first lines", () => {
    const text = [
      "# a comment before the paragraph",
      "Package: kiro",
      "Version:1.0 ",
      "Depends: libc6 (>= 2.34),",
      "         libgtk-3-0,",
      "\tlibnss3",
      "# a comment inside",
      "Description: The IDE",
      " Longer text.",
      " .",
      " More text.   ",
      "Conffiles:",
      " /etc/kiro.conf 0123abc",
      "",
      " \t",
      "",
      "package: second",
    ].join("\n");
    expect(parseParagraphs(text)).toEqual([
      [
        { name: "Package", value: "kiro" },
        { name: "Version", value: "1.0" },
        { name: "Depends", value: "libc6 (>= 2.34),\n         libgtk-3-0,\n\tlibnss3" },
        { name: "Description", value: "The IDE\n Longer text.\n .\n More text." },
        { name: "Conffiles", value: "\n /etc/kiro.conf 0123abc" },
      ],
      [{ name: "package", value: "second" }],
    ]);
  });

  it("looks fields up in any case and keeps their spelling", () => {
    const p = parseParagraph("Installed-Size: 42\nX-Custom-Thing: a: b\n");
    expect(getField(p, "installed-size")).toBe("42");
    expect(getField(p, "INSTALLED-SIZE")).toBe("42");
    expect(getField(p, "x-custom-thing")).toBe("a: b");
    expect(getField(p, "Package")).toBeUndefined();
    expect(p.map((f) => f.name)).toEqual(["Installed-Size", "X-Custom-Thing"]);
  });

  it("reads nothing from blank text and comments", () => {
    expect(parseParagraphs("")).toEqual([]);
    expect(parseParagraphs("\n \n# only a comment\n\n")).toEqual([]);
  });

  it.each([
    ["A: 1\n  \n continued", 3, "continuation line without a field"],
    [" leading continuation", 1, "continuation line without a field"],
    ["A: 1\nno colon here\n", 2, "line without a colon"],
    ["A: 1\n-B: 2\n", 2, "invalid field name"],
    ["A: 1\nB C: 2\n", 2, "invalid field name"],
    ["A : 1\n", 1, "invalid field name"],
    ["A: 1\n: 2\n", 2, "invalid field name"],
    ["Naïve: 1\n", 1, "invalid field name"],
    ["A: 1\nB: 2\na: 3\n", 3, "duplicate field a"],
    ["A: 1\nB:\nC: 3\n", 2, "field B has an empty value"],
    ["A: 1\nB:   \t\n", 2, "field B has an empty value"],
    ["A: 1\r\nB: 2\r\n", 1, "U+000D (CR"],
    ["A: 1\n\nB: x\u0007y\n", 3, "U+0007"],
  ])("rejects %j at line %d (%s)", (text, line, detail) => {
    const error = (() => {
      try {
        parseParagraphs(text, "pkg/DEBIAN/control");
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ControlError);
    expect(error).toMatchObject({ source: "pkg/DEBIAN/control", line });
    expect((error as ControlError).message).toContain(`pkg/DEBIAN/control:${line}: `);
    expect((error as ControlError).message).toContain(detail);
  });

  it("allows the same field in different paragraphs", () => {
    expect(parseParagraphs("A: 1\n\na: 2\n")).toEqual([
      [{ name: "A", value: "1" }],
      [{ name: "a", value: "2" }],
    ]);
  });
});

describe("parseParagraph", () => {
  it("wants exactly one paragraph", () => {
    expect(parseParagraph("\n\nA: 1\n\n")).toEqual([{ name: "A", value: "1" }]);
    expect(() => parseParagraph("# nothing\n", "x")).toThrow("x: no paragraph");
    expect(() => parseParagraph("A: 1\n\n\nB: 2\n", "x")).toThrow("x:4: a second paragraph");
  });
});

describe("renderParagraph", () => {
  it("writes Name: value lines, and Name: alone before a folded value", () => {
    const p = [
      { name: "Package", value: "kiro" },
      { name: "Description", value: "The IDE\n More.\n .\n End." },
      { name: "Conffiles", value: "\n /etc/a 1" },
    ];
    expect(renderParagraph(p)).toBe(
      "Package: kiro\nDescription: The IDE\n More.\n .\n End.\nConffiles:\n /etc/a 1\n",
    );
    expect(renderParagraphs([p, [{ name: "A", value: "b" }]])).toBe(
      `${renderParagraph(p)}\nA: b\n`,
    );
    expect(renderParagraphs([])).toBe("");
  });

  it.each([
    [[], "no fields"],
    [[{ name: "A", value: "" }], "empty"],
    [[{ name: "A", value: "x\n" }], "continuation line 1"],
    [[{ name: "A", value: "x\n\n y" }], "continuation line 1"],
    [[{ name: "A", value: "x\ny" }], "must start with a space or tab"],
    [[{ name: "A", value: "x\n  " }], "blank"],
    [[{ name: "A", value: "x\n y " }], "trailing"],
    [[{ name: "A", value: " x" }], "around its first line"],
    [[{ name: "A", value: "x\t" }], "around its first line"],
    [[{ name: "A", value: "x\r" }], "U+000D"],
    [[{ name: "A", value: "\n" }], "continuation line 1"],
    [[{ name: "-A", value: "x" }], "invalid field name"],
    [[{ name: "A B", value: "x" }], "invalid field name"],
    [
      [
        { name: "A", value: "1" },
        { name: "a", value: "2" },
      ],
      "duplicate field a",
    ],
  ])("rejects %j (%s)", (p, detail) => {
    expect(() => renderParagraph(p)).toThrow(ControlError);
    expect(() => renderParagraph(p)).toThrow(detail);
  });
});

// ---- properties ----

describe("round trips", () => {
  it("parse(render(p)) is p", () => {
    fc.assert(
      fc.property(paragraphsArb, (ps) => {
        const text = renderParagraphs(ps);
        expect(text).toBe(canonical(ps));
        expect(parseParagraphs(text)).toEqual(ps);
        for (const p of ps) expect(parseParagraph(renderParagraph(p))).toEqual(p);
      }),
      { numRuns: 1000 },
    );
  });

  it("render(parse(x)) is the canonical text of any valid x (comments, padding, blank lines)", () => {
    fc.assert(
      fc.property(
        paragraphsArb.chain((ps) => fc.tuple(fc.constant(ps), noisyArb(ps))),
        ([ps, text]) => {
          const parsed = parseParagraphs(text);
          expect(parsed).toEqual(ps);
          expect(renderParagraphs(parsed)).toBe(canonical(ps));
          for (const p of parsed) {
            for (const f of p) expect(getField(p, f.name.toUpperCase())).toBe(f.value);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("renders a field only if it parses back to the same field", () => {
    const unit = fc.constantFrom(
      "a",
      "B",
      ":",
      " ",
      "\t",
      "\n",
      ".",
      "#",
      "-",
      "\r",
      "é",
      "\u0001",
    );
    fc.assert(
      fc.property(
        fc.string({ unit, maxLength: 4 }),
        fc.string({ unit, maxLength: 8 }),
        (name, value) => {
          let text: string;
          try {
            text = renderParagraph([{ name, value }]);
          } catch (e) {
            expect(e).toBeInstanceOf(ControlError);
            return;
          }
          expect(parseParagraph(text)).toEqual([{ name, value }]);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("reports the line of a bad line wherever it is inserted", () => {
    const badLine = fc.constantFrom(
      "no colon",
      "-Bad: x",
      "Bad Name: x",
      "Ctl\u0001: x",
      "Über: x",
    );
    fc.assert(
      fc.property(
        paragraphsArb.chain((ps) => noisyArb(ps)),
        badLine,
        fc.nat(),
        (text, bad, at) => {
          const lines = text.split("\n");
          const k = at % (lines.length + 1);
          lines.splice(k, 0, bad);
          expect(() => parseParagraphs(lines.join("\n"))).toThrow(`<control>:${k + 1}: `);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("reports a duplicate field (in any case) at its line", () => {
    fc.assert(
      fc.property(paragraphArb, fc.nat(), fc.nat(), (p, which, at) => {
        const lines = renderParagraph(p).split("\n");
        lines.pop();
        const field = p[which % p.length] as Field;
        const fieldLine = lines.findIndex((l) => l.startsWith(`${field.name}:`));
        const k = fieldLine + 1 + (at % (lines.length - fieldLine));
        lines.splice(
          k,
          0,
          `${field.name.toUpperCase() === field.name ? field.name.toLowerCase() : field.name.toUpperCase()}: dup`,
        );
        expect(() => parseParagraph(lines.join("\n"))).toThrow(
          `<control>:${k + 1}: duplicate field`,
        );
      }),
      { numRuns: 500 },
    );
  });
});

// ---- oracle: dpkg-dev's Dpkg::Control, many texts in one perl run ----

const PERL = `
use strict; use warnings; use Dpkg::Control::HashCore;
binmode STDIN; binmode STDOUT;
my @texts = do { local $/; split /\\0/, <STDIN>, -1 };
pop @texts;
for my $text (@texts) {
  my @out;
  my $ok = eval {
    local $/ = "\\n";
    open my $fh, '<', \\$text or die;
    while (1) {
      my $c = Dpkg::Control::HashCore->new;
      last unless $c->parse($fh, 'gen');
      push @out, "\x02";
      push @out, $_, $c->{$_} // "(undef)" for keys %$c;
    }
    1;
  };
  print join("\\0", $ok ? ("OK", @out) : ("ERR"), "\\x01"), "\\0";
}
`;

type PerlResult = { ok: true; paragraphs: [string, string][][] } | { ok: false };

function perlParse(texts: readonly string[]): PerlResult[] {
  const result = run("perl", ["-e", PERL], { input: texts.map((t) => `${t}\0`).join("") });
  expect(result.status, result.stderr).toBe(0);
  const items = result.stdout.split("\0");
  const out: PerlResult[] = [];
  let i = 0;
  while (i < items.length - 1) {
    const status = items[i++];
    const paragraphs: [string, string][][] = [];
    while (items[i] !== "\x01") {
      if (items[i] === "\x02") {
        paragraphs.push([]);
        i++;
      } else {
        paragraphs.at(-1)?.push([items[i] as string, items[i + 1] as string]);
        i += 2;
      }
    }
    i++;
    out.push(status === "OK" ? { ok: true, paragraphs } : { ok: false });
  }
  expect(out).toHaveLength(texts.length);
  return out;
}

/** Our value as Dpkg::Control holds it: continuation lines lose their first blank and a dot. */
const asPerl = (value: string): string =>
  value
    .split("\n")
    .map((line, i) => (i === 0 ? line : line.slice(1).replace(/^\.(\.*)$/, "$1")))
    .join("\n");

/** A fresh random sample, with its seed in failure messages so a failure can be replayed. */
function sample<T>(arb: fc.Arbitrary<T>, n: number): { values: T[]; seed: number } {
  const seed = Math.floor(Math.random() * 2 ** 31);
  return { values: fc.sample(arb, { numRuns: n, seed }), seed };
}

describe("oracle: Dpkg::Control", () => {
  it("reads the same fields and values from generated control texts", () => {
    // Dpkg::Control's field_capitalize drops a trailing hyphen (Foo- becomes Foo) and then
    // loses the field: leave such names out.
    const noTrailingHyphen = paragraphsArb.filter((ps) =>
      ps.every((p) => p.every((f) => !f.name.endsWith("-"))),
    );
    const { values: texts, seed } = sample(noTrailingHyphen.chain(noisyArb), 800);
    const perl = perlParse(texts);
    // Dpkg::Control capitalises names (installed-size → Installed-Size): compare them caselessly.
    const caseless = (ps: readonly (readonly [string, string])[][]) =>
      JSON.stringify(ps.map((p) => p.map(([n, v]) => [n.toLowerCase(), v])));
    const mismatches = texts.flatMap((text, i) => {
      const ours = parseParagraphs(text).map((p) =>
        p.map((f): [string, string] => [f.name, asPerl(f.value)]),
      );
      const theirs = perl[i];
      return theirs?.ok === true && caseless(theirs.paragraphs) === caseless(ours)
        ? []
        : [{ text, ours, theirs }];
    });
    expect(mismatches.slice(0, 1), `seed ${seed}`).toEqual([]);
  });

  it("rejects every text that Dpkg::Control rejects", () => {
    const junk = fc.constantFrom(
      " cont",
      "no colon",
      "-X: 1",
      "Package: again",
      "package: again",
      "",
      "#c",
      "Y:",
    );
    const mangledArb = fc
      .tuple(
        paragraphsArb.chain(noisyArb),
        fc.array(fc.tuple(junk, fc.nat()), { minLength: 1, maxLength: 3 }),
      )
      .map(([text, inserts]) => {
        const lines = text.split("\n");
        for (const [line, at] of inserts) lines.splice(at % (lines.length + 1), 0, line);
        return lines.join("\n");
      });
    const { values: texts, seed } = sample(mangledArb, 800);
    const perl = perlParse(texts);
    const accepted = (t: string) => {
      try {
        parseParagraphs(t);
        return true;
      } catch {
        return false;
      }
    };
    expect(perl.filter((r) => !r.ok).length).toBeGreaterThan(100);
    expect(
      texts.filter((t, i) => perl[i]?.ok === false && accepted(t)).slice(0, 3),
      `seed ${seed}`,
    ).toEqual([]);
  });
});
