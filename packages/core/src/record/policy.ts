// Debian policy rules for the names a record and the config share: package names,
// architectures, sections, priorities, and the suite and component names that become paths in
// the bucket (`dists/<suite>/<component>/…`, `pool/<component>/…`).
import * as v from "valibot";

/** Debian policy §5.6.1: lowercase letters, digits, `+`, `-`, `.`; at least two characters. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

export function isValidPackageName(name: string): boolean {
  return PACKAGE_NAME.test(name);
}

export const packageNameSchema = v.pipe(
  v.string("must be a string"),
  v.regex(
    PACKAGE_NAME,
    "must be a Debian package name: lowercase letters, digits, + - . (starting with a letter or digit, at least 2 characters)",
  ),
);

/**
 * Architectures this repository may carry: Debian's release architectures plus `all`.
 * A closed list rather than dpkg's hundreds of tuples, so a typo (`x86_64`, `aarch64`) is
 * caught instead of publishing an index no machine reads.
 */
export const KNOWN_ARCHITECTURES = [
  "amd64",
  "arm64",
  "armhf",
  "armel",
  "i386",
  "ppc64el",
  "s390x",
  "riscv64",
  "mips64el",
  "loong64",
  "all",
] as const;

export type Architecture = (typeof KNOWN_ARCHITECTURES)[number];

/** Architectures of machines (everything but `all`): what a Release's Architectures lists. */
export const MACHINE_ARCHITECTURES = KNOWN_ARCHITECTURES.filter(
  (a): a is Exclude<Architecture, "all"> => a !== "all",
);

export const architectureSchema = v.picklist(
  KNOWN_ARCHITECTURES,
  `must be one of ${KNOWN_ARCHITECTURES.join(", ")}`,
);

export const machineArchitectureSchema = v.picklist(
  MACHINE_ARCHITECTURES,
  `must be one of ${MACHINE_ARCHITECTURES.join(", ")} (not all)`,
);

// Suite, codename and component names become path segments: one segment, no `..`.
const DIST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function isValidDistName(name: string): boolean {
  return DIST_NAME.test(name) && !name.includes("..");
}

const distName = (what: string) =>
  v.pipe(
    v.string("must be a string"),
    v.regex(
      DIST_NAME,
      `must be a ${what}: letters, digits, . _ - (starting with a letter or digit)`,
    ),
    v.check((s) => !s.includes(".."), `must be a ${what} without ..`),
  );

/** A suite or codename (`stable`, `bookworm`). */
export const suiteSchema = distName("suite name");
/** A component (`main`); Debian's `updates/main` style with `/` is deliberately not allowed. */
export const componentSchema = distName("component name");

/** The archive sections of Debian policy §2.4 (lintian's `archive-sections`). */
export const KNOWN_SECTIONS = [
  "admin",
  "cli-mono",
  "comm",
  "database",
  "debian-installer",
  "debug",
  "devel",
  "doc",
  "editors",
  "education",
  "electronics",
  "embedded",
  "fonts",
  "games",
  "gnome",
  "gnu-r",
  "gnustep",
  "golang",
  "graphics",
  "hamradio",
  "haskell",
  "httpd",
  "interpreters",
  "introspection",
  "java",
  "javascript",
  "kde",
  "kernel",
  "libdevel",
  "libs",
  "lisp",
  "localization",
  "mail",
  "math",
  "metapackages",
  "misc",
  "net",
  "news",
  "ocaml",
  "oldlibs",
  "otherosfs",
  "perl",
  "php",
  "python",
  "raku",
  "ruby",
  "rust",
  "science",
  "shells",
  "sound",
  "tasks",
  "tex",
  "text",
  "utils",
  "vcs",
  "video",
  "web",
  "x11",
  "xfce",
  "zope",
] as const;

/** Archive areas a section may be prefixed with (`non-free/utils`); `main` is implied. */
export const ARCHIVE_AREAS = ["contrib", "non-free", "non-free-firmware"] as const;

const sectionSet: ReadonlySet<string> = new Set(KNOWN_SECTIONS);
const areaSet: ReadonlySet<string> = new Set(ARCHIVE_AREAS);

export function isValidSection(section: string): boolean {
  const slash = section.indexOf("/");
  if (slash === -1) return sectionSet.has(section);
  return areaSet.has(section.slice(0, slash)) && sectionSet.has(section.slice(slash + 1));
}

export const sectionSchema = v.pipe(
  v.string("must be a string"),
  v.check(
    isValidSection,
    "must be a Debian section (admin, devel, editors, utils, …), optionally prefixed with contrib/, non-free/ or non-free-firmware/",
  ),
);

/** Policy §2.5; `extra` is deprecated (same as optional) but still accepted. */
export const PRIORITIES = ["required", "important", "standard", "optional", "extra"] as const;

export const prioritySchema = v.picklist(PRIORITIES, `must be one of ${PRIORITIES.join(", ")}`);
