// Tar archives as dpkg-deb writes and dpkg reads them.
//
// Hand-written rather than tar-stream because tar-stream's packer stores long (>100 byte) and
// non-ASCII names in pax 'x' headers, which dpkg's own unpacker rejects ("unsupported PAX tar
// header type 'x'", verified with dpkg 1.21), and it is stream-only (async). We write exactly
// GNU tar's `--format=gnu` bytes, as `dpkg-deb --build --root-owner-group` does: ustar+GNU magic,
// GNU ././@LongLink ('L'/'K') records for long names and link targets, entries in dpkg-deb's
// order, blocked to 10240 bytes. The reader accepts v7, ustar (prefix), GNU (longname)
// and pax (path/linkpath/size) so that any .deb in the wild can be inspected.
import { DebFormatError, DebSpecError } from "./format-error";

export type TarEntryType =
  | "file"
  | "hardlink"
  | "symlink"
  | "chardev"
  | "blockdev"
  | "directory"
  | "fifo";

export interface TarEntry {
  /** The name as stored (long names resolved), e.g. `./usr/` or `./usr/bin/x`. */
  readonly path: string;
  readonly type: TarEntryType;
  /** Permission bits (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  readonly mtime: number;
  /** Content length of a regular file; 0 for every other type. */
  readonly size: number;
  /** A view into the archive's bytes (empty for non-files). */
  readonly data: Uint8Array;
  /** Target of a symlink or hard link. */
  readonly linkTarget: string | undefined;
}

export type TarInput =
  | {
      readonly path: string;
      readonly type: "file";
      readonly data: Uint8Array;
      readonly mode?: number;
    }
  | { readonly path: string; readonly type: "directory"; readonly mode?: number }
  | { readonly path: string; readonly type: "symlink"; readonly target: string };

export interface TarWriteOptions {
  /** Modification time of every entry, in seconds since the epoch (default 0). */
  readonly mtime?: number;
}

const BLOCK = 512;
const RECORD = 20 * BLOCK; // GNU tar's default blocking factor, as in dpkg-deb's output
const MAX_OCTAL_11 = 8 ** 11; // largest value + 1 of an 11-digit octal field (8 GiB)
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8");
const latin1 = new TextDecoder("latin1");

// ---------------------------------------------------------------------------------------------
// Reading

const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file", // contiguous file: a regular file everywhere that matters
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "directory",
  "6": "fifo",
};

interface Pending {
  path?: string;
  linkpath?: string;
  size?: number;
}

