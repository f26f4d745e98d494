// The config schemas: `config/packages/<name>.{yaml,json}` (a package's Debian fields and where
// its versions come from) and `config/stages/<stage>.{yaml,json}` (one repository's settings).
// Objects are strict so a misspelt key is an error, not a silently ignored setting.
import * as v from "valibot";
import { versionSchema } from "../debian/version";
import {
  architectureSchema,
  componentSchema,
  machineArchitectureSchema,
  packageNameSchema,
  prioritySchema,
  sectionSchema,
  suiteSchema,
} from "../record/policy";
import { RELATION_FIELDS, type RelationField, relationsSchema } from "./relations";
import {
  TEMPLATE_PLACEHOLDERS,
  type TemplatePlaceholder,
  unknownPlaceholders,
  usesPlaceholder,
} from "./template";

// ---------------------------------------------------------------------------------------------
// Building blocks

/** Levenshtein distance, for "did you mean" on unknown keys. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

function unknownKeyMessage(key: unknown, allowed: readonly string[]): string {
  const name = typeof key === "string" ? key : String(key);
  const close = allowed
    .map((k) => ({ k, d: distance(name, k) }))
    .filter(({ d }) => d <= Math.max(1, Math.floor(name.length / 3)))
    .sort((a, b) => a.d - b.d)[0];
  const hint = close ? `; did you mean ${close.k}?` : "";
  return `unknown key${hint} (allowed: ${allowed.join(", ")})`;
}

/** A strict object whose messages read as config errors. */
function strict<const T extends v.ObjectEntries>(entries: T) {
  const allowed = Object.keys(entries);
  return v.strictObject(entries, (issue) => {
    if (issue.expected === "never") {
      const path = issue.path;
      return unknownKeyMessage(path?.[path.length - 1]?.key, allowed);
    }
    if (issue.received === "undefined") return "is required";
    return `must be a mapping (with keys ${allowed.join(", ")})`;
  });
}

const string = () => v.string("must be a string");

/** Whether `s` holds a C0 control character or DEL other than those in `allowed`. */
function hasControlCharacter(s: string, allowed = ""): boolean {
  for (const ch of s) {
    const c = ch.charCodeAt(0);
    if ((c < 0x20 || c === 0x7f) && !allowed.includes(ch)) return true;
  }
  return false;
}

// Printable text on one line: no control characters (including tab and newline).
const line = () =>
  v.pipe(
    string(),
    v.nonEmpty("must not be empty"),
    v.check((s) => !hasControlCharacter(s), "must be one line without control characters"),
    v.check((s) => s === s.trim(), "must not start or end with white space"),
  );

const list = <T extends v.GenericSchema>(item: T, what: string) =>
  v.pipe(
    v.array(item, `must be a list of ${what}`),
    v.nonEmpty(`must list at least one ${what.replace(/s$/, "")}`),
    v.check(
      (xs) => new Set(xs).size === xs.length,
      `must not list the same ${what.replace(/s$/, "")} twice`,
    ),
  );

function parseUrl(s: string): URL | undefined {
  // URL() quietly trims and encodes; a config value must already be the exact URL.
  if (/\s/.test(s) || hasControlCharacter(s)) return undefined;
  try {
    const url = new URL(s);
    if (url.username || url.password || url.hostname === "") return undefined;
    return url;
  } catch {
    return undefined;
  }
}

const httpsUrl = v.pipe(
  string(),
  v.check((s) => parseUrl(s)?.protocol === "https:", "must be an https URL"),
);

const webUrl = v.pipe(
  string(),
  v.check((s) => {
    const p = parseUrl(s)?.protocol;
    return p === "https:" || p === "http:";
  }, "must be an http or https URL"),
);

