// Validation = rendering: every rule renderStanza and renderParagraph enforce on what a record
// contributes to its stanza, as record validation issues with the attribute they concern. A
// record that validates therefore renders, so one bad item is refused where it is written and
// reported with its key, instead of failing a publication or a rebuild later. (The property
// test in rendering.test.ts checks "validates iff renders".)
import * as v from "valibot";
import { type FieldProblem, paragraphProblems } from "../debian/control";
import { INDEX_FIELDS, indexFieldProblems, stanzaInputSchema } from "../debian/stanza";
import { recordControl } from "./control";
import { attributeOfField } from "./fields";
import type { PackageRecordInput } from "./schema";

export interface RenderingIssue {
  /** The record attribute, then the control_extra key when it is one: `["control_extra", "Size"]`. */
  readonly path: readonly [string, ...string[]];
  readonly message: string;
}

const FILE_ATTRIBUTES = {
  filename: "filename",
  size: "file_size",
  md5: "md5_hash",
  sha1: "sha1_hash",
  sha256: "sha256_hash",
  sha512: "sha512_hash",
} as const;

/** Where a field of the record's control paragraph comes from. */
function pathOf(name: string, record: PackageRecordInput): [string, ...string[]] {
  const attribute = attributeOfField(name);
  // A control_extra key spelled like a well-known field collides with that attribute's field.
  if (record.control_extra !== undefined && Object.hasOwn(record.control_extra, name))
    return ["control_extra", name];
  return attribute === undefined ? ["control_extra", name] : [attribute];
}

/**
 * What rendering the record's stanza would refuse. `failed` names the attributes already
 * reported by their own rules: anything reading them is skipped (no double report).
 */
export function renderingIssues(
  record: PackageRecordInput,
  failed: ReadonlySet<string>,
): RenderingIssue[] {
  if (failed.has("control_extra")) return [];
  const control = recordControl(record);
  const issues: RenderingIssue[] = [];
  const report = (problems: readonly FieldProblem[]) => {
    for (const { name, problem } of problems) {
      const path = pathOf(name, record);
      if (!failed.has(path[0])) issues.push({ path, message: problem });
    }
  };
  report(indexFieldProblems(control));
  // Index fields are reported above; the paragraph's own rules (names, duplicates in any case,
  // values) apply to the rest.
  report(paragraphProblems(control).filter((p) => !INDEX_FIELDS.has(p.name.toLowerCase())));
  // The file fields as renderStanza reads them, when the record has them all (a build record's
  // come from its built .deb; a missing one is reported by its own rule).
  if (Object.values(FILE_ATTRIBUTES).every((a) => record[a] !== undefined)) {
    const file = v.safeParse(v.omit(stanzaInputSchema, ["control"]), {
      filename: record.filename,
      size: record.file_size,
      md5: record.md5_hash,
      sha1: record.sha1_hash,
      sha256: record.sha256_hash,
      sha512: record.sha512_hash,
    });
    if (!file.success) {
      for (const issue of file.issues) {
        const key = String(issue.path?.[0]?.key) as keyof typeof FILE_ATTRIBUTES;
        const attribute = FILE_ATTRIBUTES[key] ?? "filename";
        if (!failed.has(attribute)) issues.push({ path: [attribute], message: issue.message });
      }
    }
  }
  return issues;
}

/** The rule as a step of the record schema's pipe (after the per-attribute rules). */
export const renderingCheck = <T extends object>() =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (typeof value !== "object" || value === null) return;
    const failed = new Set((dataset.issues ?? []).map((i) => String(i.path?.[0]?.key)));
    const record = value as PackageRecordInput;
    for (const issue of renderingIssues(record, failed)) {
      let input: unknown = record;
      const path = issue.path.map((key) => {
        const item = {
          type: "object" as const,
          origin: "value" as const,
          input: input as Record<string, unknown>,
          key,
          value: (input as Record<string, unknown>)[key],
        };
        input = item.value;
        return item;
      });
      const [first, ...rest] = path;
      if (first === undefined) continue;
      addIssue({ message: `cannot be rendered: ${issue.message}`, path: [first, ...rest] });
    }
  });
