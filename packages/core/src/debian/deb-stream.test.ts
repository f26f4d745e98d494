import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { debSpec } from "../testing/deb-arbitrary";
import { writeAr } from "./ar";
import { readDeb, writeDeb } from "./deb";
import { DebStreamReader } from "./deb-stream";
import { DebFormatError } from "./format-error";

/** Cuts bytes at the given (sorted, deduplicated) offsets. */
function chunks(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  return out;
}

function readStreamed(bytes: Uint8Array, cuts: readonly number[]) {
  const reader = new DebStreamReader("test.deb");
  for (const chunk of chunks(bytes, cuts)) reader.push(chunk);
  return reader.finish();
}

const cuts = fc.array(fc.nat(), { maxLength: 12 });

describe("DebStreamReader", () => {
  it("reads the control member exactly as readDeb, however the bytes are cut", () => {
    fc.assert(
      fc.property(debSpec, cuts, (spec, at) => {
        const deb = writeDeb(spec);
        const whole = readDeb(deb);
        const streamed = readStreamed(deb, at);
        expect(streamed.control).toEqual(whole.control);
        expect(streamed.controlText).toBe(whole.controlText);
        expect(streamed.scripts).toEqual(whole.scripts);
        expect(streamed.conffiles).toEqual(whole.conffiles);
        expect(streamed.md5sums).toBe(whole.md5sums);
      }),
      { numRuns: 60 },
    );
  });

  it("knows the control before the data member arrives", () => {
    fc.assert(
      fc.property(debSpec, (spec) => {
        const deb = writeDeb(spec);
        const reader = new DebStreamReader();
        // Everything up to data.tar's header: magic + 2 headers + members (+ pads).
        let offset = 8;
        for (let i = 0; i < 2; i++) {
          const size = Number.parseInt(
            new TextDecoder().decode(deb.subarray(offset + 48, offset + 58)),
            10,
          );
          offset += 60 + size + (size % 2);
        }
        reader.push(deb.subarray(0, offset));
        expect(reader.control?.control).toEqual(readDeb(deb).control);
      }),
      { numRuns: 20 },
    );
  });

  it("refuses every truncation (but of a final pad byte)", () => {
    fc.assert(
      fc.property(debSpec, fc.nat(), (spec, n) => {
        const deb = writeDeb(spec);
        const cut = n % deb.length;
        const last = deb.length - 1;
        fc.pre(!(cut === last && deb[last] === 0x0a));
        expect(() => readStreamed(deb.subarray(0, cut), [])).toThrow(DebFormatError);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses what is not a .deb, naming the source", () => {
    const reader = () => new DebStreamReader("x.deb");
    expect(() => reader().push(new TextEncoder().encode("PK\u0003\u0004zip"))).toThrow(
      /x\.deb: not an ar archive/,
    );
    const noDebianBinary = writeAr([{ name: "control.tar", data: new Uint8Array(2) }]);
    expect(() => reader().push(noDebianBinary)).toThrow(/expected debian-binary/);
    const noData = writeAr([
      { name: "debian-binary", data: new TextEncoder().encode("2.0\n") },
      ...readArMembers(writeDeb(minimal())).slice(1, 2),
    ]);
    const r = reader();
    r.push(noData);
    expect(() => r.finish()).toThrow(/data\.tar member is missing/);
  });
});

function minimal() {
  return {
    control: [
      { name: "Package", value: "x1" },
      { name: "Version", value: "1.0" },
      { name: "Architecture", value: "all" },
      { name: "Maintainer", value: "A <a@example.org>" },
      { name: "Description", value: "x" },
    ],
    files: [],
  };
}

function readArMembers(deb: Uint8Array): { name: string; data: Uint8Array }[] {
  const out: { name: string; data: Uint8Array }[] = [];
  let offset = 8;
  const text = new TextDecoder("latin1");
  while (offset < deb.length) {
    const name = text.decode(deb.subarray(offset, offset + 16)).trimEnd();
    const size = Number.parseInt(text.decode(deb.subarray(offset + 48, offset + 58)), 10);
    out.push({ name, data: deb.subarray(offset + 60, offset + 60 + size) });
    offset += 60 + size + (size % 2);
  }
  return out;
}
