// Between a record and the control paragraph of its .deb. Values are carried verbatim; the
// well-known fields come out in canonical order, the rest (control_extra, an unordered
// DynamoDB map) sorted by name so that the same record always gives the same bytes.
import type { Field, Paragraph } from "../debian/control";
import { INDEX_FIELDS } from "../debian/stanza";
import { attributeOfField, CONTROL_ATTRIBUTES, type ControlAttribute } from "./fields";
import type { PackageRecord, PackageRecordInput } from "./schema";

type ControlSource = Pick<PackageRecordInput, ControlAttribute | "control_extra">;

/** The control paragraph a record describes (what its .deb's control file holds). */
export function recordControl(record: PackageRecord | ControlSource): Paragraph {
  const fields: Field[] = [];
  for (const [name, attribute] of CONTROL_ATTRIBUTES) {
    const value = record[attribute];
    if (value !== undefined) fields.push({ name, value: String(value) });
  }
  const extra = record.control_extra ?? {};
  for (const name of Object.keys(extra).sort()) {
    const value = extra[name];
    if (value !== undefined) fields.push({ name, value });
  }
  return fields;
}

export type ControlAttributes = Partial<
  Record<Exclude<ControlAttribute, "installed_size">, string>
> & {
  installed_size?: number;
  control_extra?: Record<string, string>;
};

export class ControlMappingError extends Error {
  override name = "ControlMappingError";
}

/**
 * The record attributes of a .deb's control paragraph: well-known fields as snake_case
 * attributes, every other field in control_extra under its name as spelled.
 */
export function controlAttributes(paragraph: Paragraph): ControlAttributes {
  const out: ControlAttributes = {};
  const extra: Record<string, string> = {};
  for (const { name, value } of paragraph) {
    if (INDEX_FIELDS.has(name.toLowerCase())) {
      throw new ControlMappingError(`${name} belongs to an index, not to a control file`);
    }
    const attribute = attributeOfField(name);
    if (attribute === undefined) {
      extra[name] = value;
    } else if (attribute === "installed_size") {
      if (!/^(0|[1-9][0-9]*)$/.test(value)) {
        throw new ControlMappingError(`Installed-Size ${JSON.stringify(value)} is not a number`);
      }
      out.installed_size = Number(value);
    } else {
      out[attribute] = value;
    }
  }
  if (Object.keys(extra).length > 0) out.control_extra = extra;
  return out;
}
