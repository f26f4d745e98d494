// Test support (not exported from the module): fast-check generators of valid config inputs,
// shared by the schema, relation and loader tests.
import fc from "fast-check";
import type { RelationField } from "../config/relations";
import type { PackageConfigInput, StageConfigInput } from "../config/schema";
import { TEMPLATE_PLACEHOLDERS } from "../config/template";
import { isValidVersion } from "../debian/version";
import {
  type Architecture,
  KNOWN_SECTIONS,
  MACHINE_ARCHITECTURES,
  PRIORITIES,
} from "../record/policy";

const chars = (s: string) => fc.constantFrom(...s.split(""));
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";

export const packageNameArb = fc
  .tuple(
    chars(LOWER + DIGITS),
    fc.array(chars(`${LOWER}${DIGITS}+.-`), { minLength: 1, maxLength: 20 }),
  )
  .map(([first, rest]) => first + rest.join(""));

export const versionArb = fc
  .tuple(
    fc.option(fc.nat({ max: 5 }), { nil: undefined }),
    chars(DIGITS),
    fc.array(chars(`${LOWER}${DIGITS}.+~`), { maxLength: 8 }),
    fc.option(fc.array(chars(`${LOWER}${DIGITS}.+~`), { minLength: 1, maxLength: 4 }), {
      nil: undefined,
    }),
  )
  .map(([epoch, first, rest, revision]) => {
    const upstream = first + rest.join("");
    return `${epoch === undefined ? "" : `${epoch}:`}${upstream}${revision === undefined ? "" : `-${revision.join("")}`}`;
  })
  .filter(isValidVersion);

// Printable text: ASCII and a few non-ASCII letters, never control characters.
const textChar = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.constantFrom("é", "ß", "ü", "中", "→") },
);
const text = (max: number) => fc.array(textChar, { maxLength: max }).map((cs) => cs.join(""));

/** One line without surrounding white space. */
export const lineArb = (max = 60) =>
  text(max)
    .map((s) => s.trim())
    .filter((s) => s !== "");

export const longDescriptionArb = fc
  .array(
    fc.oneof(
      text(70),
      fc.constant(""),
      text(20).map((s) => `  ${s}`),
    ),
    { minLength: 1, maxLength: 6 },
  )
  .map((lines) => lines.join("\n"))
  .filter((s) => s.trim() !== "" && s.split("\n").every((l) => l.trim() !== "."));

// No `xn--` labels: they are punycode, and an invalid one (`xn--0`) is not a URL host at all.
const hostArb = fc
  .array(
    fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/).filter((l) => !l.startsWith("xn--")),
    { minLength: 1, maxLength: 3 },
  )
  .map((labels) => `${labels.join(".")}.com`);
const pathArb = fc
  .array(fc.stringMatching(/^[A-Za-z0-9._~-]{1,10}$/), { maxLength: 3 })
  .map((segments) => segments.map((s) => `/${s}`).join(""))
  .filter((p) => !p.split("/").some((s) => s === "." || s === ".."));

export const httpsUrlArb = fc.tuple(hostArb, pathArb).map(([h, p]) => `https://${h}${p}`);