/** `Name <email>`, as Debian's Maintainer field; no commas (they separate Uploaders). */
const MAINTAINER = /^[^\s<>,"](?:[^<>,"]*[^\s<>,"])? <[^\s<>@,]+@[^\s<>@,]+>$/;
const maintainerSchema = v.pipe(line(), v.regex(MAINTAINER, 'must be "Name <email@example.org>"'));

const SYNOPSIS_RECOMMENDED_LENGTH = 80;

/** Extended description: free text, normalized (trailing blanks and blank edges dropped). */
const longDescriptionSchema = v.pipe(
  string(),
  v.check(
    (s) => !hasControlCharacter(s, "\n\t"),
    "must not contain control characters other than newline and tab",
  ),
  v.transform((s) =>
    s
      .split("\n")
      .map((l) => l.trimEnd())
      .join("\n")
      .replace(/^\n+|\n+$/g, ""),
  ),
  v.nonEmpty("must not be empty (leave it out instead)"),
  // A lone "." is how a control file writes an empty line; as text it could not round-trip.
  v.check(
    (s) => s.split("\n").every((l) => l.trim() !== "."),
    'must not contain a line that is only "." (write an empty line instead)',
  ),
);

// ---------------------------------------------------------------------------------------------
// Package config

/** EventBridge schedule expressions: `rate(1 hour)`, `rate(15 minutes)`, `cron(…6 fields…)`. */
export function isScheduleExpression(s: string): boolean {
  const rate = /^rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)$/.exec(s);
  if (rate) {
    const plural = rate[2]?.endsWith("s") ?? false;
    return (rate[1] === "1") !== plural;
  }
  const cron = /^cron\((.*)\)$/.exec(s);
  if (!cron) return false;
  const fields = (cron[1] ?? "").split(" ");
  if (fields.length !== 6 || !fields.every((f) => /^[0-9A-Za-z*?,/#L-]+$/.test(f))) return false;
  // Exactly one of day-of-month and day-of-week must be `?`.
  return (fields[2] === "?") !== (fields[4] === "?");
}

const scheduleSchema = v.pipe(
  string(),
  v.check(
    isScheduleExpression,
    'must be "rate(<n> <minute|minutes|hour|hours|day|days>)" or "cron(<6 fields>)"',
  ),
);

export const DEFAULT_SCHEDULE = "rate(1 hour)";

const upstreamKey = v.pipe(
  string(),
  v.regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    "must be an upstream platform name (letters, digits, . _ -)",
  ),
);

/** A .deb larger than this is refused while it downloads (the poller and the import). */
export const DEFAULT_MAX_SIZE_MB = 1024;
const maxSizeMb = v.optional(
  v.pipe(
    v.number("must be a number of megabytes"),
    v.integer("must be a whole number of megabytes"),
    v.minValue(1, "must be at least 1"),
    v.maxValue(5 * 1024, "must be at most 5120 (S3's limit for one copy)"),
  ),
  DEFAULT_MAX_SIZE_MB,
);

/** `AB:CD:…`, as X509Certificate.fingerprint256 prints it; normalized to uppercase. */
const certificateFingerprint = v.pipe(
  string(),
  v.regex(
    /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/,
    "must be a SHA-256 fingerprint: 32 hex pairs separated by colons (openssl x509 -fingerprint -sha256)",
  ),
  v.toUpperCase(),
);

const upstreamSourceSchema = strict({
  type: v.literal("upstream"),
  /** The vendor's release feed. */
  metadata_url: httpsUrl,
  /** Upstream platform names (as they appear in the feed) to Debian architectures. */
  architecture_map: v.optional(v.record(upstreamKey, architectureSchema, "must be a mapping")),
  /** How often the poller reads the feed. */
  schedule: v.optional(scheduleSchema, DEFAULT_SCHEDULE),
  /** Downloads larger than this are refused. */
  max_size_mb: maxSizeMb,
  /**
   * The vendor's signing certificate, as the feed's certificate.pem must be. With a pin, a
   * version without a certificate and signature is refused.
   */
  certificate: v.optional(
    strict({
      sha256_fingerprint: v.optional(certificateFingerprint),
      /** The subject exactly as X509Certificate.subject prints it (`CN=…` lines). */
      subject: v.optional(v.pipe(string(), v.nonEmpty("must not be empty"))),
    }),
  ),
  /** Refuse versions that come without a certificate and signature. */
  require_signature: v.optional(v.boolean("must be true or false"), false),
});

const templateText = v.pipe(
  string(),
  v.check((s) => !s.includes("\r"), "must not contain carriage returns"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const unknown = unknownPlaceholders(dataset.value);
    if (unknown.length > 0) {
      addIssue({
        message: `unknown placeholder ${unknown.map((u) => `{{${u}}}`).join(", ")} (known: ${TEMPLATE_PLACEHOLDERS.map((p) => `{{${p}}}`).join(", ")})`,
      });
    }
  }),
);

const requires = (...names: TemplatePlaceholder[]) =>
  v.check<string, string>(
    (s) => names.every((n) => usesPlaceholder(s, n)),
    `must use ${names.map((n) => `{{${n}}}`).join(" and ")}`,
  );

const scriptTemplate = v.pipe(
  templateText,
  v.check((s) => s.startsWith("#!"), "must start with #! (an interpreter line)"),
);

const buildSourceSchema = strict({
  type: v.literal("build"),
  /** The version to build; when absent the build script increments the newest one. */
  version: v.optional(v.pipe(string(), versionSchema)),
  /** Installed as /usr/share/keyrings/<keyring_name>.gpg, published as <keyring_name>.{gpg,asc}. */
  keyring_name: v.pipe(
    string(),
    v.regex(/^[a-z0-9][a-z0-9.+-]*$/, "must be a file name: lowercase letters, digits, . + -"),
  ),
  /** Installed as /etc/apt/sources.list.d/<sources_name>.sources (apt's file-name rule). */
  sources_name: v.pipe(
    string(),
    v.regex(/^[A-Za-z0-9_.-]+$/, "must be a file name apt reads: letters, digits, _ . -"),
  ),
  templates: strict({
    sources: v.pipe(templateText, requires("repo_url", "keyring_path")),
    postinst: v.optional(scriptTemplate),
    prerm: v.optional(scriptTemplate),
    postrm: v.optional(scriptTemplate),
  }),
});

const manualSourceSchema = strict({
  type: v.literal("manual"),
  /** Imports larger than this are refused. */
  max_size_mb: maxSizeMb,
});

export const SOURCE_TYPES = ["upstream", "build", "manual"] as const;

const sourceSchema = v.variant(
  "type",
  [upstreamSourceSchema, buildSourceSchema, manualSourceSchema],
  (issue) =>
    issue.expected === "Object" || issue.received === "null"
      ? `must be a mapping with a type (${SOURCE_TYPES.join(", ")})`
      : `must be one of ${SOURCE_TYPES.join(", ")}`,
);

const relationEntries = Object.fromEntries(
  RELATION_FIELDS.map((f) => [f, v.optional(relationsSchema(f))]),
) as { [K in RelationField]: v.OptionalSchema<ReturnType<typeof relationsSchema>, undefined> };

type PathKey = string | number;
interface CrossProblem {
  readonly path: readonly [PathKey, ...PathKey[]];
  readonly message: string;
}

/**
 * A check across fields that still runs when other fields are invalid (so every problem is
 * reported at once): `find` gets the raw input and guards the shapes it reads itself.
 */
function crossCheck<T>(find: (input: Record<string, unknown>) => CrossProblem[]) {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    const input = dataset.value;
    if (typeof input !== "object" || input === null) return;
    for (const problem of find(input as Record<string, unknown>)) {
      let parent: unknown = input;
      const path = problem.path.map((key) => {
        const value =
          typeof parent === "object" && parent !== null
            ? (parent as Record<PathKey, unknown>)[key]
            : undefined;
        const item = {
          type: "object" as const,
          origin: "value" as const,
          input: parent as Record<string, unknown>,
          key: String(key),
          value,
        };
        parent = value;
        return item;
      }) as [v.ObjectPathItem, ...v.ObjectPathItem[]];
      addIssue({ message: problem.message, path });
    }
  });
}

