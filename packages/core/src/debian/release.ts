// The Release file of a suite (dists/<suite>/Release): what apt trusts, once signed.
//
// Field order is Debian's archive order (dak, and dpkg's Dpkg::Control::FieldsCore for
// CTRL_REPO_RELEASE): Origin, Label, Suite, Codename, Date, Valid-Until, Acquire-By-Hash,
// Architectures, Components, Description, then the hash sections MD5Sum, SHA1, SHA256, SHA512.
// apt-ftparchive (apt 2.6) writes the same fields sorted by name instead; apt reads either.
// Hash lines are apt-ftparchive's: ` <hex> <size right-aligned in 16 columns> <path>`, files
// sorted by path. Dates are RFC 1123 in UTC with the zone spelled `UTC`, as Debian's archive
// writes them (apt-ftparchive writes `+0000`; apt's RFC1123StrToTime accepts GMT, UTC, Z and
// +0000 alike, and nothing else).
import * as v from "valibot";
import { type Field, getField, type Paragraph, parseParagraph, renderParagraph } from "./control";

export const RELEASE_HASHES = ["MD5Sum", "SHA1", "SHA256", "SHA512"] as const;
export type ReleaseHash = (typeof RELEASE_HASHES)[number];

/** What apt fetches by-hash by: the strongest hash listed. */
export const DEFAULT_RELEASE_HASHES: readonly ReleaseHash[] = ["SHA256", "SHA512"];

const HASH_KEY = { MD5Sum: "md5", SHA1: "sha1", SHA256: "sha256", SHA512: "sha512" } as const;
const HEX_LENGTH = { MD5Sum: 32, SHA1: 40, SHA256: 64, SHA512: 128 } as const;

export class ReleaseError extends Error {
  override readonly name = "ReleaseError";
}

// A path below dists/<suite>/: `/`-separated segments, none empty, `.` or `..`, and nothing a
// hash line (split at blanks) or a URL path would mangle.
const RELATIVE_PATH = /^(?!.*(?:^|\/)\.{1,2}(?:\/|$))[A-Za-z0-9._+~-]+(?:\/[A-Za-z0-9._+~-]+)*$/;
// Suite, codename and component names are one path segment each (dists/<suite>/<component>/).
const DIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
// dpkg architecture names; `all` is not one a Release lists (apt would fetch binary-all).
const ARCHITECTURE = /^(?!all$)[a-z0-9][a-z0-9-]*$/;
// A one-line value: printable, no blanks around it.
const ONE_LINE = /^[^\s\p{Cc}](?:[^\n\r\p{Cc}]*[^\s\p{Cc}])?$/u;

const hex = (length: number) =>
  v.pipe(
    v.string(),
    v.regex(new RegExp(`^[0-9a-f]{${length}}$`), `must be ${length} lowercase hex digits`),
  );
const oneLine = v.pipe(
  v.string(),
  v.regex(ONE_LINE, "must be one line of printable text without blanks around it"),
);
const distName = (what: string) =>
  v.pipe(
    v.string(),
    v.regex(DIST_NAME, `${what} must be letters, digits, '.', '_', '-' (one path segment)`),
  );
const date = v.pipe(
  v.date("must be a valid Date"),
  v.check(
    (d) => d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999,
    "must be in years 1970-9999",
  ),
);
const uniqueList = <T extends v.GenericSchema<unknown, string>>(item: T, what: string) =>
  v.pipe(
    v.array(item),
    v.minLength(1, `must list at least one ${what}`),
    v.check((xs) => new Set(xs).size === xs.length, `must not list a ${what} twice`),
  );

export const releaseFileSchema = v.object({
  /** Relative to dists/<suite>/, e.g. `main/binary-amd64/Packages.xz`. */
  path: v.pipe(
    v.string(),
    v.regex(
      RELATIVE_PATH,
      "must be a relative path of [A-Za-z0-9._+~-] segments, without '.' or '..'",
    ),
    v.check((p) => !p.split("/").includes("by-hash"), "must not be a by-hash copy"),
  ),
  size: v.pipe(v.number(), v.safeInteger("must be an integer"), v.minValue(0, "must be >= 0")),
  md5: v.optional(hex(32)),
  sha1: v.optional(hex(40)),
  sha256: v.optional(hex(64)),
  sha512: v.optional(hex(128)),
});

export type ReleaseFile = v.InferOutput<typeof releaseFileSchema>;

