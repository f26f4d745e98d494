// The package record: one DynamoDB item per (package, version, architecture). Its schema is
// the boundary every item crosses (stream images, scripts, hand-written put-items), so a
// PackageRecord can only be obtained by parsing: one whose id does not match its parts, or
// whose pool path could escape the pool, cannot be constructed.
import * as v from "valibot";
import { canonicalVersion } from "../debian/canonical-version";
import { valueProblem } from "../debian/control";
import { isValidVersion, versionSchema } from "../debian/version";
import { OPTIONAL_TEXT_ATTRIBUTES } from "./fields";
import { architectureSchema, componentSchema, packageNameSchema, suiteSchema } from "./policy";
import { poolPathProblem } from "./pool";
import { renderingCheck } from "./rendering";

export const RECORD_SOURCES = ["upstream", "build", "manual", "migration"] as const;

/**
 * `<package_name>#<version>#<architecture>`, the version in its canonical form
 * (debian/canonical-version.ts): versions dpkg finds equal (`1.0`, `0:1.0`, `1.0-0`) get one
 * id, so the table's key uniqueness refuses the second. An invalid version is kept as is.
 */
export function packageId(name: string, version: string, architecture: string): string {
  return `${name}#${isValidVersion(version) ? canonicalVersion(version) : version}#${architecture}`;
}

/** The parts of a package id (none of them can hold `#`). */
export function packageIdParts(id: string): {
  name: string;
  version: string;
  architecture: string;
} {
  const [name = "", version = "", architecture = ""] = id.split("#");
  return { name, version, architecture };
}

/**
 * A control field value as it follows `Field: ` in a control file: exactly what the renderer
 * accepts (debian/control.ts), so a valid record's values always render.
 */
export function controlValueProblem(value: string): string | undefined {
  return valueProblem(value);
}

const controlValue = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = controlValueProblem(dataset.value);
    if (problem) addIssue({ message: `not a control field value: ${problem}` });
  }),
);

const FIELD_NAME = /^[!-9;-~][!-9;-~]*$/; // printable ASCII but `:`
const controlFieldName = v.pipe(
  v.string(),
  v.regex(FIELD_NAME, "not a control field name"),
  v.check((n) => !n.startsWith("#") && !n.startsWith("-"), "must not start with # or -"),
);

const hex = (length: number, what: string) =>
  v.pipe(
    v.string(),
    v.regex(new RegExp(`^[0-9a-f]{${length}}$`), `${what}: ${length} lowercase hex digits`),
  );

const poolPathSchema = v.pipe(
  v.string(),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const problem = poolPathProblem(dataset.value);
    if (problem) addIssue({ message: `not a safe pool path: ${problem}` });
  }),
);

// Absolute path of a file a build record installs: no `..`, no empty segments, no control
// characters, so the built .deb can only write where its record says.
const installPath = v.pipe(
  v.string(),
  v.regex(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting them is the point
    /^(\/[^/\0-\x1f\x7f]+)+$/,
    "must be an absolute path without empty segments or control characters",
  ),
  v.check(
    (p) => !p.split("/").some((s) => s === "." || s === ".."),
    "must not contain . or .. segments",
  ),
);

const contentEntry = v.strictObject({
  path: installPath,
  content: v.union([v.string(), v.instance(Uint8Array)]),
  mode: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0o7777))),
});

const SCRIPT_NAMES = ["preinst", "postinst", "prerm", "postrm", "config"] as const;

const optionalText = Object.fromEntries(
  OPTIONAL_TEXT_ATTRIBUTES.map((name) => [name, v.optional(controlValue)]),
) as {
  [K in (typeof OPTIONAL_TEXT_ATTRIBUTES)[number]]: v.OptionalSchema<
    typeof controlValue,
    undefined
  >;
};

const url = v.pipe(v.string(), v.url("must be a URL"));

