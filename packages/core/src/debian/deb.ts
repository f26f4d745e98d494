// Debian binary packages (deb(5)): reading any .deb dpkg reads, and writing one reproducibly.
//
// A .deb is an ar archive of `debian-binary` ("2.0\n"), `control.tar[.gz|.xz|.zst]` and
// `data.tar[.gz|.xz|.zst|.bz2|.lzma]`, in that order; members whose names start with "_" may sit
// between them and anything after data.tar is ignored, as dpkg does. Everything is synchronous:
// every codec we use (node:zlib, @napi-rs/lzma) has a sync form.
import { createHash } from "node:crypto";
import * as zlib from "node:zlib";

import { lzma, xz as lzmaXz } from "@napi-rs/lzma";
import * as v from "valibot";
import { readAr, writeAr } from "./ar";
import { gzip, xz } from "./compress";
import { ControlError, getField, type Paragraph, parseParagraph, renderParagraph } from "./control";
import { DebFormatError, DebSpecError } from "./format-error";
import { pathComponents, readTar, type TarEntryType, type TarInput, writeTar } from "./tar";
import { isValidVersion } from "./version";

// zstd is in node:zlib from Node 22.15 (the project's runtime); looked up at use, so the
// module still loads on an older Node that never meets a zstd member.
function zstd(): Pick<typeof zlib, "zstdCompressSync" | "zstdDecompressSync"> {
  if (typeof zlib.zstdDecompressSync !== "function") {
    throw new Error(`zstd needs Node 22.15 or newer (this is ${process.version})`);
  }
  return zlib;
}

export { DebFormatError, DebSpecError } from "./format-error";

export const MAINTAINER_SCRIPTS = ["preinst", "postinst", "prerm", "postrm", "config"] as const;
export type MaintainerScript = (typeof MAINTAINER_SCRIPTS)[number];

/** How writeDeb compresses control.tar and data.tar ("none" is valid too, and handy to diff). */
export const DEB_COMPRESSIONS = ["xz", "gzip", "zstd", "none"] as const;
export type DebCompression = (typeof DEB_COMPRESSIONS)[number];

const modeSchema = v.pipe(
  v.number(),
  v.integer("must be an integer"),
  v.minValue(0, "must be at least 0"),
  v.maxValue(0o7777, "must be at most 0o7777"),
);

const fileSchema = v.union(
  [
    v.strictObject({
      path: v.string(),
      content: v.union(
        [v.string(), v.custom<Uint8Array>((input) => input instanceof Uint8Array)],
        "must be a string or Uint8Array",
      ),
      mode: v.optional(modeSchema),
    }),
    v.strictObject({ path: v.string(), symlink: v.string() }),
  ],
  "must be { path, content, mode? } or { path, symlink }",
);

export const debSpecSchema = v.strictObject({
  /** The control paragraph; Installed-Size is added unless present. */
  control: v.pipe(v.array(v.strictObject({ name: v.string(), value: v.string() })), v.readonly()),
  scripts: v.optional(
    v.strictObject({
      preinst: v.optional(v.string()),
      postinst: v.optional(v.string()),
      prerm: v.optional(v.string()),
      postrm: v.optional(v.string()),
      config: v.optional(v.string()),
    }),
  ),
  /** Absolute paths under /etc of regular files in `files`. */
  conffiles: v.optional(v.pipe(v.array(v.string()), v.readonly())),
  files: v.pipe(v.array(fileSchema), v.readonly()),
  /** Modification time of every entry, in seconds since the epoch (default DEFAULT_DEB_MTIME). */
  mtime: v.optional(
    v.pipe(v.number(), v.integer("must be an integer"), v.minValue(0), v.maxValue(8 ** 11 - 1)),
  ),
  /**
   * Default xz, as dpkg-deb and lintian expect. @napi-rs/lzma's encoder stores LZMA2 chunks
   * without compressing them (valid .xz, about the input's size): gzip and zstd are smaller.
   */
  compression: v.optional(v.picklist(DEB_COMPRESSIONS)),
});

export type DebSpec = v.InferOutput<typeof debSpecSchema>;
export type DebSpecFile = DebSpec["files"][number];

/**
 * 2024-01-01T00:00:00Z: any fixed time keeps builds reproducible, but not 0, which lintian
 * rejects (package-contains-ancient-file, for anything before 1975).
 */
export const DEFAULT_DEB_MTIME = 1_704_067_200;

export interface DebDataFile {
  /** Absolute, without a trailing slash; the root directory is "/". */
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits. */
  readonly mode: number;
  /** Bytes of a regular file; 0 for anything else. */
  readonly size: number;
  /** Target of a symlink (as stored) or hard link (absolute). */
  readonly linkTarget?: string;
}

