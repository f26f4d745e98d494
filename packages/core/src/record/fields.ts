// The control fields a record keeps as its own snake_case attributes. Every other field of a
// .deb's control file is kept in `control_extra` under its name as spelled in the file.
// `Source` is not here: the record's `source` attribute says how the record got here, so
// a control `Source` field lives in control_extra.

/** Well-known control fields, in apt-ftparchive's canonical order, with their attribute. */
export const CONTROL_ATTRIBUTES = [
  ["Package", "package_name"],
  ["Package-Type", "package_type"],
  ["Architecture", "architecture"],
  ["Version", "version"],
  ["Multi-Arch", "multi_arch"],
  ["Priority", "priority"],
  ["Essential", "essential"],
  ["Section", "section"],
  ["Origin", "origin"],
  ["Maintainer", "maintainer"],
  ["Original-Maintainer", "original_maintainer"],
  ["Bugs", "bugs"],
  ["Installed-Size", "installed_size"],
  ["Provides", "provides"],
  ["Pre-Depends", "pre_depends"],
  ["Depends", "depends"],
  ["Recommends", "recommends"],
  ["Suggests", "suggests"],
  ["Conflicts", "conflicts"],
  ["Breaks", "breaks"],
  ["Replaces", "replaces"],
  ["Enhances", "enhances"],
  ["Homepage", "homepage"],
  ["Description", "description"],
] as const;

export type ControlAttribute = (typeof CONTROL_ATTRIBUTES)[number][1];

/** Control fields that are optional string attributes of the record. */
export const OPTIONAL_TEXT_ATTRIBUTES = [
  "package_type",
  "multi_arch",
  "priority",
  "essential",
  "section",
  "origin",
  "original_maintainer",
  "bugs",
  "provides",
  "pre_depends",
  "depends",
  "recommends",
  "suggests",
  "conflicts",
  "breaks",
  "replaces",
  "enhances",
  "homepage",
] as const satisfies readonly ControlAttribute[];

const byField = new Map<string, ControlAttribute>(
  CONTROL_ATTRIBUTES.map(([field, attr]) => [field.toLowerCase(), attr]),
);

/** The record attribute of a control field (case-insensitive), if it is a well-known one. */
export function attributeOfField(field: string): ControlAttribute | undefined {
  return byField.get(field.toLowerCase());
}