/** Lists a tar archive's entries; throws DebFormatError naming `source` on any defect. */
export function readTar(bytes: Uint8Array, source = "tar archive"): TarEntry[] {
  const entries: TarEntry[] = [];
  let pending: Pending = {};
  let offset = 0;
  for (;;) {
    if (offset >= bytes.length) break; // EOF without end-of-archive blocks: accepted, as GNU tar does
    if (offset + BLOCK > bytes.length) {
      if (isZero(bytes.subarray(offset))) break;
      throw new DebFormatError(
        source,
        `truncated tar header at offset ${offset} (${bytes.length - offset} of ${BLOCK} bytes)`,
      );
    }
    const header = bytes.subarray(offset, offset + BLOCK);
    if (isZero(header)) break; // end-of-archive marker
    const where = `tar header at offset ${offset}`;
    checkChecksum(header, source, where);
    const typeflag = String.fromCharCode(header[156] ?? 0);
    const num = (label: string, start: number, length: number): number =>
      parseNumber(header.subarray(start, start + length), source, `${where}: ${label}`);
    const headerSize = num("size", 124, 12);
    const isMeta = typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g";
    const size = isMeta ? headerSize : (pending.size ?? headerSize);
    const dataStart = offset + BLOCK;
    if (dataStart + size > bytes.length) {
      throw new DebFormatError(
        source,
        `${where}: entry data (${size} bytes) goes beyond the end of the archive (${bytes.length - dataStart} bytes left)`,
      );
    }
    const data = bytes.subarray(dataStart, dataStart + size);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (typeflag === "L" || typeflag === "K") {
      const value = decodeString(data);
      if (typeflag === "L") pending.path = value;
      else pending.linkpath = value;
      continue;
    }
    if (typeflag === "x") {
      pending = { ...pending, ...parsePax(data, source, where) };
      continue;
    }
    if (typeflag === "g") continue; // global pax defaults (comments, charsets): nothing we use
    const type = TYPES[typeflag];
    if (type === undefined) {
      throw new DebFormatError(
        source,
        `${where}: unsupported tar entry type ${JSON.stringify(typeflag)}`,
      );
    }
    const path = pending.path ?? headerName(header);
    // Old (v7) archives mark a directory only by a trailing "/" on a regular-file entry.
    const entryType = typeflag === "\0" && path.endsWith("/") ? "directory" : type;
    const isFile = entryType === "file";
    const linkTarget =
      entryType === "symlink" || entryType === "hardlink"
        ? (pending.linkpath ?? decodeString(header.subarray(157, 257)))
        : undefined;
    entries.push({
      path,
      type: entryType,
      mode: num("mode", 100, 8) & 0o7777,
      uid: num("uid", 108, 8),
      gid: num("gid", 116, 8),
      uname: decodeString(header.subarray(265, 297)),
      gname: decodeString(header.subarray(297, 329)),
      mtime: num("mtime", 136, 12),
      size: isFile ? size : 0,
      data: isFile ? data : new Uint8Array(0),
      linkTarget,
    });
    pending = {};
  }
  if (pending.path !== undefined || pending.linkpath !== undefined) {
    throw new DebFormatError(source, "long-name or pax header at the end, with no entry after it");
  }
  return entries;
}

function headerName(header: Uint8Array): string {
  const name = decodeString(header.subarray(0, 100));
  const magic = latin1.decode(header.subarray(257, 263));
  // Only POSIX ustar has the 155-byte prefix; GNU uses those bytes for other fields.
  if (magic === "ustar\0" && header[345] !== 0) {
    return `${decodeString(header.subarray(345, 500))}/${name}`;
  }
  return name;
}

function checkChecksum(header: Uint8Array, source: string, where: string): void {
  const stored = parseNumber(header.subarray(148, 156), source, `${where}: checksum`);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0);
    unsigned += byte;
    signed += byte >= 0x80 ? byte - 0x100 : byte;
  }
  // Some old tars summed signed chars; GNU tar accepts both, so do we.
  if (stored !== unsigned && stored !== signed) {
    throw new DebFormatError(
      source,
      `${where}: bad header checksum (stored ${stored}, computed ${unsigned}): corrupt or not a tar archive`,
    );
  }
}

/** Octal with optional NUL/space padding, or GNU base-256 (first byte 0x80). */
function parseNumber(field: Uint8Array, source: string, what: string): number {
  if (((field[0] ?? 0) & 0x80) !== 0) {
    if (field[0] !== 0x80) {
      throw new DebFormatError(source, `${what}: negative or invalid base-256 number`);
    }
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + (field[i] ?? 0);
    if (!Number.isSafeInteger(value)) {
      throw new DebFormatError(source, `${what}: base-256 number too large`);
    }
    return value;
  }
  const text = latin1
    .decode(field)
    .replace(/^[ \0]+/, "")
    .replace(/[ \0].*$/s, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) {
    throw new DebFormatError(
      source,
      `${what}: not an octal number: ${JSON.stringify(latin1.decode(field))}`,
    );
  }
  return Number.parseInt(text, 8);
}