export interface DebInfo {
  readonly control: Paragraph;
  /** The control file exactly as stored. */
  readonly controlText: string;
  /** Every control member but control, md5sums and conffiles: maintainer scripts, triggers, … */
  readonly scripts: Readonly<Record<string, string>>;
  /** Lines of the conffiles member (`/etc/x`, or `remove-on-upgrade /etc/x`). */
  readonly conffiles: readonly string[];
  readonly md5sums: string | undefined;
  readonly dataFiles: readonly DebDataFile[];
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");

// ---------------------------------------------------------------------------------------------
// Reading

type Codec = "none" | "gzip" | "xz" | "zstd" | "bzip2" | "lzma";
const CODECS: Record<string, Codec> = {
  "": "none",
  ".gz": "gzip",
  ".xz": "xz",
  ".zst": "zstd",
  ".bz2": "bzip2",
  ".lzma": "lzma",
};

function decompress(codec: Codec, data: Uint8Array, source: string): Uint8Array {
  if (codec === "bzip2") {
    throw new DebFormatError(source, "bzip2-compressed members are not supported");
  }
  try {
    switch (codec) {
      case "none":
        return data;
      case "gzip":
        return zlib.gunzipSync(data);
      case "xz":
        return lzmaXz.decompressSync(data);
      case "lzma":
        return lzma.decompressSync(data);
      case "zstd":
        return zstd().zstdDecompressSync(data);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DebFormatError(source, `cannot decompress (${codec}): ${message}`, { cause: error });
  }
}

/** What a .deb's control member holds (everything of DebInfo but the data files). */
export type DebControl = Omit<DebInfo, "dataFiles">;

/**
 * Reads a control member (`control.tar[.gz|.xz|.zst]`, named as in the ar archive): the control
 * paragraph, maintainer scripts, conffiles and md5sums. Used by readDeb and by the streaming
 * reader, which never holds the rest of the package.
 */
export function readControlArchive(
  memberName: string,
  memberData: Uint8Array,
  source = "<deb>",
): DebControl {
  const codec = memberName.startsWith("control.tar")
    ? CODECS[memberName.slice("control.tar".length)]
    : undefined;
  if (codec === undefined) {
    throw new DebFormatError(
      source,
      `found ar member ${JSON.stringify(memberName)} where control.tar[.gz|.xz|.zst] belongs`,
    );
  }
  const controlSource = `${source}: ${memberName}`;
  const controlEntries = readTar(decompress(codec, memberData, controlSource), controlSource);
  const controlFiles = new Map<string, Uint8Array>();
  for (const entry of controlEntries) {
    if (entry.type !== "file") continue;
    controlFiles.set(entry.path.replace(/^\.?\/+/, ""), entry.data);
  }
  const controlBytes = controlFiles.get("control");
  if (controlBytes === undefined) {
    throw new DebFormatError(controlSource, "no control file in the control archive");
  }
  let controlText: string;
  try {
    controlText = strictUtf8.decode(controlBytes);
  } catch (error) {
    throw new DebFormatError(controlSource, "the control file is not valid UTF-8", {
      cause: error,
    });
  }
  let paragraph: Paragraph;
  try {
    paragraph = parseParagraph(controlText, `${controlSource}: control`);
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    throw new DebFormatError(controlSource, `bad control file: ${error.message}`, { cause: error });
  }
  const scripts: Record<string, string> = {};
  for (const [name, content] of controlFiles) {
    if (name === "control" || name === "md5sums" || name === "conffiles") continue;
    scripts[name] = lenientUtf8.decode(content);
  }
  const conffilesBytes = controlFiles.get("conffiles");
  const conffiles =
    conffilesBytes === undefined
      ? []
      : lenientUtf8
          .decode(conffilesBytes)
          .split("\n")
          .map((line) => line.trim())
          .filter((line) => line !== "");
  const md5sumsBytes = controlFiles.get("md5sums");
  return {
    control: paragraph,
    controlText,
    scripts,
    conffiles,
    md5sums: md5sumsBytes === undefined ? undefined : lenientUtf8.decode(md5sumsBytes),
  };
}

/** Splits a .deb into control and data; throws DebFormatError naming `source` on any defect. */
export function readDeb(bytes: Uint8Array, source = "<deb>"): DebInfo {
  const members = readAr(bytes, source);
  const [first, ...rest] = members;
  if (first?.name !== "debian-binary") {
    throw new DebFormatError(
      source,
      `first ar member is ${first === undefined ? "missing" : JSON.stringify(first.name)}, expected debian-binary: not a Debian binary package`,
    );
  }
  const formatVersion = lenientUtf8.decode(first.data);
  if (!/^2\.\d+\n/.test(formatVersion)) {
    throw new DebFormatError(
      source,
      `debian-binary is ${JSON.stringify(formatVersion.slice(0, 20))}, expected "2.0\\n" (format version 2)`,
    );
  }
  const wanted = (prefix: string): { codec: Codec; data: Uint8Array; name: string } => {
    // Members starting with "_" may precede the one we want; anything else is out of order.
    while (rest[0]?.name.startsWith("_")) rest.shift();
    const member = rest.shift();
    if (member === undefined) throw new DebFormatError(source, `${prefix} member is missing`);
    const codec = member.name.startsWith(prefix)
      ? CODECS[member.name.slice(prefix.length)]
      : undefined;
    if (codec === undefined) {
      throw new DebFormatError(
        source,
        `found ar member ${JSON.stringify(member.name)} where ${prefix}[.gz|.xz|.zst] belongs`,
      );
    }
    return { codec, data: member.data, name: member.name };
  };
  const control = wanted("control.tar");
  const data = wanted("data.tar");
  const dataSource = `${source}: ${data.name}`;
  const controlPart = readControlArchive(control.name, control.data, source);
  const dataEntries = readTar(decompress(data.codec, data.data, dataSource), dataSource);
  const absolute = (path: string): string => `/${path.replace(/^\.?\/+/, "").replace(/\/+$/, "")}`;
  const dataFiles = dataEntries.map((entry): DebDataFile => {
    const file = {
      path: absolute(entry.path),
      type: entry.type,
      mode: entry.mode,
      size: entry.size,
    };
    if (entry.type === "symlink") return { ...file, linkTarget: entry.linkTarget ?? "" };
    if (entry.type === "hardlink") return { ...file, linkTarget: absolute(entry.linkTarget ?? "") };
    return file;
  });
  return { ...controlPart, dataFiles };
}

// ---------------------------------------------------------------------------------------------
// Writing

const PACKAGE_NAME = /^[a-z0-9][a-z0-9+.-]+$/; // policy §5.6.1
const ARCHITECTURE = /^[a-z0-9][a-z0-9-]*$/;
// Fields that precede Installed-Size in apt's and dpkg's canonical orders.
const BEFORE_INSTALLED_SIZE = new Set(
  [
    "Package",
    "Package-Type",
    "Source",
    "Version",
    "Architecture",
    "Multi-Arch",
    "Priority",
    "Essential",
    "Section",
    "Origin",
    "Maintainer",
    "Original-Maintainer",
    "Bugs",
  ].map((name) => name.toLowerCase()),
);

/**
 * Builds a .deb reproducibly (same spec, same bytes): data.tar and control.tar as
 * `dpkg-deb --build --root-owner-group` writes them, md5sums as dh_md5sums writes it (regular
 * files but conffiles), Installed-Size as dpkg-gencontrol computes it. Throws DebSpecError for
 * a spec that cannot make a valid package.
 */
export function writeDeb(spec: DebSpec): Uint8Array {
  const parsed = v.safeParse(debSpecSchema, spec);
  if (!parsed.success) {
    throw new DebSpecError(`invalid .deb spec: ${v.summarize(parsed.issues)}`);
  }
  const { files, mtime = DEFAULT_DEB_MTIME, compression = "xz" } = parsed.output;
  const scripts = parsed.output.scripts ?? {};
  const conffiles = parsed.output.conffiles ?? [];
  checkControl(parsed.output.control);

  const inputs = files.map((file): TarInput => {
    if (!file.path.startsWith("/") || file.path.endsWith("/")) {
      throw new DebSpecError(
        `file path ${JSON.stringify(file.path)} must be absolute and must not end with "/"`,
      );
    }
    if (pathComponents(file.path).length === 0) {
      throw new DebSpecError(`file path ${JSON.stringify(file.path)} is the root directory`);
    }
    if ("symlink" in file) return { path: file.path, type: "symlink", target: file.symlink };
    const data = typeof file.content === "string" ? utf8.encode(file.content) : file.content;
    return { path: file.path, type: "file", data, mode: file.mode ?? 0o644 };
  });
  const dataTar = writeTar(inputs, { mtime });
  const entries = readTar(dataTar, "data.tar");

  const regular = new Map<string, Uint8Array>();
  for (const entry of entries) {
    if (entry.type === "file") regular.set(`/${pathComponents(entry.path).join("/")}`, entry.data);
  }
  const seen = new Set<string>();
  for (const conffile of conffiles) {
    if (!/^\/etc\/[^\s]+$/.test(conffile)) {
      throw new DebSpecError(
        `conffile ${JSON.stringify(conffile)} must be an absolute path under /etc/ without spaces`,
      );
    }
    if (seen.has(conffile)) throw new DebSpecError(`duplicate conffile ${conffile}`);
    seen.add(conffile);
    if (!regular.has(conffile)) {
      throw new DebSpecError(`conffile ${conffile} is not a regular file in the package's files`);
    }
  }

  // dpkg-gencontrol: 1 KiB per directory (the root included), ceil(size/1024) per file or
  // symlink (whose size is its target's length).
  let installedSize = 0;
  for (const entry of entries) {
    if (entry.type === "directory") installedSize += 1;
    else if (entry.type === "symlink") {
      installedSize += Math.ceil(utf8.encode(entry.linkTarget ?? "").length / 1024);
    } else installedSize += Math.ceil(entry.size / 1024);
  }
  const control = withInstalledSize(parsed.output.control, installedSize);

  // dh_md5sums: `md5  path` for regular files but conffiles, paths relative, in byte order.
  const md5sums = [...regular.keys()]
    .filter((path) => !seen.has(path))
    .sort((a, b) => Buffer.compare(utf8.encode(a), utf8.encode(b)))
    .map(
      (path) =>
        `${createHash("md5")
          .update(regular.get(path) ?? new Uint8Array(0))
          .digest("hex")}  ${path.slice(1)}\n`,
    )
    .join("");

  const controlInputs: TarInput[] = [
    { path: "control", type: "file", data: utf8.encode(renderControl(control)) },
  ];
  if (conffiles.length > 0) {
    controlInputs.push({
      path: "conffiles",
      type: "file",
      data: utf8.encode(conffiles.map((c) => `${c}\n`).join("")),
    });
  }
  if (md5sums !== "")
    controlInputs.push({ path: "md5sums", type: "file", data: utf8.encode(md5sums) });
  for (const name of MAINTAINER_SCRIPTS) {
    const script = scripts[name];
    if (script === undefined) continue;
    if (!script.startsWith("#!")) {
      throw new DebSpecError(`${name} script must start with "#!" (an interpreter line)`);
    }
    controlInputs.push({ path: name, type: "file", data: utf8.encode(script), mode: 0o755 });
  }
  const controlTar = writeTar(controlInputs, { mtime });

  const extension = { xz: ".xz", gzip: ".gz", zstd: ".zst", none: "" }[compression];
  return writeAr([
    { name: "debian-binary", data: utf8.encode("2.0\n") },
    { name: `control.tar${extension}`, data: compress(compression, controlTar) },
    { name: `data.tar${extension}`, data: compress(compression, dataTar) },
  ]);
}

function compress(compression: DebCompression, data: Uint8Array): Uint8Array {
  switch (compression) {
    case "none":
      return data;
    case "gzip":
      return gzip(data);
    case "xz":
      return xz(data);
    case "zstd":
      // Level 19 with a content checksum; single-threaded zstd output is deterministic.
      return zstd().zstdCompressSync(data, {
        params: {
          [zlib.constants.ZSTD_c_compressionLevel]: 19,
          [zlib.constants.ZSTD_c_checksumFlag]: 1,
        },
      });
  }
}

function checkControl(control: Paragraph): void {
  const required = ["Package", "Version", "Architecture", "Maintainer", "Description"];
  const missing = required.filter((name) => getField(control, name) === undefined);
  if (missing.length > 0) {
    throw new DebSpecError(`control lacks required field(s): ${missing.join(", ")}`);
  }
  const name = getField(control, "Package") ?? "";
  if (!PACKAGE_NAME.test(name)) {
    throw new DebSpecError(
      `Package ${JSON.stringify(name)} is not a Debian package name (lowercase letters, digits, + - ., at least 2 characters)`,
    );
  }
  const version = getField(control, "Version") ?? "";
  if (!isValidVersion(version))
    throw new DebSpecError(`Version ${JSON.stringify(version)} is not a Debian version`);
  const architecture = getField(control, "Architecture") ?? "";
  if (!ARCHITECTURE.test(architecture)) {
    throw new DebSpecError(
      `Architecture ${JSON.stringify(architecture)} is not an architecture name`,
    );
  }
  const installedSize = getField(control, "Installed-Size");
  if (installedSize !== undefined && !/^\d+$/.test(installedSize)) {
    throw new DebSpecError(
      `Installed-Size ${JSON.stringify(installedSize)} must be a number of KiB`,
    );
  }
}

/** The control with Installed-Size after the identity fields, unless it already has one. */
function withInstalledSize(control: Paragraph, kib: number): Paragraph {
  if (getField(control, "Installed-Size") !== undefined) return control;
  let at = 0;
  while (at < control.length && BEFORE_INSTALLED_SIZE.has(control[at]?.name.toLowerCase() ?? ""))
    at++;
  return [
    ...control.slice(0, at),
    { name: "Installed-Size", value: String(kib) },
    ...control.slice(at),
  ];
}

function renderControl(control: Paragraph): string {
  try {
    return renderParagraph(control);
  } catch (error) {
    if (!(error instanceof ControlError)) throw error;
    throw new DebSpecError(`control: ${error.message}`, { cause: error });
  }
}
