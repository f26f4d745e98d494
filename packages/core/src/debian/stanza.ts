// Packages stanzas: a .deb's control paragraph, values verbatim, plus where the file is and
// its size and digests, in the field order dpkg-scanpackages writes (Dpkg::Control::FieldsCore,
// CTRL_INDEX_PKG), with SHA512 after SHA256 (dpkg-scanpackages has no SHA-512: its `--hash`
// accepts md5, sha1 and sha256 only). Fields that order does not list follow, sorted by name
// as dpkg-scanpackages sorts them (byte order of the dpkg-capitalised name).
//
// Where dpkg-scanpackages rewrites, we do not: it re-capitalises field names (`X-Kiro-URL`
// becomes `X-Kiro-Url`), turns a tab that starts a continuation line into a space, drops
// trailing blanks and drops trailing ` .` lines of a value (Perl's split). Names and values
// are written as the control file spells them; for control files as dpkg-gencontrol writes
// them the bytes are the same. dpkg-scanpackages sorts versions of one package as strings;
// renderPackages sorts them in dpkg's order.
import * as v from "valibot";
import {
  type Field,
  type FieldProblem,
  getField,
  type Paragraph,
  renderParagraph,
} from "./control";
import { compareVersions, isValidVersion } from "./version";

/** dpkg-scanpackages's field order (dpkg 1.21 FieldsCore, CTRL_INDEX_PKG) plus SHA512. */
export const PACKAGES_FIELD_ORDER = [
  "Package",
  "Package-Type",
  "Source",
  "Version",
  "Kernel-Version",
  "Built-For-Profiles",
  "Auto-Built-Package",
  "Architecture",
  "Subarchitecture",
  "Installer-Menu-Item",
  "Build-Essential",
  "Essential",
  "Protected",
  "Origin",
  "Bugs",
  "Maintainer",
  "Installed-Size",
  "Pre-Depends",
  "Depends",
  "Recommends",
  "Suggests",
  "Enhances",
  "Conflicts",
  "Breaks",
  "Replaces",
  "Provides",
  "Built-Using",
  "Static-Built-Using",
  "Filename",
  "Size",
  "MD5sum",
  "SHA1",
  "SHA256",
  "SHA512",
  "Section",
  "Priority",
  "Multi-Arch",
  "Homepage",
  "Description",
  "Tag",
  "Task",
] as const;

const rank = new Map<string, number>(
  PACKAGES_FIELD_ORDER.map((name, i) => [name.toLowerCase(), i]),
);

/** Fields the index computes: a control paragraph that has them is not a .deb's. */
export const INDEX_FIELDS: ReadonlySet<string> = new Set([
  "filename",
  "size",
  "md5sum",
  "sha1",
  "sha256",
  "sha512",
]);

// Dpkg's known fields whose spelling is not the generic one; used only for sorting.
const DPKG_SPELLING = new Map([
  ["butautomaticupgrades", "ButAutomaticUpgrades"],
  ["notautomatic", "NotAutomatic"],
  ["no-support-for-architecture-all", "No-Support-for-Architecture-all"],
]);