function parsePax(data: Uint8Array, source: string, where: string): Pending {
  const result: Pending = {};
  let offset = 0;
  while (offset < data.length) {
    let space = offset;
    while (space < data.length && data[space] !== 0x20) space++;
    const lengthText = latin1.decode(data.subarray(offset, space));
    const length = /^\d+$/.test(lengthText) ? Number.parseInt(lengthText, 10) : Number.NaN;
    if (!(length > space - offset + 2) || offset + length > data.length) {
      if (isZero(data.subarray(offset))) break;
      throw new DebFormatError(source, `${where}: malformed pax extended header record`);
    }
    const record = utf8Decoder.decode(data.subarray(space + 1, offset + length - 1));
    offset += length;
    const equals = record.indexOf("=");
    if (equals < 0) throw new DebFormatError(source, `${where}: malformed pax record (no '=')`);
    const key = record.slice(0, equals);
    const value = record.slice(equals + 1);
    if (key === "path") result.path = value;
    else if (key === "linkpath") result.linkpath = value;
    else if (key === "size") {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new DebFormatError(source, `${where}: invalid pax size ${JSON.stringify(value)}`);
      }
      result.size = Number(value);
    }
  }
  return result;
}

function decodeString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return utf8Decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function isZero(bytes: Uint8Array): boolean {
  for (const byte of bytes) if (byte !== 0) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Writing

/**
 * Splits a path into components, validating it: absolute (`/usr/x`), relative (`usr/x`) and
 * `./`-prefixed (`./usr/x`) spellings are the same path; a trailing "/" is allowed; empty, `.`
 * and `..` components, NUL and other control characters are refused. The root is `[]`.
 */
export function pathComponents(path: string): string[] {
  let rest = path;
  if (rest.startsWith("./")) rest = rest.slice(2);
  else if (rest.startsWith("/")) rest = rest.slice(1);
  else if (rest === ".") rest = "";
  if (rest.endsWith("/")) rest = rest.slice(0, -1);
  if (rest === "") return [];
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(rest)) {
    throw new DebSpecError(`path ${JSON.stringify(path)} contains a control character`);
  }
  const parts = rest.split("/");
  for (const part of parts) {
    if (part === "" || part === "." || part === "..") {
      throw new DebSpecError(`path ${JSON.stringify(path)} has an empty, '.' or '..' component`);
    }
  }
  return parts;
}

/** dpkg-deb's tree-walk order: component by component, bytewise (strcmp on UTF-8). */
export function compareComponents(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    if (x !== y) return Buffer.compare(utf8.encode(x), utf8.encode(y));
  }
  return a.length - b.length;
}

interface Node {
  readonly parts: string[];
  readonly type: "file" | "directory" | "symlink";
  readonly mode: number;
  readonly data: Uint8Array;
  readonly target: string;
}

/**
 * Writes a tar archive reproducibly, byte-identical to GNU tar `--format=gnu` as run by
 * `dpkg-deb --build --root-owner-group`: `./`-prefixed names, the root and missing parent
 * directories added (0755), entries in tree-walk order with symlinks last, uid/gid 0 named root,
 * one fixed mtime. Default modes:
 * directories 0755, files 0644; symlinks are always 0777.
 */
