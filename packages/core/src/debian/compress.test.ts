import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { run, runOk, scratch } from "../testing";
import {
  concatBytes,
  gzip,
  gzipMembers,
  joinXzParts,
  splitXzStream,
  xz,
  xzBlocks,
  xzPart,
} from "./compress";

const tmp = scratch("compress-test-");
afterAll(() => tmp.cleanup());
let fileCounter = 0;

/** Writes bytes to a fresh file in the scratch dir (with the given extension) and returns its path. */
function put(bytes: Uint8Array, ext: string): string {
  const path = join(tmp.dir, `f${fileCounter++}${ext}`);
  writeFileSync(path, bytes);
  return path;
}

/** Runs a decompressor whose stdout is binary; returns the bytes (throws on failure). */
function decompressWith(command: string, args: string[]): Uint8Array {
  const out = join(tmp.dir, `out${fileCounter++}`);
  runOk("sh", ["-c", `"$0" "$@" > '${out}'`, command, ...args]);
  return new Uint8Array(readFileSync(out));
}

// apt's own reader: FileFd picks the decompressor by extension, exactly as for a downloaded index.
const APT_HELPER = "/usr/lib/apt/apt-helper";
function aptRead(paths: string | string[]): Uint8Array {
  return decompressWith(APT_HELPER, ["cat-file", ...(typeof paths === "string" ? [paths] : paths)]);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Decompresses each file with `command <file>` in one shell; the SHA-256 of each output. */
function digestsVia(command: string, paths: string[]): string[] {
  const script = `set -eo pipefail; for f in "$@"; do ${command} "$f" | sha256sum; done`;
  return runOk("bash", ["-c", script, "bash", ...paths])
    .stdout.trim()
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "");
}

const text = (s: string) => new TextEncoder().encode(s);
const packagesLike = text(
  Array.from(
    { length: 400 },
    (_, i) =>
      `Package: pkg${i}\nVersion: 1.${i}-1\nArchitecture: amd64\nMaintainer: Kiro <kiro@example.com>\nDescription: package number ${i}\n\n`,
  ).join(""),
);

// Byte arrays with some repetition, so compressors do real work, including empty ones.
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .array(fc.constantFrom("Package: ", "kiro", "\n", " .\n", "Version: 1.0-1\n", "é"), {
      maxLength: 300,
    })
    .map((parts) => text(parts.join(""))),
);
const chunksArb = fc.array(bytesArb, { maxLength: 6 });

describe("gzip", () => {
  it("writes a fixed header: no name, mtime 0, level-9 flag, OS Unix", () => {
    const out = gzip(packagesLike);
    expect([...out.subarray(0, 10)]).toEqual([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3]);
    expect(gzip(packagesLike)).toEqual(out);
  });

  it("is read back by gzip -dc, gzip -t, zcat and apt, and compresses", () => {
    const out = gzip(packagesLike);
    expect(out.length).toBeLessThan(packagesLike.length / 5);
    const path = put(out, ".gz");
    runOk("gzip", ["-t", path]);
    expect(decompressWith("gzip", ["-dc", path])).toEqual(packagesLike);
    expect(decompressWith("zcat", [path])).toEqual(packagesLike);
    expect(aptRead(path)).toEqual(packagesLike);
    // gzip -l reads the trailer: the uncompressed size must be right
    expect(runOk("gzip", ["-l", path]).stdout).toContain(` ${packagesLike.length} `);
  });

  it("round-trips any bytes through Node's gunzip, deterministically", () => {
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const out = gzip(bytes);
        expect(new Uint8Array(gunzipSync(out))).toEqual(bytes);
        expect(gzip(bytes)).toEqual(out);
      }),
      { numRuns: 500 },
    );
  });

  it("gzipMembers decompresses to the concatenated chunks (Node's gunzip)", () => {
    fc.assert(
      fc.property(chunksArb, (chunks) => {
        const out = gzipMembers(chunks);
        if (chunks.length > 0) expect(out).toEqual(concatBytes(chunks.map(gzip)));
        expect(new Uint8Array(gunzipSync(out))).toEqual(concatBytes(chunks));
      }),
      { numRuns: 300 },
    );
  });

  it("gzipMembers is read whole by gzip -t, gzip -dc and apt (batches of 20 files)", () => {
    fc.assert(
      fc.property(fc.array(chunksArb, { minLength: 20, maxLength: 20 }), (cases) => {
        const paths = cases.map((chunks) => put(gzipMembers(chunks), ".gz"));
        const expected = cases.map((chunks) => sha256(concatBytes(chunks)));
        runOk("gzip", ["-t", ...paths]);
        expect(digestsVia("gzip -dc", paths)).toEqual(expected);
        expect(digestsVia(`${APT_HELPER} cat-file`, paths)).toEqual(expected);
      }),
      { numRuns: 5 },
    );
  });
});

interface XzListing {
  streams: number;
  blocks: number;
  check: string;
  uncompressed: number;
}