const isRecord = (x: unknown): x is Record<string, unknown> =>
  typeof x === "object" && x !== null && !Array.isArray(x);
const stringsOf = (x: unknown): string[] =>
  Array.isArray(x) ? x.filter((s): s is string => typeof s === "string") : [];

const packageObject = strict({
  name: packageNameSchema,
  /** The synopsis: Debian's first Description line. */
  description: line(),
  /** The extended description, plain text; rendered to control-file form by controlDescription. */
  long_description: v.optional(longDescriptionSchema),
  maintainer: maintainerSchema,
  homepage: webUrl,
  section: sectionSchema,
  priority: prioritySchema,
  architectures: list(architectureSchema, "architectures"),
  ...relationEntries,
  source: sourceSchema,
});

export const packageConfigSchema = v.pipe(
  packageObject,
  crossCheck<v.InferOutput<typeof packageObject>>((input) => {
    const problems: CrossProblem[] = [];
    const arches = stringsOf(input.architectures);
    if (arches.includes("all") && arches.length > 1) {
      problems.push({
        path: ["architectures"],
        message:
          "all cannot be combined with other architectures (a package is either arch-independent or not)",
      });
    }
    const source = input.source;
    if (isRecord(source) && source.type === "upstream" && isRecord(source.architecture_map)) {
      for (const [key, arch] of Object.entries(source.architecture_map)) {
        if (
          typeof arch === "string" &&
          Array.isArray(input.architectures) &&
          !arches.includes(arch)
        ) {
          problems.push({
            path: ["source", "architecture_map", key],
            message: `maps to ${arch}, which is not in architectures (${arches.join(", ")})`,
          });
        }
      }
    }
    return problems;
  }),
);

