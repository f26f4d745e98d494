// Test support (not exported from the module): ways to break exactly one field of a valid
// config, each with the dotted path the error must name.

import type { PackageConfigInput, StageConfigInput } from "../config/schema";
import { MACHINE_ARCHITECTURES } from "../record/policy";

type Json = Record<string, unknown>;

export interface Mutation<T> {
  readonly label: string;
  /** The field the error must name. */
  readonly path: string;
  /** Other paths the same change may legitimately break (a cross-field rule). */
  readonly alsoAffects?: readonly string[];
  readonly applies?: (config: T) => boolean;
  readonly mutate: (config: T) => unknown;
}

const clone = <T>(x: T): Json => structuredClone(x) as unknown as Json;

function set<T>(path: string, value: unknown): (config: T) => unknown {
  return (config) => {
    const copy = clone(config);
    const keys = path.split(".");
    let target: Json = copy;
    for (const key of keys.slice(0, -1)) target = target[key] as Json;
    target[keys[keys.length - 1] as string] = value;
    return copy;
  };
}

function remove<T>(path: string): (config: T) => unknown {
  return (config) => {
    const copy = clone(config);
    const keys = path.split(".");
    let target: Json = copy;
    for (const key of keys.slice(0, -1)) target = target[key] as Json;
    delete target[keys[keys.length - 1] as string];
    return copy;
  };
}

const sourceIs = (type: string) => (c: PackageConfigInput) => c.source.type === type;

