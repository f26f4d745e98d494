// A .deb read as it streams past: the ar structure is followed chunk by chunk, the small
// members (debian-binary, control.tar) are kept and the rest (data.tar, hundreds of MB for an
// IDE) only counted, so a package can be checked while it is downloaded and uploaded without
// ever being held whole. The rules are readDeb's: debian-binary first, control.tar next
// ("_" members may sit between), then data.tar; the archive must end on a member boundary.
import { AR_MAGIC } from "./ar";
import { type DebControl, readControlArchive } from "./deb";
import { DebFormatError } from "./format-error";

const HEADER_SIZE = 60;
/** control.tar of real packages is a few KB; anything this large is not a control member. */
export const MAX_CONTROL_MEMBER_BYTES = 16 * 1024 * 1024;

const latin1 = new TextDecoder("latin1");

type Wanted = "debian-binary" | "control" | "data" | "rest";

interface Member {
  readonly name: string;
  readonly size: number;
  /** Bytes of the member still to come (then its pad byte, when the size is odd). */
  remaining: number;
  readonly keep: Uint8Array | undefined;
}

/**
 * Push the bytes of a .deb in order; `control` is set as soon as the control member has been
 * read (before the data arrives), `finish()` checks that the archive was complete. Every
 * defect throws a DebFormatError naming `source`.
 */
export class DebStreamReader {
  #control: DebControl | undefined;
  #magicSeen = 0;
  #header = new Uint8Array(HEADER_SIZE);
  #headerFill = 0;
  #member: Member | undefined;
  #pad = false;
  #wanted: Wanted = "debian-binary";
  #offset = 0;
  #sawData = false;

  constructor(readonly source = "<deb>") {}

  /** The control member, once it has streamed past. */
  get control(): DebControl | undefined {
    return this.#control;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#offset;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#magicSeen < AR_MAGIC.length) {
        const expected = AR_MAGIC.charCodeAt(this.#magicSeen);
        if (chunk[at] !== expected) {
          throw new DebFormatError(
            this.source,
            "not an ar archive (bad magic, expected '!<arch>\\n'): not a Debian binary package",
          );
        }
        this.#magicSeen++;
        at++;
        continue;
      }
      if (this.#pad) {
        // An odd member is followed by one "\n" pad byte.
        this.#pad = false;
        at++;
        continue;
      }
      const member = this.#member;
      if (member === undefined) {
        const take = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFill);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill === HEADER_SIZE) {
          this.#headerFill = 0;
          this.#startMember(this.#offset + at - HEADER_SIZE);
        }
        continue;
      }
      const take = Math.min(member.remaining, chunk.length - at);
      member.keep?.set(chunk.subarray(at, at + take), member.size - member.remaining);
      member.remaining -= take;
      at += take;
      if (member.remaining === 0) this.#endMember(member);
    }
    this.#offset += chunk.length;
  }

  /** Checks the archive ended where a member ends, with its control read; returns the control. */
  finish(): DebControl {
    if (this.#magicSeen < AR_MAGIC.length) {
      throw new DebFormatError(this.source, "not an ar archive (too short for its magic)");
    }
    if (this.#member !== undefined) {
      throw new DebFormatError(
        this.source,
        `truncated: ar member ${JSON.stringify(this.#member.name)} lacks ${this.#member.remaining} of its ${this.#member.size} bytes`,
      );
    }
    if (this.#headerFill > 0) {
      throw new DebFormatError(
        this.source,
        `truncated: the archive ends inside a member header (${this.#headerFill} of ${HEADER_SIZE} bytes)`,
      );
    }
    if (this.#control === undefined) {
      throw new DebFormatError(this.source, "control.tar member is missing");
    }
    if (!this.#sawData) throw new DebFormatError(this.source, "data.tar member is missing");
    return this.#control;
  }

  #startMember(headerOffset: number): void {
    const header = latin1.decode(this.#header);
    const where = `ar member header at offset ${headerOffset}`;
    if (header.slice(58, 60) !== "`\n") {
      throw new DebFormatError(this.source, `${where}: corrupt header (bad terminator)`);
    }
    const name = header.slice(0, 16).trimEnd().replace(/\/$/, "");
    const sizeText = header.slice(48, 58);
    if (!/^\d+ *$/.test(sizeText)) {
      throw new DebFormatError(
        this.source,
        `${where} (${name}): invalid size ${JSON.stringify(sizeText)}`,
      );
    }
    const size = Number.parseInt(sizeText, 10);
    let keep: Uint8Array | undefined;
    switch (this.#wanted) {
      case "debian-binary":
        if (name !== "debian-binary") {
          throw new DebFormatError(
            this.source,
            `first ar member is ${JSON.stringify(name)}, expected debian-binary: not a Debian binary package`,
          );
        }
        if (size > 64) throw new DebFormatError(this.source, "debian-binary is too large");
        keep = new Uint8Array(size);
        break;
      case "control":
        if (name.startsWith("_")) break;
        if (size > MAX_CONTROL_MEMBER_BYTES) {
          throw new DebFormatError(
            this.source,
            `${name} is ${size} bytes; a control member of more than ${MAX_CONTROL_MEMBER_BYTES} is refused`,
          );
        }
        keep = new Uint8Array(size);
        break;
      case "data":
        if (name.startsWith("_")) break;
        if (!name.startsWith("data.tar")) {
          throw new DebFormatError(
            this.source,
            `found ar member ${JSON.stringify(name)} where data.tar[.gz|.xz|.zst] belongs`,
          );
        }
        this.#sawData = true;
        this.#wanted = "rest";
        break;
      case "rest":
        break;
    }
    const member: Member = { name, size, remaining: size, keep };
    this.#member = member;
    if (size === 0) this.#endMember(member);
  }

  #endMember(member: Member): void {
    this.#member = undefined;
    this.#pad = member.size % 2 === 1;
    if (member.keep === undefined) return;
    if (this.#wanted === "debian-binary") {
      const text = latin1.decode(member.keep);
      if (!/^2\.\d+\n/.test(text)) {
        throw new DebFormatError(
          this.source,
          `debian-binary is ${JSON.stringify(text.slice(0, 20))}, expected "2.0\\n" (format version 2)`,
        );
      }
      this.#wanted = "control";
    } else if (this.#wanted === "control") {
      this.#control = readControlArchive(member.name, member.keep, this.source);
      this.#wanted = "data";
    }
  }
}