export const maintainerArb = fc
  .tuple(lineArb(30), fc.stringMatching(/^[a-z0-9._+-]{1,12}$/), hostArb)
  .filter(([name]) => !/[<>,"]/.test(name))
  .map(([name, local, host]) => `${name} <${local}@${host}>`);

export const sectionArb = fc
  .tuple(fc.constantFrom("", "contrib/", "non-free/"), fc.constantFrom(...KNOWN_SECTIONS))
  .map(([area, s]) => area + s);

export const architecturesArb: fc.Arbitrary<Architecture[]> = fc.oneof(
  fc.constant<Architecture[]>(["all"]),
  fc.uniqueArray(fc.constantFrom<Architecture>(...MACHINE_ARCHITECTURES), {
    minLength: 1,
    maxLength: 4,
  }),
);

const OPS = ["<<", "<=", "=", ">=", ">>"] as const;

/** One relation as a config may write it (varying white space) and its normalized form. */
export const relationArb = (field: RelationField) =>
  fc
    .record({
      name: packageNameArb,
      qualifier:
        field === "provides"
          ? fc.constant(undefined)
          : fc.option(fc.constantFrom("any", "native", ...MACHINE_ARCHITECTURES), {
              nil: undefined,
            }),
      constraint: fc.option(
        fc.tuple(
          field === "provides" ? fc.constant("=" as const) : fc.constantFrom(...OPS),
          versionArb,
        ),
        { nil: undefined },
      ),
      gap: fc.constantFrom("", " ", "  "),
    })
    .map(({ name, qualifier, constraint, gap }) => {
      const q = qualifier === undefined ? "" : `:${qualifier}`;
      if (constraint === undefined) return { written: `${name}${q}`, normal: `${name}${q}` };
      const [op, version] = constraint;
      return {
        written: `${name}${q}${gap}(${gap}${op}${gap === "" ? "" : " "}${version}${gap})`,
        normal: `${name}${q} (${op} ${version})`,
      };
    });

const ALTERNATIVES_ALLOWED: readonly RelationField[] = [
  "pre_depends",
  "depends",
  "recommends",
  "suggests",
  "enhances",
];

/** A whole field: a string or list, and its normalized control-file value. */
export const relationFieldArb = (field: RelationField) => {
  const clause = ALTERNATIVES_ALLOWED.includes(field)
    ? fc.array(relationArb(field), { minLength: 1, maxLength: 3 }).map((alts) => ({
        written: alts.map((a) => a.written).join(" | "),
        normal: alts.map((a) => a.normal).join(" | "),
      }))
    : relationArb(field);
  return fc
    .tuple(fc.array(clause, { minLength: 1, maxLength: 4 }), fc.boolean())
    .map(([clauses, asList]) => ({
      input: asList ? clauses.map((c) => c.written) : clauses.map((c) => c.written).join(", "),
      normal: clauses.map((c) => c.normal).join(", "),
    }));
};

export const scheduleArb = fc.oneof(
  fc.constantFrom("rate(1 minute)", "rate(1 hour)", "rate(1 day)"),
  fc
    .tuple(fc.integer({ min: 2, max: 500 }), fc.constantFrom("minutes", "hours", "days"))
    .map(([n, u]) => `rate(${n} ${u})`),
  fc.constantFrom("cron(0 * * * ? *)", "cron(15 10 ? * MON-FRI *)", "cron(0/30 8-17 1 * ? 2030)"),
);

const placeholder = fc.constantFrom(...TEMPLATE_PLACEHOLDERS).map((p) => `{{${p}}}`);
const templateBody = fc
  .array(
    fc.oneof(
      text(30).filter((s) => !s.includes("{{") && !s.includes("}}") && !s.includes("\r")),
      placeholder,
    ),
    { maxLength: 6 },
  )
  .map((parts) => parts.join(""));
const scriptArb = templateBody.map((body) => `#!/bin/sh\nset -e\n${body}\nexit 0\n`);

const upstreamKeyArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,10}$/);
const keyringNameArb = fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,20}$/);
const sourcesNameArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);

// Built once (building arbitraries inside chain() per sample is what makes generation slow).
const upstreamArb = fc.record(
  {
    type: fc.constant("upstream" as const),
    metadata_url: httpsUrlArb,
    // Keys now, architectures filled in from the package's list by packageConfigArb.
    architecture_map: fc.uniqueArray(fc.tuple(upstreamKeyArb, fc.nat()), {
      maxLength: 3,
      selector: ([k]) => k,
    }),
    schedule: scheduleArb,
  },
  { requiredKeys: ["type", "metadata_url"] },
);

const buildArb = fc.record(
  {
    type: fc.constant("build" as const),
    version: versionArb,
    keyring_name: keyringNameArb,
    sources_name: sourcesNameArb,
    templates: fc.record(
      {
        sources: templateBody.map(
          (b) => `Types: deb\nURIs: {{repo_url}}\n${b}\nSigned-By: {{keyring_path}}\n`,
        ),
        postinst: scriptArb,
        prerm: scriptArb,
        postrm: scriptArb,
      },
      { requiredKeys: ["sources"] },
    ),
  },
  { requiredKeys: ["type", "keyring_name", "sources_name", "templates"] },
);

