import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  keyringPath,
  renderTemplate,
  sourcesPath,
  TEMPLATE_PLACEHOLDERS,
  type TemplateValues,
  templateValues,
  unknownPlaceholders,
} from "./template";

const valuesArb: fc.Arbitrary<TemplateValues> = fc.record(
  Object.fromEntries(
    TEMPLATE_PLACEHOLDERS.map((p) => [
      p,
      fc.string().filter((s) => !s.includes("{") && !s.includes("}")),
    ]),
  ) as Record<keyof TemplateValues, fc.Arbitrary<string>>,
);

describe("templates", () => {
  it("fills every placeholder and leaves the rest of the text alone", () => {
    const piece = fc.oneof(
      fc.string().filter((s) => !s.includes("{") && !s.includes("}")),
      fc.constantFrom(...TEMPLATE_PLACEHOLDERS),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 10 }), valuesArb, (pieces, values) => {
        const isName = (p: string): p is keyof TemplateValues =>
          (TEMPLATE_PLACEHOLDERS as readonly string[]).includes(p);
        const template = pieces.map((p) => (isName(p) ? `{{${p}}}` : p)).join("");
        const expected = pieces.map((p) => (isName(p) ? values[p] : p)).join("");
        expect(unknownPlaceholders(template)).toEqual([]);
        expect(renderTemplate(template, values)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("finds and refuses unknown placeholders", () => {
    fc.assert(
      fc.property(
        fc
          .string()
          .filter(
            (s) =>
              !s.includes("{") &&
              !s.includes("}") &&
              !(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(s),
          ),
        (name) => {
          const template = `x {{repo_url}} {{${name}}}`;
          expect(unknownPlaceholders(template)).toEqual([name]);
          expect(() =>
            renderTemplate(
              template,
              templateValues(
                { repo_url: "u", suite: "s", components: ["m"] },
                { keyring_name: "k", sources_name: "n" },
              ),
            ),
          ).toThrow(/unknown template placeholder/);
        },
      ),
      { numRuns: 300 },
    );
    expect(unknownPlaceholders("{{ repo_url }}")).toEqual([" repo_url "]);
  });

  it("derives the paths and values of the setup package from the stage", () => {
    expect(
      templateValues(
        { repo_url: "https://apt.kiro.dev", suite: "stable", components: ["main", "extra"] },
        { keyring_name: "kiro-archive-keyring", sources_name: "kiro" },
      ),
    ).toEqual({
      repo_url: "https://apt.kiro.dev",
      suite: "stable",
      components: "main extra",
      keyring_path: "/usr/share/keyrings/kiro-archive-keyring.gpg",
      sources_path: "/etc/apt/sources.list.d/kiro.sources",
    });
    expect(keyringPath("x")).toBe("/usr/share/keyrings/x.gpg");
    expect(sourcesPath("x")).toBe("/etc/apt/sources.list.d/x.sources");
  });
});