export const packageMutations: readonly Mutation<PackageConfigInput>[] = [
  { label: "uppercase name", path: "name", mutate: set("name", "Kiro") },
  { label: "one-letter name", path: "name", mutate: set("name", "k") },
  { label: "name with _", path: "name", mutate: set("name", "kiro_ide") },
  { label: "missing name", path: "name", mutate: remove("name") },
  { label: "empty description", path: "description", mutate: set("description", "") },
  { label: "two-line description", path: "description", mutate: set("description", "one\ntwo") },
  { label: "padded description", path: "description", mutate: set("description", " padded") },
  { label: "numeric description", path: "description", mutate: set("description", 1.5) },
  {
    label: "control char in long description",
    path: "long_description",
    mutate: set("long_description", "a\u0007b"),
  },
  { label: "lone dot line", path: "long_description", mutate: set("long_description", "a\n.\nb") },
  {
    label: "blank long description",
    path: "long_description",
    mutate: set("long_description", "\n  \n"),
  },
  { label: "maintainer without email", path: "maintainer", mutate: set("maintainer", "Kiro Team") },
  {
    label: "maintainer with comma",
    path: "maintainer",
    mutate: set("maintainer", "Kiro, Team <a@b.c>"),
  },
  { label: "missing maintainer", path: "maintainer", mutate: remove("maintainer") },
  { label: "ftp homepage", path: "homepage", mutate: set("homepage", "ftp://kiro.dev") },
  { label: "homepage not a URL", path: "homepage", mutate: set("homepage", "kiro.dev") },
  { label: "unknown section", path: "section", mutate: set("section", "editor") },
  { label: "main/ section", path: "section", mutate: set("section", "main/devel") },
  { label: "unknown priority", path: "priority", mutate: set("priority", "high") },
  {
    label: "no architectures",
    path: "architectures",
    alsoAffects: ["source.architecture_map"],
    mutate: set("architectures", []),
  },
  {
    label: "architectures not a list",
    path: "architectures",
    alsoAffects: ["source.architecture_map"],
    mutate: set("architectures", "amd64"),
  },
  {
    label: "x86_64",
    path: "architectures.0",
    alsoAffects: ["source.architecture_map"],
    mutate: set("architectures", ["x86_64"]),
  },
  {
    label: "repeated architecture",
    path: "architectures",
    applies: (c) => c.architectures[0] !== "all",
    mutate: (c) => set("architectures", [...c.architectures, c.architectures[0]])(c),
  },
  {
    label: "all with others",
    path: "architectures",
    alsoAffects: ["source.architecture_map"],
    mutate: set("architectures", ["all", "amd64"]),
  },
  { label: "deprecated >", path: "depends", mutate: set("depends", "libc6 (> 2.0)") },
  { label: "uppercase dependency", path: "depends", mutate: set("depends", ["Libc6"]) },
  { label: "stray comma", path: "recommends", mutate: set("recommends", "a,,b") },
  { label: "alternatives in conflicts", path: "conflicts", mutate: set("conflicts", "a | b") },
  {
    label: "bad version in replaces",
    path: "replaces",
    mutate: set("replaces", "a (<< 1.0 beta)"),
  },
  { label: "versioned >= provides", path: "provides", mutate: set("provides", "a (>= 1)") },
  { label: "relation as number", path: "depends", mutate: set("depends", 3) },
  { label: "unknown source type", path: "source.type", mutate: set("source.type", "ftp") },
  { label: "source not a mapping", path: "source", mutate: set("source", "upstream") },
  { label: "missing source", path: "source", mutate: remove("source") },
  {
    label: "http metadata_url",
    path: "source.metadata_url",
    applies: sourceIs("upstream"),
    mutate: set("source.metadata_url", "http://prod.download.desktop.kiro.dev/x.json"),
  },
  {
    label: "missing metadata_url",
    path: "source.metadata_url",
    applies: sourceIs("upstream"),
    mutate: remove("source.metadata_url"),
  },
  {
    label: "rate with wrong plural",
    path: "source.schedule",
    applies: sourceIs("upstream"),
    mutate: set("source.schedule", "rate(1 hours)"),
  },
  {
    label: "cron with 5 fields",
    path: "source.schedule",
    applies: sourceIs("upstream"),
    mutate: set("source.schedule", "cron(0 * * * ?)"),
  },
  {
    label: "map to an architecture not built",
    path: "source.architecture_map.linux-odd",
    applies: (c) => c.source.type === "upstream" && !c.architectures.includes("s390x"),
    mutate: (c) => set("source.architecture_map", { "linux-odd": "s390x" })(c),
  },
  {
    label: "map to an unknown architecture",
    path: "source.architecture_map.x64",
    applies: sourceIs("upstream"),
    mutate: set("source.architecture_map", { x64: "x86_64" }),
  },
  {
    label: "bad build version",
    path: "source.version",
    applies: sourceIs("build"),
    mutate: set("source.version", "v1.0"),
  },
  {
    label: "numeric build version",
    path: "source.version",
    applies: sourceIs("build"),
    mutate: set("source.version", 2),
  },
  {
    label: "keyring name with space",
    path: "source.keyring_name",
    applies: sourceIs("build"),
    mutate: set("source.keyring_name", "kiro keyring"),
  },
  {
    label: "sources name with slash",
    path: "source.sources_name",
    applies: sourceIs("build"),
    mutate: set("source.sources_name", "../kiro"),
  },
  {
    label: "sources without repo_url",
    path: "source.templates.sources",
    applies: sourceIs("build"),
    mutate: set("source.templates.sources", "Types: deb\nSigned-By: {{keyring_path}}\n"),
  },
  {
    label: "unknown placeholder",
    path: "source.templates.sources",
    applies: sourceIs("build"),
    mutate: set(
      "source.templates.sources",
      "URIs: {{repo_uri}}\nURIs: {{repo_url}}\nSigned-By: {{keyring_path}}\n",
    ),
  },
  {
    label: "script without #!",
    path: "source.templates.postinst",
    applies: sourceIs("build"),
    mutate: set("source.templates.postinst", "set -e\n"),
  },
  {
    label: "script with CRLF",
    path: "source.templates.postrm",
    applies: sourceIs("build"),
    mutate: set("source.templates.postrm", "#!/bin/sh\r\nexit 0\r\n"),
  },
  {
    label: "unknown template",
    path: "source.templates.preinst",
    applies: sourceIs("build"),
    mutate: set("source.templates.preinst", "#!/bin/sh\n"),
  },
  {
    label: "manual with a url",
    path: "source.metadata_url",
    applies: sourceIs("manual"),
    mutate: set("source.metadata_url", "https://x.org"),
  },
  { label: "misspelt key", path: "maintainr", mutate: set("maintainr", "A <a@b.c>") },
  { label: "unknown relation field", path: "depend", mutate: set("depend", "a") },
];

const isLocal = (c: StageConfigInput) => c.stage === "local";
const firstMissingArch = (c: StageConfigInput) =>
  MACHINE_ARCHITECTURES.find((a) => !c.architectures.includes(a));