export type PackageConfig = v.InferOutput<typeof packageConfigSchema>;
export type PackageConfigInput = v.InferInput<typeof packageConfigSchema>;
export type PackageSource = PackageConfig["source"];
export type UpstreamSource = Extract<PackageSource, { type: "upstream" }>;
export type BuildSource = Extract<PackageSource, { type: "build" }>;
export type ManualSource = Extract<PackageSource, { type: "manual" }>;

/**
 * The Description control field value: the synopsis, then each extended line with a leading
 * space and ` .` for an empty line (the record's stored form, joined by `\n`).
 */
export function controlDescription(
  pkg: Pick<PackageConfig, "description" | "long_description">,
): string {
  if (pkg.long_description === undefined) return pkg.description;
  const extended = pkg.long_description.split("\n").map((l) => (l.trim() === "" ? " ." : ` ${l}`));
  return [pkg.description, ...extended].join("\n");
}

export interface ConfigWarning {
  readonly path: string;
  readonly message: string;
}

/** What is allowed but discouraged (lintian would complain). */
export function packageWarnings(pkg: PackageConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  if (pkg.description.length > SYNOPSIS_RECOMMENDED_LENGTH) {
    warnings.push({
      path: "description",
      message: `is ${pkg.description.length} characters; Debian recommends at most ${SYNOPSIS_RECOMMENDED_LENGTH} for the synopsis`,
    });
  }
  if (pkg.description.toLowerCase().startsWith(`${pkg.name} `)) {
    warnings.push({ path: "description", message: "should not start with the package name" });
  }
  if (pkg.priority === "extra") {
    warnings.push({ path: "priority", message: "extra is deprecated; use optional" });
  }
  return warnings;
}

// ---------------------------------------------------------------------------------------------
// Stage config

const STAGE_NAME = /^[a-z][a-z0-9-]*$/;
export const stageNameSchema = v.pipe(
  string(),
  v.regex(
    STAGE_NAME,
    "must be a stage name: lowercase letters, digits, - (starting with a letter)",
  ),
);

export const LOCAL_STAGE = "local";

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;

// Characters a repository URL may hold: it is written into shell scripts and sources files
// by the setup package, so no quotes, spaces, `$`, backslashes or backticks.
const REPO_URL_CHARS = /^[A-Za-z0-9:/._~%+@[\]-]+$/;

function repoUrlProblem(s: string, stage: string | undefined): string | undefined {
  const url = parseUrl(s);
  if (!url || !REPO_URL_CHARS.test(s))
    return "must be an http(s) URL of letters, digits and : / . _ ~ % + -";
  if (url.search || url.hash || s.includes("?") || s.includes("#"))
    return "must not have a query or fragment";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && stage === LOCAL_STAGE && LOOPBACK.test(url.hostname))
    return undefined;
  return stage === LOCAL_STAGE
    ? "must be an https URL, or http on the loopback address (http://127.0.0.1:<port>/…)"
    : "must be an https URL";
}

/**
 * Why a URL the poller or the import may download from is refused: https only, but for http on
 * the loopback address in the local stage (a test's or an operator's file server).
 */
export function fetchUrlProblem(s: string, stage: string | undefined): string | undefined {
  const url = parseUrl(s);
  if (url === undefined) return "must be an http(s) URL";
  if (url.protocol === "https:") return undefined;
  if (url.protocol === "http:" && stage === LOCAL_STAGE && LOOPBACK.test(url.hostname))
    return undefined;
  return stage === LOCAL_STAGE
    ? "must be an https URL, or http on the loopback address"
    : "must be an https URL (http only on the loopback address of the local stage)";
}

/** OpenPGP v4 fingerprint: 40 hex digits, normalized to lowercase (as openpgp.js prints them). */
const fingerprintSchema = v.pipe(
  string(),
  v.regex(/^[0-9A-Fa-f]{40}$/, "must be a key fingerprint of 40 hex digits (no spaces)"),
  v.toLowerCase(),
);

const positiveInteger = (what: string) =>
  v.pipe(
    v.number(`must be a number of ${what}`),
    v.integer(`must be a whole number of ${what}`),
    v.minValue(1, `must be at least 1`),
  );