export const releaseInputSchema = v.pipe(
  v.object({
    origin: oneLine,
    label: oneLine,
    suite: distName("suite"),
    codename: v.optional(distName("codename")),
    date,
    validUntil: v.optional(date),
    architectures: uniqueList(
      v.pipe(v.string(), v.regex(ARCHITECTURE, "must be a dpkg architecture name other than all")),
      "architecture",
    ),
    components: uniqueList(distName("component"), "component"),
    description: v.optional(oneLine),
    acquireByHash: v.boolean(),
    hashes: v.optional(
      v.pipe(
        uniqueList(v.picklist(RELEASE_HASHES), "hash"),
        v.check(
          (hs) => hs.includes("SHA256") || hs.includes("SHA512"),
          "must include SHA256 or SHA512 (apt refuses a Release with only MD5Sum/SHA1)",
        ),
      ),
      () => [...DEFAULT_RELEASE_HASHES],
    ),
    files: v.pipe(
      v.array(releaseFileSchema),
      v.minLength(1, "must list at least one file"),
      v.check(
        (fs) => new Set(fs.map((f) => f.path)).size === fs.length,
        "must not list a path twice",
      ),
    ),
  }),
  v.forward(
    v.check(
      (r) => r.files.every((f) => r.hashes.every((h) => f[HASH_KEY[h]] !== undefined)),
      (issue) => {
        const r = issue.input;
        const missing = r.files.flatMap((f) =>
          r.hashes.filter((h) => f[HASH_KEY[h]] === undefined).map((h) => `${f.path} has no ${h}`),
        );
        return `every file needs every listed hash: ${missing.join(", ")}`;
      },
    ),
    ["files"],
  ),
  v.forward(
    v.check(
      (r) => r.validUntil === undefined || r.validUntil.getTime() > r.date.getTime(),
      "must be after date",
    ),
    ["validUntil"],
  ),
);