/** `xz --robot --list` of files: each file's summary line. */
function xzLists(paths: string[]): XzListing[] {
  return runOk("xz", ["--robot", "--list", ...paths])
    .stdout.split("\n")
    .filter((l) => l.startsWith("file\t"))
    .map((line) => {
      // file <streams> <blocks> <compressed> <uncompressed> <ratio> <check> <padding>
      const f = line.split("\t");
      return {
        streams: Number(f[1]),
        blocks: Number(f[2]),
        uncompressed: Number(f[4]),
        check: f[6] ?? "",
      };
    });
}

function xzList(path: string): XzListing {
  const [listing] = xzLists([path]);
  if (listing === undefined) throw new Error(`no summary in xz --list of ${path}`);
  return listing;
}

describe("xz", () => {
  it("is read back by xz -dc and apt, deterministically", () => {
    const out = xz(packagesLike);
    expect(xz(packagesLike)).toEqual(out);
    const path = put(out, ".xz");
    runOk("xz", ["-t", path]);
    expect(decompressWith("xz", ["-dc", path])).toEqual(packagesLike);
    expect(aptRead(path)).toEqual(packagesLike);
  });

  // @napi-rs/lzma < 1.5 (lzma-rs) writes stored LZMA2 chunks and no check: valid .xz that
  // is as large as its input. 1.5 (lzma-rust2) really compresses, with CRC64 like xz-utils.
  it("really compresses, with the CRC64 check xz-utils uses (needs @napi-rs/lzma >= 1.5)", () => {
    const out = xz(packagesLike);
    const listing = xzList(put(out, ".xz"));
    expect(listing.check).toBe("CRC64");
    expect(out.length).toBeLessThan(packagesLike.length / 5);
  });

  it("splitXzStream then joinXzParts of one part gives back the same file", () => {
    fc.assert(
      fc.property(bytesArb, (bytes) => {
        const whole = xz(bytes);
        expect(joinXzParts([splitXzStream(whole)])).toEqual(whole);
      }),
      { numRuns: 100 },
    );
  });

  it("splitXzStream rejects what is not exactly one stream", () => {
    const one = xz(text("hello\n"));
    expect(() => splitXzStream(concatBytes([one, one]))).toThrow(/single-stream/);
    expect(() => splitXzStream(one.subarray(0, one.length - 1))).toThrow(/single-stream/);
    expect(() => splitXzStream(gzip(text("hello\n")))).toThrow(/header magic/);
    const corrupt = one.slice();
    corrupt[one.length - 13] = (corrupt[one.length - 13] ?? 0) ^ 0xff; // last index byte
    expect(() => splitXzStream(corrupt)).toThrow(/index CRC32/);
  });

  it("joinXzParts refuses parts with different check types", () => {
    const a = xzPart(text("a"));
    expect(() => joinXzParts([a, { ...a, check: a.check === 4 ? 1 : 4 }])).toThrow(/check type/);
  });

  it("xzBlocks is one stream of the chunks' blocks (node)", () => {
    fc.assert(
      fc.property(chunksArb, (chunks) => {
        const out = xzBlocks(chunks);
        expect(out).toEqual(joinXzParts(chunks.map(xzPart)));
        const parts = splitXzStream(out);
        expect(parts.records.reduce((n, r) => n + r.uncompressedSize, 0)).toBe(
          concatBytes(chunks).length,
        );
      }),
      { numRuns: 100 },
    );
  });

  it("xzBlocks decompresses to the concatenated chunks with xz -t, xz -dc, xz --list and apt (batches of 20 files)", () => {
    fc.assert(
      fc.property(fc.array(chunksArb, { minLength: 20, maxLength: 20 }), (cases) => {
        const paths = cases.map((chunks) => put(xzBlocks(chunks), ".xz"));
        const expected = cases.map((chunks) => sha256(concatBytes(chunks)));
        runOk("xz", ["-t", ...paths]);
        expect(digestsVia("xz -dc", paths)).toEqual(expected);
        expect(digestsVia(`${APT_HELPER} cat-file`, paths)).toEqual(expected);
        const listings = xzLists(paths);
        expect(listings.map((l) => l.uncompressed)).toEqual(
          cases.map((c) => concatBytes(c).length),
        );
        expect(listings.every((l) => l.streams === 1)).toBe(true);
      }),
      { numRuns: 5 },
    );
  });

  it("keeps one block per non-empty piece, each compressed on its own", () => {
    const pieces = [packagesLike, text("Package: b\n\n"), packagesLike];
    const path = put(xzBlocks(pieces), ".xz");
    expect(xzList(path).blocks).toBeGreaterThanOrEqual(3);
    expect(decompressWith("xz", ["-dc", path])).toEqual(concatBytes(pieces));
  });

  // Why xzBlocks rather than concatenated streams: apt stops after the first .xz stream.
  // If this ever fails, apt has learned LZMA_CONCATENATED and streams would do as well.
  it("apt (unlike xz-utils) reads only the first of concatenated .xz streams", () => {
    const path = put(concatBytes([xz(text("first\n")), xz(text("second\n"))]), ".xz");
    expect(new TextDecoder().decode(decompressWith("xz", ["-dc", path]))).toBe("first\nsecond\n");
    const apt = run(APT_HELPER, ["cat-file", path]);
    expect(apt.stdout).toBe("first\n");
  });
});
