// The `!<arch>` container of a .deb (deb(5)): common ar format, 60-byte member headers, member
// data padded to an even offset with "\n". dpkg writes names without the GNU trailing "/" and
// never needs the long-name table, so neither do we; on read a trailing "/" is tolerated.
import { DebFormatError, DebSpecError } from "./format-error";

export interface ArMember {
  readonly name: string;
  /** A view into the archive's bytes (no copy). */
  readonly data: Uint8Array;
  readonly mtime: number;
  readonly uid: number;
  readonly gid: number;
  /** Full st_mode, e.g. 0o100644. */
  readonly mode: number;
}

export const AR_MAGIC = "!<arch>\n";
const HEADER_SIZE = 60;
const FMAG = "`\n";
const latin1 = new TextDecoder("latin1");
const encoder = new TextEncoder();

/** Splits an ar archive into its members; throws DebFormatError naming `source` on any defect. */
export function readAr(bytes: Uint8Array, source = "ar archive"): ArMember[] {
  if (bytes.length < AR_MAGIC.length || latin1.decode(bytes.subarray(0, 8)) !== AR_MAGIC) {
    throw new DebFormatError(source, "not an ar archive (bad magic, expected '!<arch>\\n')");
  }
  const members: ArMember[] = [];
  let offset = AR_MAGIC.length;
  while (offset < bytes.length) {
    const index = members.length;
    if (offset + HEADER_SIZE > bytes.length) {
      throw new DebFormatError(
        source,
        `truncated ar member header #${index + 1} at offset ${offset} (${bytes.length - offset} of ${HEADER_SIZE} bytes)`,
      );
    }
    const header = latin1.decode(bytes.subarray(offset, offset + HEADER_SIZE));
    const where = `ar member #${index + 1} at offset ${offset}`;
    if (header.slice(58, 60) !== FMAG) {
      throw new DebFormatError(source, `${where}: corrupt header (bad terminator)`);
    }
    const name = header.slice(0, 16).trimEnd().replace(/\/$/, "");
    if (name === "" || /[^\x21-\x7e]/.test(name)) {
      throw new DebFormatError(source, `${where}: invalid member name ${JSON.stringify(name)}`);
    }
    const field = (label: string, start: number, end: number, radix: 8 | 10): number =>
      parseField(header.slice(start, end), radix, source, `${where} (${name}): ${label}`);
    const mtime = field("mtime", 16, 28, 10);
    const uid = field("uid", 28, 34, 10);
    const gid = field("gid", 34, 40, 10);
    const mode = field("mode", 40, 48, 8);
    const sizeText = header.slice(48, 58);
    if (!/^\d+ *$/.test(sizeText)) {
      throw new DebFormatError(
        source,
        `${where} (${name}): invalid size ${JSON.stringify(sizeText)}`,
      );
    }
    const size = Number.parseInt(sizeText, 10);
    const start = offset + HEADER_SIZE;
    if (start + size > bytes.length) {
      throw new DebFormatError(
        source,
        `${where} (${name}): size ${size} goes beyond the end of the archive (${bytes.length - start} bytes left)`,
      );
    }
    members.push({ name, data: bytes.subarray(start, start + size), mtime, uid, gid, mode });
    // An odd member is followed by one pad byte; a missing pad at the very end is tolerated.
    offset = start + size + (size % 2);
  }
  return members;
}

function parseField(text: string, radix: 8 | 10, source: string, what: string): number {
  const trimmed = text.trimEnd();
  if (trimmed === "") return 0;
  const pattern = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  if (!pattern.test(trimmed)) {
    throw new DebFormatError(source, `${what} is not a number: ${JSON.stringify(text)}`);
  }
  return Number.parseInt(trimmed, radix);
}

/**
 * Writes an ar archive reproducibly: mtime 0, uid/gid 0, mode 100644, members in the given
 * order. Names are at most 16 printable ASCII characters without "/" (as dpkg writes them).
 */
export function writeAr(members: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const seen = new Set<string>();
  let total = AR_MAGIC.length;
  for (const { name, data } of members) {
    if (!/^[\x21-\x2e\x30-\x7e]{1,16}$/.test(name)) {
      throw new DebSpecError(
        `ar member name ${JSON.stringify(name)} must be 1-16 printable ASCII characters without '/' or spaces`,
      );
    }
    if (seen.has(name)) throw new DebSpecError(`duplicate ar member name ${JSON.stringify(name)}`);
    seen.add(name);
    if (data.length > 9_999_999_999) {
      throw new DebSpecError(`ar member ${name} is too large (${data.length} bytes)`);
    }
    total += HEADER_SIZE + data.length + (data.length % 2);
  }
  const out = new Uint8Array(total);
  out.set(encoder.encode(AR_MAGIC), 0);
  let offset = AR_MAGIC.length;
  for (const { name, data } of members) {
    const header =
      name.padEnd(16) +
      "0".padEnd(12) +
      "0".padEnd(6) +
      "0".padEnd(6) +
      "100644".padEnd(8) +
      String(data.length).padEnd(10) +
      FMAG;
    out.set(encoder.encode(header), offset);
    out.set(data, offset + HEADER_SIZE);
    offset += HEADER_SIZE + data.length;
    if (data.length % 2 === 1) {
      out[offset] = 0x0a;
      offset += 1;
    }
  }
  return out;
}