export type ReleaseInput = v.InferInput<typeof releaseInputSchema>;
export type Release = v.InferOutput<typeof releaseInputSchema>;

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** RFC 1123 in UTC, to the second (milliseconds dropped): `Tue, 24 Nov 2026 15:53:56 UTC`. */
export function formatReleaseDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} UTC`;
}

const DATE_RE =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat), (\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d{2}):(\d{2}):(\d{2}) (UTC|GMT|Z|[+-]0000)$/;

/** Reads a Release date as apt does (RFC 1123, UTC zones only); throws ReleaseError. */
export function parseReleaseDate(text: string): Date {
  const m = DATE_RE.exec(text);
  if (m === null) {
    throw new ReleaseError(
      `date ${JSON.stringify(text)} is not RFC 1123 in UTC ("Tue, 24 Nov 2026 15:53:56 UTC")`,
    );
  }
  const [, , day, month, year, hh, mm, ss] = m;
  const d = new Date(
    Date.UTC(
      Number(year),
      MONTHS.indexOf(month ?? ""),
      Number(day),
      Number(hh),
      Number(mm),
      Number(ss),
    ),
  );
  if (d.getUTCDate() !== Number(day) || Number(hh) > 23 || Number(mm) > 59 || Number(ss) > 59) {
    throw new ReleaseError(`date ${JSON.stringify(text)} does not exist`);
  }
  return d;
}

/** Validates a Release input; throws ReleaseError listing every problem with its field. */
export function validateRelease(input: ReleaseInput): Release {
  const parsed = v.safeParse(releaseInputSchema, input);
  if (parsed.success) return parsed.output;
  const issues = parsed.issues.map((i) => `${v.getDotPath(i) ?? "release"}: ${i.message}`);
  throw new ReleaseError(`invalid Release for suite ${String(input?.suite)}: ${issues.join("; ")}`);
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The Release text (see the top of this file for its layout); throws ReleaseError. */
export function renderRelease(input: ReleaseInput): string {
  const r = validateRelease(input);
  const fields: Field[] = [
    { name: "Origin", value: r.origin },
    { name: "Label", value: r.label },
    { name: "Suite", value: r.suite },
  ];
  if (r.codename !== undefined) fields.push({ name: "Codename", value: r.codename });
  fields.push({ name: "Date", value: formatReleaseDate(r.date) });
  if (r.validUntil !== undefined) {
    fields.push({ name: "Valid-Until", value: formatReleaseDate(r.validUntil) });
  }
  if (r.acquireByHash) fields.push({ name: "Acquire-By-Hash", value: "yes" });
  fields.push({ name: "Architectures", value: r.architectures.join(" ") });
  fields.push({ name: "Components", value: r.components.join(" ") });
  if (r.description !== undefined) fields.push({ name: "Description", value: r.description });
  const files = [...r.files].sort((a, b) => byteOrder(a.path, b.path));
  for (const hash of RELEASE_HASHES) {
    if (!r.hashes.includes(hash)) continue;
    const lines = files.map(
      (f) => ` ${f[HASH_KEY[hash]]} ${String(f.size).padStart(16)} ${f.path}`,
    );
    fields.push({ name: hash, value: `\n${lines.join("\n")}` });
  }
  return renderParagraph(fields);
}

const HASH_LINE = /^ ([0-9a-f]+) +(\d+) (\S+)$/;

/**
 * Reads a Release (unsigned; not InRelease) back: the publisher's view of what it last
 * published. Needs Origin, Label, Suite, Date, Architectures, Components and at least one of
 * SHA256/SHA512; throws ReleaseError (or ControlError for broken syntax) naming the problem.
 */
export function parseRelease(text: string, source = "Release"): Release & { fields: Paragraph } {
  if (text.startsWith("-----BEGIN PGP")) {
    throw new ReleaseError(`${source}: is signed (InRelease); pass the Release file`);
  }
  const fields = parseParagraph(text, source);
  const need = (name: string): string => {
    const value = getField(fields, name);
    if (value === undefined) throw new ReleaseError(`${source}: no ${name} field`);
    return value;
  };
  const optional = (name: string) => getField(fields, name);
  const files = new Map<
    string,
    { path: string; size: number } & Partial<Record<(typeof HASH_KEY)[ReleaseHash], string>>
  >();
  const hashes: ReleaseHash[] = [];
  for (const hash of RELEASE_HASHES) {
    const section = optional(hash);
    if (section === undefined) continue;
    hashes.push(hash);
    for (const line of section.split("\n").slice(1)) {
      const m = HASH_LINE.exec(line);
      if (m === null)
        throw new ReleaseError(
          `${source}: ${hash} line ${JSON.stringify(line)} is not " <hex> <size> <path>"`,
        );
      const [, digest = "", sizeText = "", path = ""] = m;
      if (digest.length !== HEX_LENGTH[hash]) {
        throw new ReleaseError(
          `${source}: ${hash} of ${path} has ${digest.length} hex digits, not ${HEX_LENGTH[hash]}`,
        );
      }
      const size = Number(sizeText);
      const file = files.get(path) ?? { path, size };
      if (file.size !== size) {
        throw new ReleaseError(
          `${source}: ${path} has size ${file.size} in one section and ${size} in ${hash}`,
        );
      }
      if (file[HASH_KEY[hash]] !== undefined)
        throw new ReleaseError(`${source}: ${path} is listed twice in ${hash}`);
      file[HASH_KEY[hash]] = digest;
      files.set(path, file);
    }
  }
  const validUntil = optional("Valid-Until");
  const release = validateRelease({
    origin: need("Origin"),
    label: need("Label"),
    suite: need("Suite"),
    codename: optional("Codename"),
    date: parseReleaseDate(need("Date")),
    validUntil: validUntil === undefined ? undefined : parseReleaseDate(validUntil),
    architectures: need("Architectures")
      .split(/\s+/)
      .filter((a) => a !== ""),
    components: need("Components")
      .split(/\s+/)
      .filter((c) => c !== ""),
    description: optional("Description"),
    acquireByHash: /^yes$/i.test(optional("Acquire-By-Hash") ?? "no"),
    hashes,
    files: [...files.values()].sort((a, b) => byteOrder(a.path, b.path)),
  });
  return { ...release, fields };
}

/**
 * The Date of the next Release: five minutes behind `now` (clients with a slow clock reject a
 * Date ahead of theirs), but always at least a second after the previous one (apt ignores a
 * Release older than the one it has), in whole seconds.
 */
export function nextReleaseDate(now: Date, previous?: Date): Date {
  const second = 1000;
  const behind = Math.floor(now.getTime() / second) * second - 5 * 60 * second;
  if (previous === undefined) return new Date(behind);
  const after = Math.floor(previous.getTime() / second) * second + second;
  return new Date(Math.max(behind, after));
}