export const stageMutations: readonly Mutation<StageConfigInput>[] = [
  {
    label: "uppercase stage",
    path: "stage",
    alsoAffects: ["repo_url", "signing.key_ids"],
    mutate: set("stage", "Prod"),
  },
  {
    label: "missing stage",
    path: "stage",
    alsoAffects: ["repo_url", "signing.key_ids"],
    mutate: remove("stage"),
  },
  { label: "ftp repo_url", path: "repo_url", mutate: set("repo_url", "ftp://apt.kiro.dev") },
  {
    label: "repo_url with query",
    path: "repo_url",
    mutate: set("repo_url", "https://apt.kiro.dev/?x=1"),
  },
  {
    label: "repo_url with quote",
    path: "repo_url",
    mutate: set("repo_url", "https://apt.kiro.dev/it's"),
  },
  {
    label: "repo_url with credentials",
    path: "repo_url",
    mutate: set("repo_url", "https://u:p@apt.kiro.dev"),
  },
  {
    label: "http repo_url outside local",
    path: "repo_url",
    applies: (c) => !isLocal(c),
    mutate: set("repo_url", "http://127.0.0.1:8080/x"),
  },
  {
    label: "http to a remote host in local",
    path: "repo_url",
    applies: isLocal,
    mutate: set("repo_url", "http://10.0.0.1:8080/x"),
  },
  { label: "suite with slash", path: "suite", mutate: set("suite", "stable/updates") },
  { label: "suite ..", path: "suite", mutate: set("suite", "..") },
  { label: "codename with space", path: "codename", mutate: set("codename", "book worm") },
  {
    label: "no components",
    path: "components",
    alsoAffects: ["default_component"],
    mutate: set("components", []),
  },
  {
    label: "repeated component",
    path: "components",
    alsoAffects: ["default_component"],
    mutate: set("components", ["main", "main"]),
  },
  {
    label: "component with slash",
    path: "components.0",
    alsoAffects: ["default_component"],
    mutate: set("components", ["updates/main"]),
  },
  { label: "architecture all", path: "architectures.0", mutate: set("architectures", ["all"]) },
  { label: "no architectures", path: "architectures", mutate: set("architectures", []) },
  { label: "empty origin", path: "origin", mutate: set("origin", "") },
  { label: "two-line label", path: "label", mutate: set("label", "Kiro\nEvil: yes") },
  { label: "missing description", path: "description", mutate: remove("description") },
  {
    label: "short fingerprint",
    path: "signing.key_ids.0",
    mutate: set("signing.key_ids", ["ABCDEF12"]),
  },
  {
    label: "spaced fingerprint",
    path: "signing.key_ids.0",
    mutate: set("signing.key_ids", ["ABCD EF12 ABCD EF12 ABCD EF12 ABCD EF12 ABCD EF12"]),
  },
  {
    label: "no keys outside local",
    path: "signing.key_ids",
    applies: (c) => !isLocal(c),
    mutate: set("signing.key_ids", []),
  },
  {
    label: "same key twice",
    path: "signing.key_ids",
    mutate: set("signing.key_ids", ["a".repeat(40), "A".repeat(40)]),
  },
  { label: "missing signing", path: "signing", mutate: remove("signing") },
  { label: "zero grace", path: "by_hash_grace_days", mutate: set("by_hash_grace_days", 0) },
  { label: "fractional grace", path: "by_hash_grace_days", mutate: set("by_hash_grace_days", 1.5) },
  { label: "grace as text", path: "by_hash_grace_days", mutate: set("by_hash_grace_days", "7") },
  { label: "zero valid-until", path: "valid_until_days", mutate: set("valid_until_days", 0) },
  {
    label: "default component not listed",
    path: "default_component",
    mutate: (c) => set("default_component", `x${(c.components ?? ["main"]).join("")}`)(c),
  },
  { label: "default suite with slash", path: "default_suite", mutate: set("default_suite", "a/b") },
  {
    label: "unknown architecture",
    path: "architectures.0",
    applies: (c) => firstMissingArch(c) !== undefined,
    mutate: set("architectures", ["arm"]),
  },
  { label: "misspelt key", path: "lable", mutate: set("lable", "Kiro") },
];
