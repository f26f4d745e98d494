// Relationship fields of a binary package (Depends, Recommends, Provides, …) as written in a
// package config: one string (`a (>= 1), b | c`) or a list of relations. Parsed by the grammar
// of policy §7.1 for binary packages (no `[arch]` restrictions or `<profile>`s, which belong to
// source packages) and normalized to the control-file form, so what reaches a Packages index
// is what dpkg parses.
import * as v from "valibot";
import { isValidVersion } from "../debian/version";
import { isValidPackageName, MACHINE_ARCHITECTURES } from "../record/policy";

export const RELATION_FIELDS = [
  "pre_depends",
  "depends",
  "recommends",
  "suggests",
  "enhances",
  "breaks",
  "conflicts",
  "replaces",
  "provides",
] as const;

export type RelationField = (typeof RELATION_FIELDS)[number];

// dpkg refuses `|` in these fields.
const NO_ALTERNATIVES: ReadonlySet<RelationField> = new Set([
  "breaks",
  "conflicts",
  "replaces",
  "provides",
]);

const ARCH_QUALIFIERS: ReadonlySet<string> = new Set(["any", "native", ...MACHINE_ARCHITECTURES]);

// name[:arch] [(op version)], white space allowed between the parts as dpkg allows.
const RELATION = /^([^\s:(),|]+)(?::([^\s:(),|]+))?(?:\s*\(\s*(<<|<=|=|>=|>>)\s*([^\s()]+)\s*\))?$/;

type Parsed = { ok: true; value: string } | { ok: false; problem: string };

function parseOne(text: string, field: RelationField): Parsed {
  const m = RELATION.exec(text);
  if (!m) {
    return {
      ok: false,
      problem: `${JSON.stringify(text)} is not "name[:arch] [(op version)]" with op one of << <= = >= >>`,
    };
  }
  const [, name = "", qualifier, op, version] = m;
  if (!isValidPackageName(name)) {
    return { ok: false, problem: `${JSON.stringify(name)} is not a Debian package name` };
  }
  if (qualifier !== undefined) {
    if (field === "provides") return { ok: false, problem: "Provides takes no :arch qualifier" };
    if (!ARCH_QUALIFIERS.has(qualifier)) {
      return {
        ok: false,
        problem: `${JSON.stringify(qualifier)} is not any, native or a known architecture`,
      };
    }
  }
  if (version !== undefined && !isValidVersion(version)) {
    return { ok: false, problem: `${JSON.stringify(version)} is not a Debian version` };
  }
  if (field === "provides" && op !== undefined && op !== "=") {
    return { ok: false, problem: "Provides allows only (= version)" };
  }
  const arch = qualifier === undefined ? "" : `:${qualifier}`;
  return {
    ok: true,
    value: op === undefined ? `${name}${arch}` : `${name}${arch} (${op} ${version})`,
  };
}

/** Parses a relationship field into its control-file form, or says what is wrong with it. */
export function parseRelations(input: string | readonly string[], field: RelationField): Parsed {
  const clauses = (typeof input === "string" ? [input] : input).flatMap((s) => s.split(","));
  if (clauses.length === 0) return { ok: false, problem: "must not be empty" };
  const out: string[] = [];
  for (const clause of clauses) {
    const alternatives = clause.split("|").map((a) => a.trim());
    if (alternatives.length > 1 && NO_ALTERNATIVES.has(field)) {
      return { ok: false, problem: "alternatives (|) are not allowed in this field" };
    }
    if (alternatives.some((a) => a === "")) {
      return { ok: false, problem: "has an empty relation (a stray , or |)" };
    }
    const parsed: string[] = [];
    for (const alternative of alternatives) {
      const one = parseOne(alternative, field);
      if (!one.ok) return one;
      parsed.push(one.value);
    }
    out.push(parsed.join(" | "));
  }
  return { ok: true, value: out.join(", ") };
}

/** A relationship field: a string or list of strings in, the control-file value out. */
export const relationsSchema = (field: RelationField) =>
  v.pipe(
    v.union([v.string(), v.array(v.string())], "must be a relation string or a list of relations"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const parsed = parseRelations(dataset.value, field);
      if (parsed.ok) return parsed.value;
      addIssue({ message: `invalid relation: ${parsed.problem}` });
      return NEVER;
    }),
  );