/** Dpkg::Control::FieldsCore::field_capitalize: the spelling dpkg sorts unknown fields by. */
export function dpkgCapitalize(name: string): string {
  const lower = name.toLowerCase();
  return (
    DPKG_SPELLING.get(lower) ??
    lower
      .split("-")
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
      .join("-")
  );
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Orders fields as dpkg-scanpackages does (the sort is stable; names are unique). */
export function orderStanzaFields(fields: readonly Field[]): Field[] {
  const known = fields.filter((f) => rank.has(f.name.toLowerCase()));
  const other = fields.filter((f) => !rank.has(f.name.toLowerCase()));
  known.sort(
    (a, b) => (rank.get(a.name.toLowerCase()) ?? 0) - (rank.get(b.name.toLowerCase()) ?? 0),
  );
  other.sort((a, b) => byteOrder(dpkgCapitalize(a.name), dpkgCapitalize(b.name)));
  return [...known, ...other];
}

const hex = (length: number, what: string) =>
  v.pipe(
    v.string(),
    v.regex(new RegExp(`^[0-9a-f]{${length}}$`), `${what} must be ${length} lowercase hex digits`),
  );

/** A pool path: relative, `/`-separated, no `.`/`..` segments, nothing a Packages line cannot hold. */
const FILENAME = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[^/\s\p{Cc}][^\s\p{Cc}]*$/u;

export const stanzaInputSchema = v.object({
  control: v.pipe(v.array(v.object({ name: v.string(), value: v.string() })), v.readonly()),
  filename: v.pipe(
    v.string(),
    v.regex(FILENAME, "filename must be a relative path without whitespace, '.' or '..' segments"),
    v.check((f) => !f.endsWith("/") && !f.includes("//"), "filename must name a file"),
  ),
  size: v.pipe(
    v.number(),
    v.safeInteger("size must be an integer"),
    v.minValue(0, "size must be >= 0"),
  ),
  md5: hex(32, "md5"),
  sha1: hex(40, "sha1"),
  sha256: hex(64, "sha256"),
  sha512: hex(128, "sha512"),
});

export type StanzaInput = v.InferOutput<typeof stanzaInputSchema>;

export class StanzaError extends Error {
  override readonly name = "StanzaError";
}

/** The sort key of a stanza: package name, then version (dpkg order), then architecture. */
export interface StanzaKey {
  readonly package: string;
  readonly version: string;
  readonly architecture: string;
}

/** The key of a control paragraph; throws StanzaError if Package, Version or Architecture is missing or invalid. */
export function stanzaSortKey(control: Paragraph): StanzaKey {
  const pkg = getField(control, "Package");
  const version = getField(control, "Version");
  const architecture = getField(control, "Architecture");
  const where = pkg === undefined ? "control paragraph" : `package ${pkg}`;
  if (pkg === undefined || !/^[a-z0-9][a-z0-9+.-]+$/.test(pkg)) {
    throw new StanzaError(`${where}: Package must be a Debian package name`);
  }
  if (version === undefined || !isValidVersion(version)) {
    throw new StanzaError(`${where}: Version ${JSON.stringify(version)} is not a Debian version`);
  }
  if (architecture === undefined || !/^[a-z0-9][a-z0-9-]*$/.test(architecture)) {
    throw new StanzaError(
      `${where}: Architecture ${JSON.stringify(architecture)} is not an architecture name`,
    );
  }
  return { package: pkg, version, architecture };
}

/**
 * A total order: name (bytes), version (dpkg), architecture (bytes), then the version's
 * spelling, so that versions dpkg finds equal (`1.0`, `1.0-0`) still sort the same every time.
 */
export function compareStanzaKeys(a: StanzaKey, b: StanzaKey): number {
  return (
    byteOrder(a.package, b.package) ||
    compareVersions(a.version, b.version) ||
    byteOrder(a.architecture, b.architecture) ||
    byteOrder(a.version, b.version)
  );
}

/** Fields of a control paragraph that only an index may set (renderStanza refuses them). */
export function indexFieldProblems(control: Paragraph): FieldProblem[] {
  return control.flatMap(({ name }, index) =>
    INDEX_FIELDS.has(name.toLowerCase())
      ? [{ index, name, problem: `the control paragraph has ${name}, which only an index may set` }]
      : [],
  );
}

/**
 * The Packages stanza of a .deb (ending with "\n", no blank line): its control fields, values
 * verbatim, plus Filename, Size, MD5sum, SHA1, SHA256 and SHA512. Throws StanzaError (or
 * ControlError for a value that cannot be written) naming the package and the problem.
 */
export function renderStanza(input: StanzaInput): string {
  const parsed = v.safeParse(stanzaInputSchema, input);
  const pkg =
    (Array.isArray(input.control) ? getField(input.control, "Package") : undefined) ??
    "<no Package>";
  if (!parsed.success) {
    const issues = parsed.issues.map((i) => `${v.getDotPath(i) ?? "input"}: ${i.message}`);
    throw new StanzaError(`package ${pkg}: ${issues.join("; ")}`);
  }
  const { control, filename, size, md5, sha1, sha256, sha512 } = parsed.output;
  const [indexField] = indexFieldProblems(control);
  if (indexField !== undefined) throw new StanzaError(`package ${pkg}: ${indexField.problem}`);
  stanzaSortKey(control);
  const fields: Field[] = [
    ...control,
    { name: "Filename", value: filename },
    { name: "Size", value: String(size) },
    { name: "MD5sum", value: md5 },
    { name: "SHA1", value: sha1 },
    { name: "SHA256", value: sha256 },
    { name: "SHA512", value: sha512 },
  ];
  return renderParagraph(orderStanzaFields(fields));
}

export interface PackagesEntry {
  readonly key: StanzaKey;
  /** A stanza as renderStanza writes it. */
  readonly stanza: string;
}

/**
 * A Packages file: the stanzas sorted by key (see compareStanzaKeys; ties by stanza text), each
 * followed by a blank line, as dpkg-scanpackages and apt-ftparchive end them. No stanzas, no bytes.
 */
export function renderPackages(entries: readonly PackagesEntry[]): string {
  return [...entries]
    .sort((a, b) => compareStanzaKeys(a.key, b.key) || byteOrder(a.stanza, b.stanza))
    .map((e) => `${e.stanza}\n`)
    .join("");
}