const sourceArb = fc.oneof(upstreamArb, buildArb, fc.constant({ type: "manual" as const }));
const relationInput = (field: RelationField) => relationFieldArb(field).map((r) => r.input);
const synopsisArb = lineArb();

const packageFieldsArb = fc.record(
  {
    name: packageNameArb,
    description: synopsisArb,
    long_description: longDescriptionArb,
    maintainer: maintainerArb,
    homepage: httpsUrlArb,
    section: sectionArb,
    priority: fc.constantFrom(...PRIORITIES),
    architectures: architecturesArb,
    depends: relationInput("depends"),
    recommends: relationInput("recommends"),
    conflicts: relationInput("conflicts"),
    replaces: relationInput("replaces"),
    provides: relationInput("provides"),
    source: sourceArb,
  },
  {
    requiredKeys: [
      "name",
      "description",
      "maintainer",
      "homepage",
      "section",
      "priority",
      "architectures",
      "source",
    ],
  },
);

/** A valid package config input (as a file would hold it), named `name` when given. */
export const packageConfigArb = (name?: string): fc.Arbitrary<PackageConfigInput> =>
  packageFieldsArb.map(({ source, ...pkg }): PackageConfigInput => {
    const named = name === undefined ? pkg : { ...pkg, name };
    if (source.type !== "upstream") return { ...named, source };
    const { architecture_map: keys, ...upstream } = source;
    if (keys === undefined) return { ...named, source: upstream };
    const arches = pkg.architectures;
    const map = Object.fromEntries(
      keys.map(([k, i]) => [k, arches[i % arches.length] as Architecture]),
    );
    return { ...named, source: { ...upstream, architecture_map: map } };
  });

const fingerprintArb = fc.stringMatching(/^[0-9A-Fa-f]{40}$/);
const stageNameArb = fc.oneof(fc.constant("local"), fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/));
const componentsArb = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), {
  minLength: 1,
  maxLength: 3,
});
const distNameArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/);
const localUrlArb = fc
  .tuple(
    fc.constantFrom("127.0.0.1", "localhost", "[::1]"),
    fc.integer({ min: 1, max: 65535 }),
    pathArb,
  )
  .map(([h, port, p]) => `http://${h}:${port}${p}`);
const shortLineArb = lineArb(20);

const stageFieldsArb = fc.record(
  {
    stage: stageNameArb,
    local_url: fc.oneof(httpsUrlArb, localUrlArb),
    remote_url: httpsUrlArb.map((u) => `${u}/`),
    suite: distNameArb,
    codename: distNameArb,
    components: componentsArb,
    architectures: fc.uniqueArray(fc.constantFrom(...MACHINE_ARCHITECTURES), {
      minLength: 1,
      maxLength: 5,
    }),
    origin: shortLineArb,
    label: shortLineArb,
    description: synopsisArb,
    key_ids: fc.uniqueArray(fingerprintArb, { maxLength: 2, selector: (k) => k.toLowerCase() }),
    extra_key: fingerprintArb,
    by_hash_grace_days: fc.integer({ min: 1, max: 60 }),
    valid_until_days: fc.integer({ min: 1, max: 60 }),
    default_suite: distNameArb,
    default_component: fc.nat(),
  },
  {
    requiredKeys: [
      "stage",
      "local_url",
      "remote_url",
      "suite",
      "architectures",
      "origin",
      "label",
      "description",
      "key_ids",
      "extra_key",
      "default_component",
    ],
  },
);

/** A valid stage config input: http on loopback and no keys only for the local stage. */
export const stageConfigArb: fc.Arbitrary<StageConfigInput> = fc
  .tuple(stageFieldsArb, fc.boolean())
  .map(
    ([{ local_url, remote_url, key_ids, extra_key, default_component, ...stage }, withDefault]) => {
      const local = stage.stage === "local";
      const keys = !local && key_ids.length === 0 ? [extra_key] : key_ids;
      const components = stage.components ?? ["main"];
      const config: StageConfigInput = {
        ...stage,
        repo_url: local ? local_url : remote_url,
        signing: { key_ids: keys },
      };
      return withDefault
        ? { ...config, default_component: components[default_component % components.length] }
        : config;
    },
  );