export const DEFAULT_BY_HASH_GRACE_DAYS = 7;

const stageObject = strict({
  stage: stageNameSchema,
  /** Where apt finds the repository; stored without a trailing slash. */
  repo_url: string(),
  suite: suiteSchema,
  codename: v.optional(suiteSchema),
  components: v.optional(list(componentSchema, "components"), ["main"]),
  /** Machine architectures the Release lists (`all` packages appear in each). */
  architectures: list(machineArchitectureSchema, "architectures"),
  /** Release Origin and Label: never change them after launch (apt asks users to confirm). */
  origin: line(),
  label: line(),
  description: line(),
  signing: strict({
    /** Fingerprints of the keys that sign; several during a rotation. */
    key_ids: v.optional(
      v.pipe(
        v.array(fingerprintSchema, "must be a list of fingerprints"),
        v.check((xs) => new Set(xs).size === xs.length, "must not list the same key twice"),
      ),
      [],
    ),
  }),
  /** How long superseded by-hash index files stay, for clients mid-update. */
  by_hash_grace_days: v.optional(positiveInteger("days"), DEFAULT_BY_HASH_GRACE_DAYS),
  /** When set, Release carries Valid-Until = Date + this many days. */
  valid_until_days: v.optional(positiveInteger("days")),
  /**
   * Per upstream package, a feed URL that replaces its metadata_url in this stage (the local
   * stage may point at a file server on the loopback address).
   */
  feed_urls: v.optional(v.record(packageNameSchema, string(), "must be a mapping")),
  /** For records without a suite / component; default: suite and the first component. */
  default_suite: v.optional(suiteSchema),
  default_component: v.optional(componentSchema),
});

export const stageConfigSchema = v.pipe(
  stageObject,
  crossCheck<v.InferOutput<typeof stageObject>>((input) => {
    const problems: CrossProblem[] = [];
    const stage = typeof input.stage === "string" ? input.stage : undefined;
    if (typeof input.repo_url === "string") {
      const problem = repoUrlProblem(input.repo_url, stage);
      if (problem) problems.push({ path: ["repo_url"], message: problem });
    }
    if (isRecord(input.feed_urls)) {
      for (const [name, url] of Object.entries(input.feed_urls)) {
        if (typeof url !== "string") continue;
        const problem = fetchUrlProblem(url, stage);
        if (problem) problems.push({ path: ["feed_urls", name], message: problem });
      }
    }
    const signing = input.signing;
    if (stage !== undefined && stage !== LOCAL_STAGE && isRecord(signing)) {
      if (
        Array.isArray(signing.key_ids)
          ? signing.key_ids.length === 0
          : signing.key_ids === undefined
      ) {
        problems.push({
          path: ["signing", "key_ids"],
          message: "must list at least one key (only the local stage generates its own)",
        });
      }
    }
    const components = input.components === undefined ? ["main"] : stringsOf(input.components);
    if (
      typeof input.default_component === "string" &&
      (input.components === undefined || Array.isArray(input.components)) &&
      !components.includes(input.default_component)
    ) {
      problems.push({
        path: ["default_component"],
        message: `must be one of components (${components.join(", ")})`,
      });
    }
    return problems;
  }),
  v.transform((s) => ({
    ...s,
    repo_url: s.repo_url.replace(/\/+$/, ""),
    default_suite: s.default_suite ?? s.suite,
    default_component: s.default_component ?? (s.components[0] as string),
  })),
);

export type StageConfig = v.InferOutput<typeof stageConfigSchema>;
export type StageConfigInput = v.InferInput<typeof stageConfigSchema>;

/** Placeholders left in a stage: a reserved example host, an all-zero fingerprint. */
export function stageWarnings(stage: StageConfig): ConfigWarning[] {
  const warnings: ConfigWarning[] = [];
  const host = new URL(stage.repo_url).hostname;
  if (/(^|\.)(example|invalid|test)$|^example\.(com|net|org)$/.test(host)) {
    warnings.push({
      path: "repo_url",
      message: `${host} is a placeholder host; set the real one before deploying`,
    });
  }
  stage.signing.key_ids.forEach((id, i) => {
    if (/^0+$/.test(id)) {
      warnings.push({
        path: `signing.key_ids.${i}`,
        message: "is a placeholder fingerprint; set the real one before deploying",
      });
    }
  });
  return warnings;
}