/** What every record carries, whatever its source. */
const commonEntries = {
  package_id: v.string(),
  package_name: packageNameSchema,
  version: versionSchema,
  architecture: architectureSchema,
  suite: v.optional(suiteSchema),
  component: v.optional(componentSchema),
  maintainer: controlValue,
  description: controlValue,
  installed_size: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
  ...optionalText,
  control_extra: v.optional(v.record(controlFieldName, controlValue)),
  deb_url: v.optional(url),
  actual_filename: v.optional(v.string()),
  certificate_url: v.optional(url),
  signature_url: v.optional(url),
  notes: v.optional(v.string()),
  pub_date: v.optional(v.string()),
  processed_timestamp: v.pipe(
    v.string(),
    v.isoTimestamp("must be an ISO 8601 timestamp with time zone"),
  ),
};

/** The pool file: required on a file-backed record; a build record gets it pinned. */
const fileEntries = {
  filename: poolPathSchema,
  file_size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  md5_hash: hex(32, "MD5"),
  sha1_hash: hex(40, "SHA-1"),
  sha256_hash: hex(64, "SHA-256"),
  sha512_hash: hex(128, "SHA-512"),
};

/** The pool file on a record: what a writer sets, and what the publisher pins on a build. */
export const pinnedFileSchema = v.strictObject(fileEntries);
export type PinnedFile = v.InferOutput<typeof pinnedFileSchema>;

const optionalFileEntries = Object.fromEntries(
  Object.entries(fileEntries).map(([k, schema]) => [k, v.optional(schema)]),
) as { [K in keyof typeof fileEntries]: v.OptionalSchema<(typeof fileEntries)[K], undefined> };

const buildEntries = {
  contents: v.array(contentEntry),
  scripts: v.optional(v.record(v.picklist(SCRIPT_NAMES), v.string())),
  conffiles: v.optional(v.array(installPath)),
};

const FILE_SOURCES = RECORD_SOURCES.filter(
  (s): s is Exclude<(typeof RECORD_SOURCES)[number], "build"> => s !== "build",
);
const ONLY_BUILD = "only a build record carries contents, scripts or conffiles";

/** The message of a missing or unknown attribute (a key issue of the record's object). */
const keyMessage =
  (missing: (key: string) => string) =>
  (issue: v.BaseIssue<unknown>): string => {
    const key = String(issue.path?.at(-1)?.key ?? "");
    return issue.input === undefined ? missing(key) : `unknown attribute ${key}`;
  };

/**
 * The record, discriminated by `source`: a file-backed record (upstream, manual, migration)
 * names its pool file and hashes; a build record carries what it installs instead.
 */
const recordVariant = v.variant(
  "source",
  [
    v.strictObject(
      {
        ...commonEntries,
        source: v.picklist(FILE_SOURCES),
        ...fileEntries,
        contents: v.optional(v.undefined(ONLY_BUILD)),
        scripts: v.optional(v.undefined(ONLY_BUILD)),
        conffiles: v.optional(v.undefined(ONLY_BUILD)),
      },
      keyMessage((key) => (key in fileEntries ? "required unless source is build" : "required")),
    ),
    v.strictObject(
      {
        ...commonEntries,
        source: v.literal("build"),
        ...(Object.fromEntries(
          Object.entries(fileEntries).map(([k, schema]) => [k, v.optional(schema)]),
        ) as {
          [K in keyof typeof fileEntries]: v.OptionalSchema<(typeof fileEntries)[K], undefined>;
        }),
        ...buildEntries,
      },
      keyMessage((key) => (key === "contents" ? "required when source is build" : "required")),
    ),
  ],
  `must be one of ${RECORD_SOURCES.join(", ")}`,
);

type RecordInput = v.InferOutput<typeof recordVariant>;

/** Cross-field rules, each checked only when the fields it reads are valid on their own. */
const CROSS_CHECKS: readonly {
  reads: readonly (keyof RecordInput)[];
  field: keyof RecordInput;
  ok: (r: RecordInput) => boolean;
  message: string | ((r: RecordInput) => string);
}[] = [
  {
    reads: ["package_id", "package_name", "version", "architecture"],
    field: "package_id",
    ok: (r) => r.package_id === packageId(r.package_name, r.version, r.architecture),
    message: (r) =>
      `must be ${packageId(r.package_name, r.version, r.architecture)} (<package_name>#<version>#<architecture>, the version as canonicalVersion spells it)`,
  },
];

