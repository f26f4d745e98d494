// Deterministic fixtures: the i-th package of the benchmark, as a record and its pool object
// (our side: a small payload whose size and hashes the record carries, since the publisher holds
// back a record whose pool file is missing or not its own) and as a small .deb with the same
// control fields (aptly's and reprepro's side).
// Fixture sets are prefixes of one sequence, so the debs built for the largest size serve
// every smaller one.
import { link, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { debHashes, writeDeb } from "@app/core/debian";
import {
  fileAttributes,
  type PackageRecord,
  type PackageRecordInput,
  packageId,
  poolPath,
  recordControl,
  toRecord,
} from "@app/core/record";

const STEMS = [
  "libkiro",
  "python3-kiro",
  "golang-kiro",
  "node-kiro",
  "kiro-plugin",
  "fonts-kiro",
  "kiro-tools",
  "libkiro-dev",
] as const;

const WORDS =
  "editor language server extension completion workspace terminal debugger formatter linter indexer snippet theme keymap remote container notebook preview search refactor".split(
    " ",
  );

interface Identity {
  readonly name: string;
  readonly version: string;
  readonly architecture: "amd64" | "arm64" | "all";
  readonly p: number;
}

/**
 * One version per package: reprepro 5.3 (Debian's) keeps a single version of a package per
 * architecture, so several versions would leave its indexes smaller than ours and aptly's.
 * Records 2p and 2p+1 are package p on amd64 and arm64, or, for every tenth p, two
 * `Architecture: all` packages (p, and p's -doc).
 */
function identity(i: number): Identity {
  const p = Math.floor(i / 2);
  const r = i % 2;
  const base = `${STEMS[p % STEMS.length]}-${p.toString(36)}`;
  const version = `${1 + (p % 7)}.${p % 5}.${p % 13}-1`;
  if (p % 10 === 9)
    return { name: r === 0 ? base : `${base}-doc`, version, architecture: "all", p };
  return { name: base, version, architecture: r === 0 ? "amd64" : "arm64", p };
}

const word = (n: number): string => WORDS[n % WORDS.length] as string;

/** Control attributes of a record (~550 bytes of control, ~950 with Filename and hashes). */
function controlOf(
  id: Identity,
  i: number,
): Omit<PackageRecordInput, "source" | "processed_timestamp"> {
  const { name, version, architecture, p } = id;
  const lines = 2 + (i % 3);
  const extended: string[] = [];
  for (let l = 0; l < lines; l++) {
    extended.push(
      ` The ${word(p + l)} ${word(i + l * 3)} of ${name} integrates with the ${word(p * 7 + l)} and the ${word(l + 11)} of the IDE.`,
    );
    if (l === 1) extended.push(" .");
  }
  return {
    package_id: packageId(name, version, architecture),
    package_name: name,
    version,
    architecture,
    maintainer: "Kiro Team <support@kiro.dev>",
    installed_size: 40 + ((i * 37) % 9000),
    depends:
      p % 3 === 0
        ? "libc6 (>= 2.31), libstdc++6 (>= 10), zlib1g (>= 1:1.2.0)"
        : `libc6 (>= 2.34), ${STEMS[(p + 1) % STEMS.length]}-${(p + 1).toString(36)} (>= 1.0)`,
    ...(p % 4 === 0 ? { recommends: "ca-certificates, git" } : {}),
    section: p % 2 === 0 ? "devel" : "editors",
    priority: "optional",
    homepage: `https://kiro.dev/packages/${name}`,
    description: [`${word(p)} ${word(p + 3)} for Kiro (${name})`, ...extended].join("\n"),
  };
}

/**
 * The pool object of a fixture record: `size` bytes derived from its id. Not a .deb (the
 * publisher only weighs it and compares its ETag); small, so that N of them load quickly.
 */
export function poolObjectOf(record: Pick<PackageRecord, "package_id" | "file_size">): Uint8Array {
  const size = record.file_size ?? 0;
  const line = `${record.package_id}\n`;
  return new Uint8Array(Buffer.from(line.repeat(Math.ceil(size / line.length)).slice(0, size)));
}

/** Filename, size and hashes of a fixture record whose pool object is `size` bytes. */
function fileOf(id: Identity, size: number) {
  const filename = poolPath("main", id.name, id.version, id.architecture);
  const body = poolObjectOf({
    package_id: packageId(id.name, id.version, id.architecture),
    file_size: size,
  });
  return fileAttributes(filename, debHashes(body));
}

/** The i-th record; its pool object is `poolObjectOf(record)`. */
export function fixtureRecord(i: number): PackageRecord {
  const id = identity(i);
  const control = controlOf(id, i);
  return toRecord({
    ...control,
    source: "manual",
    ...fileOf(id, 256 + ((i * 7919) % 1792)),
    processed_timestamp: "2026-01-01T00:00:00.000Z",
  });
}

/**
 * A record that is not among the first `n`: a newer version of a package in the middle of the
 * index (so the change lands in an inner chunk), on amd64 unless told otherwise.
 */
export function extraRecord(
  n: number,
  k: number,
  architecture: "amd64" | "all" = "amd64",
): PackageRecord {
  const base = identity(Math.floor(n / 2));
  const id: Identity = { ...base, version: `99.${k}.0-1`, architecture };
  const control = controlOf(id, n + k);
  return toRecord({
    ...control,
    source: "manual",
    ...fileOf(id, 2048 + k),
    processed_timestamp: new Date().toISOString(),
  });
}

/** The .deb of a record: its control paragraph and one small file (gzip: fast to build). */
export function debOf(record: PackageRecord): Uint8Array {
  return writeDeb({
    control: recordControl(record),
    files: [
      {
        path: `/usr/share/doc/${record.package_name}/README`,
        content: `${record.package_name} ${record.version} (${record.architecture})\n`,
      },
    ],
    compression: "gzip",
  });
}

export const debName = (r: PackageRecord): string =>
  `${r.package_name}_${r.version.replace(/^\d+:/, "")}_${r.architecture}.deb`;

/**
 * Writes the .debs of records [from, to) into `dir` (flat), reporting progress. Returns the
 * file names in order.
 */
export async function writeFixtureDebs(
  dir: string,
  from: number,
  to: number,
  progress: (done: number) => void,
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = from; i < to; i++) {
    const record = fixtureRecord(i);
    const name = debName(record);
    await writeFile(join(dir, name), debOf(record));
    names.push(name);
    if ((i + 1 - from) % 1000 === 0) progress(i + 1 - from);
  }
  return names;
}

/** A directory holding (hard links to) the first `n` debs of `source`, for `aptly repo add`. */
export async function linkDebs(
  source: string,
  names: readonly string[],
  dir: string,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of names) await link(join(source, name), join(dir, name));
}