export function writeTar(entries: readonly TarInput[], options: TarWriteOptions = {}): Uint8Array {
  const mtime = options.mtime ?? 0;
  if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime >= MAX_OCTAL_11) {
    throw new DebSpecError(`tar mtime ${mtime} must be an integer in [0, 8^11)`);
  }
  const nodes = new Map<string, Node>();
  const keyOf = (parts: readonly string[]): string => parts.join("/");
  for (const entry of entries) {
    const parts = pathComponents(entry.path);
    const key = keyOf(parts);
    if (nodes.has(key)) throw new DebSpecError(`duplicate path ${JSON.stringify(entry.path)}`);
    if (parts.length === 0 && entry.type !== "directory") {
      throw new DebSpecError(`the root ${JSON.stringify(entry.path)} must be a directory`);
    }
    const mode =
      entry.type === "symlink" ? 0o777 : (entry.mode ?? (entry.type === "file" ? 0o644 : 0o755));
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
      throw new DebSpecError(
        `mode of ${JSON.stringify(entry.path)} must be an integer in [0, 0o7777]`,
      );
    }
    let target = "";
    if (entry.type === "symlink") {
      target = entry.target;
      if (target === "" || target.includes("\0")) {
        throw new DebSpecError(`symlink ${JSON.stringify(entry.path)} needs a target without NUL`);
      }
    }
    const data = entry.type === "file" ? entry.data : new Uint8Array(0);
    if (data.length >= MAX_OCTAL_11) {
      throw new DebSpecError(
        `file ${JSON.stringify(entry.path)} is too large for tar (${data.length} bytes)`,
      );
    }
    nodes.set(key, { parts, type: entry.type, mode, data, target });
  }
  // Parents: added as 0755 directories; an explicit non-directory parent is an error.
  for (const node of [...nodes.values()]) {
    for (let depth = 0; depth < node.parts.length; depth++) {
      const parts = node.parts.slice(0, depth);
      const existing = nodes.get(keyOf(parts));
      if (existing === undefined) {
        nodes.set(keyOf(parts), {
          parts,
          type: "directory",
          mode: 0o755,
          data: new Uint8Array(0),
          target: "",
        });
      } else if (existing.type !== "directory") {
        throw new DebSpecError(
          `${JSON.stringify(`/${keyOf(parts)}`)} is a ${existing.type} but also the parent of ${JSON.stringify(`/${keyOf(node.parts)}`)}`,
        );
      }
    }
  }
  if (!nodes.has("")) {
    nodes.set("", {
      parts: [],
      type: "directory",
      mode: 0o755,
      data: new Uint8Array(0),
      target: "",
    });
  }
  // dpkg-deb writes symlinks after everything else, so that unpacking creates no symlink
  // before its target; each group is in tree-walk order.
  const sorted = [...nodes.values()].sort(
    (a, b) =>
      Number(a.type === "symlink") - Number(b.type === "symlink") ||
      compareComponents(a.parts, b.parts),
  );

  const blocks: Uint8Array[] = [];
  let length = 0;
  const push = (chunk: Uint8Array): void => {
    blocks.push(chunk);
    length += chunk.length;
  };
  for (const node of sorted) {
    const name =
      node.parts.length === 0
        ? "./"
        : `./${node.parts.join("/")}${node.type === "directory" ? "/" : ""}`;
    const nameBytes = utf8.encode(name);
    const targetBytes = utf8.encode(node.target);
    if (nameBytes.length > 100) pushLongLink(push, "L", nameBytes);
    if (targetBytes.length > 100) pushLongLink(push, "K", targetBytes);
    const typeflag = node.type === "file" ? "0" : node.type === "directory" ? "5" : "2";
    push(header(nameBytes, node.mode, node.data.length, mtime, typeflag, targetBytes));
    pushData(push, node.data);
  }
  push(new Uint8Array(2 * BLOCK));
  const total = Math.ceil(length / RECORD) * RECORD;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of blocks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

function pushLongLink(
  push: (chunk: Uint8Array) => void,
  typeflag: "L" | "K",
  value: Uint8Array,
): void {
  const data = new Uint8Array(value.length + 1);
  data.set(value);
  push(header(utf8.encode("././@LongLink"), 0o644, data.length, 0, typeflag, new Uint8Array(0)));
  pushData(push, data);
}

function pushData(push: (chunk: Uint8Array) => void, data: Uint8Array): void {
  if (data.length === 0) return;
  const padded = new Uint8Array(Math.ceil(data.length / BLOCK) * BLOCK);
  padded.set(data);
  push(padded);
}

function header(
  name: Uint8Array,
  mode: number,
  size: number,
  mtime: number,
  typeflag: string,
  linkname: Uint8Array,
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, text: string): void => block.set(utf8.encode(text), offset);
  block.set(name.subarray(0, 100), 0); // GNU tar keeps the first 100 bytes of a long name
  put(100, `${octal(mode, 7)}\0`);
  put(108, `${octal(0, 7)}\0`);
  put(116, `${octal(0, 7)}\0`);
  put(124, `${octal(size, 11)}\0`);
  put(136, `${octal(mtime, 11)}\0`);
  put(148, "        ");
  put(156, typeflag);
  block.set(linkname.subarray(0, 100), 157);
  put(257, "ustar  \0");
  put(265, "root");
  put(297, "root");
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, `${octal(sum, 6)}\0 `);
  return block;
}

function octal(value: number, digits: number): string {
  return value.toString(8).padStart(digits, "0");
}