/** CROSS_CHECKS as a pipe action over the record's output type `T`. */
const crossChecks = <T>() =>
  v.rawCheck<T>(({ dataset, addIssue }) => {
    const value = dataset.value;
    if (typeof value !== "object" || value === null) return;
    const failed = new Set((dataset.issues ?? []).map((i) => String(i.path?.[0]?.key)));
    const record = value as RecordInput;
    for (const check of CROSS_CHECKS) {
      // A missing field is reported by its own rule (the variant's path may not name it).
      if (check.reads.some((f) => failed.has(f) || record[f] === undefined)) continue;
      if (check.ok(record)) continue;
      addIssue({
        message: typeof check.message === "string" ? check.message : check.message(record),
        path: [
          {
            type: "object",
            origin: "value",
            input: record,
            key: check.field,
            value: record[check.field],
          },
        ],
      });
    }
  });

export const packageRecordSchema = v.pipe(
  recordVariant,
  crossChecks<RecordInput>(),
  renderingCheck<RecordInput>(),
  v.brand("PackageRecord"),
);

/**
 * Every attribute a writer may set, whatever the source (the flat shape writers build). An
 * item whose `source` is missing or unknown is checked against it, so that every other failed
 * field is reported too.
 */
const recordInputShape = v.strictObject(
  {
    ...commonEntries,
    source: v.picklist(RECORD_SOURCES, `must be one of ${RECORD_SOURCES.join(", ")}`),
    ...optionalFileEntries,
    contents: v.optional(buildEntries.contents),
    scripts: buildEntries.scripts,
    conffiles: buildEntries.conffiles,
  },
  keyMessage(() => "required"),
);
const flatRecordSchema = v.pipe(
  recordInputShape,
  crossChecks<v.InferOutput<typeof recordInputShape>>(),
  renderingCheck<v.InferOutput<typeof recordInputShape>>(),
);

export type PackageRecord = v.InferOutput<typeof packageRecordSchema>;
/** The plain shape of a record, before validation (what writers build). */
export type PackageRecordInput = v.InferInput<typeof recordInputShape>;

export interface RecordIssue {
  /** Dotted attribute path, e.g. `filename` or `control_extra.X-Foo`; `(item)` for the whole. */
  readonly field: string;
  readonly message: string;
}

export type RecordResult =
  | { readonly ok: true; readonly record: PackageRecord }
  | { readonly ok: false; readonly key: string; readonly issues: readonly RecordIssue[] };

/** Validates an item, collecting every failed field, and names it by its key. */
export function parseRecord(item: unknown): RecordResult {
  const result = v.safeParse(packageRecordSchema, item, { abortEarly: false });
  if (result.success) return { ok: true, record: result.output };
  // Without a valid source the variant checks nothing else: the flat shape names the rest.
  const issues = result.issues.some((i) => i.type === "variant")
    ? (v.safeParse(flatRecordSchema, item, { abortEarly: false }).issues ?? result.issues)
    : result.issues;
  return {
    ok: false,
    key: describeKey(item),
    issues: issues.map((issue) => ({
      field: v.getDotPath(issue) ?? "(item)",
      message: issue.message,
    })),
  };
}

export class RecordError extends Error {
  constructor(
    readonly key: string,
    readonly issues: readonly RecordIssue[],
  ) {
    super(`invalid record ${key}: ${issues.map((i) => `${i.field}: ${i.message}`).join("; ")}`);
    this.name = "RecordError";
  }
}

/** Like parseRecord, but throws a RecordError naming the key and every failed field. */
export function toRecord(item: unknown): PackageRecord {
  const result = parseRecord(item);
  if (!result.ok) throw new RecordError(result.key, result.issues);
  return result.record;
}

function describeKey(item: unknown): string {
  if (typeof item === "object" && item !== null && "package_id" in item) {
    const id = (item as { package_id: unknown }).package_id;
    if (typeof id === "string") return JSON.stringify(id);
  }
  return "(no package_id)";
}
