// Deterministic compression of index files (Packages.gz, Packages.xz), whole or in
// independently compressed pieces so that a publisher can re-compress only what changed.
//
// gzip: RFC 1952 allows several members in one file; zlib's gzread (apt), `gzip -d` and
// Node's gunzip read them all, so pieces are simply concatenated members.
//
// xz: concatenated .xz *streams* are NOT an option: apt opens .xz files with
// `lzma_auto_decoder(…, 0)` — without LZMA_CONCATENATED — and stops silently after the first
// stream (apt-pkg/contrib/fileutl.cc; `apt-helper cat-file` shows it). So pieces become
// *blocks* of one stream: each piece is compressed on its own (a block starts with a fresh
// LZMA2 dictionary and state), its blocks are lifted out of the encoder's stream, and the
// blocks of all pieces are stitched under one stream header, index and footer (xz file
// format 1.2.1, sections 2 and 4).

import { crc32, deflateRawSync } from "node:zlib";
import { xz as lzma, XzCompressor } from "@napi-rs/lzma";

/** Concatenates byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ID1 ID2 CM=deflate FLG=0 (no name, comment or header CRC) MTIME=0 XFL=2 (level 9) OS=3 (Unix):
// fixed, so the bytes do not depend on the time or on the platform zlib was built for.
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3);

/** One gzip member (mtime 0, no name, OS Unix, deflate level 9): same input, same bytes. */
export function gzip(bytes: Uint8Array): Uint8Array {
  const body = deflateRawSync(bytes, { level: 9 });
  const out = new Uint8Array(GZIP_HEADER.length + body.length + 8);
  out.set(GZIP_HEADER, 0);
  out.set(body, GZIP_HEADER.length);
  const trailer = new DataView(out.buffer, out.byteOffset + GZIP_HEADER.length + body.length, 8);
  trailer.setUint32(0, crc32(bytes), true);
  trailer.setUint32(4, bytes.length >>> 0, true); // ISIZE is the length modulo 2^32
  return out;
}

/**
 * One gzip file made of one member per chunk; decompresses to the concatenated chunks.
 * Equal to `concatBytes(chunks.map(gzip))` (so a caller may cache members per chunk), but
 * for no chunks at all: then one empty member, as an empty file is not gzip.
 */
export function gzipMembers(chunks: readonly Uint8Array[]): Uint8Array {
  return chunks.length === 0 ? gzip(new Uint8Array(0)) : concatBytes(chunks.map(gzip));
}

/**
 * A whole .xz file of `bytes`: one stream, one LZMA2 block, CRC64 (@napi-rs/lzma >= 1.5,
 * lzma-rust2, preset 6; 1.4 wrote stored chunks and no check). Deterministic. Each call costs
 * some milliseconds of set-up (an 8 MiB dictionary), so keep pieces coarse.
 */
export function xz(bytes: Uint8Array): Uint8Array {
  const out = lzma.compressSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.length); // a plain view, not a Buffer
}

/**
 * The blocks of one independently compressed piece of an .xz file, ready to be stitched
 * with others by `joinXzParts`. Keep it to avoid compressing the piece again.
 */
export interface XzPart {
  /** The stream's check type (0 none, 1 CRC32, 4 CRC64, 10 SHA-256); parts must agree. */
  readonly check: number;
  /** The blocks, each with its padding and check, as they sit in a stream. */
  readonly blocks: Uint8Array;
  /** The index records of those blocks, in order. */
  readonly records: readonly XzIndexRecord[];
}

export interface XzIndexRecord {
  /** Block header + compressed data + check, without block padding. */
  readonly unpaddedSize: number;
  readonly uncompressedSize: number;
}

const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00);
const XZ_FOOTER_MAGIC = Uint8Array.of(0x59, 0x5a); // "YZ"

/**
 * Like xzPart, off the main thread (chunks compress in parallel) and at a low preset: a
 * Packages chunk is tens of KiB, and setting up preset 6's 8 MiB dictionary cost ~25 ms per
 * call, far more than compressing the chunk (same output size at preset 1 for such chunks).
 */
export async function xzPartAsync(chunk: Uint8Array, preset = 1): Promise<XzPart> {
  const compressor = new XzCompressor({ preset });
  const head = Uint8Array.from(compressor.update(chunk)); // a view the encoder may reuse
  const tail = await compressor.finish();
  return splitXzStream(concatBytes([head, tail]));
}

/** Compresses one piece into blocks that start from a fresh dictionary. */
export function xzPart(chunk: Uint8Array): XzPart {
  return splitXzStream(xz(chunk));
}

/**
 * One .xz stream holding the blocks of every part, in order: it decompresses to the
 * concatenation of the parts' inputs, with every reader (xz-utils, liblzma without
 * LZMA_CONCATENATED as apt uses it).
 */
export function joinXzParts(parts: readonly XzPart[]): Uint8Array {
  const first = parts[0];
  if (first === undefined) return xz(new Uint8Array(0));
  const check = first.check;
  for (const [i, part] of parts.entries()) {
    if (part.check !== check) {
      throw new Error(`xz part ${i} has check type ${part.check}, part 0 has ${check}`);
    }
  }
  const flags = Uint8Array.of(0, check);
  const header = concatBytes([XZ_MAGIC, flags, uint32le(crc32(flags))]);
  const records = parts.flatMap((p) => p.records);
  const index = encodeIndex(records);
  const backward = uint32le(index.length / 4 - 1);
  const footerBody = concatBytes([backward, flags]);
  const footer = concatBytes([uint32le(crc32(footerBody)), footerBody, XZ_FOOTER_MAGIC]);
  return concatBytes([header, ...parts.map((p) => p.blocks), index, footer]);
}

/** `joinXzParts(chunks.map(xzPart))`: one stream, one independent set of blocks per chunk. */
export function xzBlocks(chunks: readonly Uint8Array[]): Uint8Array {
  return joinXzParts(chunks.map(xzPart));
}

/** Lifts the blocks and index records out of a single-stream .xz file, checking its framing. */
export function splitXzStream(file: Uint8Array): XzPart {
  const fail = (what: string): never => {
    throw new Error(`not a single-stream .xz file: ${what}`);
  };
  if (!startsWith(file, XZ_MAGIC, 0)) fail("bad header magic");
  if (file.length < 32) fail(`${file.length} bytes is too short`);
  const flags = file.subarray(6, 8);
  if (readUint32le(file, 8) !== crc32(flags)) fail("bad header CRC32");
  const check = flags[1] ?? 0;
  if (flags[0] !== 0 || check > 0x0f) fail("bad stream flags");
  const footerAt = file.length - 12;
  if (!startsWith(file, XZ_FOOTER_MAGIC, footerAt + 10)) fail("bad footer magic (or padding)");
  if (readUint32le(file, footerAt) !== crc32(file.subarray(footerAt + 4, footerAt + 10))) {
    fail("bad footer CRC32");
  }
  if (file[footerAt + 8] !== flags[0] || file[footerAt + 9] !== flags[1]) {
    fail("footer flags differ from header flags");
  }
  const indexSize = (readUint32le(file, footerAt + 4) + 1) * 4;
  const indexAt = footerAt - indexSize;
  if (indexAt < 12) fail("index size exceeds the file");
  const index = file.subarray(indexAt, footerAt);
  if (readUint32le(index, indexSize - 4) !== crc32(index.subarray(0, indexSize - 4))) {
    fail("bad index CRC32");
  }
  if (index[0] !== 0) fail("bad index indicator");
  const cursor = { at: 1 };
  const count = readVarint(index, cursor, fail);
  const records: XzIndexRecord[] = [];
  let blocksLength = 0;
  for (let i = 0; i < count; i++) {
    const unpaddedSize = readVarint(index, cursor, fail);
    const uncompressedSize = readVarint(index, cursor, fail);
    records.push({ unpaddedSize, uncompressedSize });
    blocksLength += pad4(unpaddedSize);
  }
  if (pad4(cursor.at) !== indexSize - 4) fail("index records do not fill the index");
  for (let i = cursor.at; i < indexSize - 4; i++) if (index[i] !== 0) fail("bad index padding");
  if (12 + blocksLength !== indexAt) fail("block sizes in the index do not match the file");
  return { check, blocks: file.slice(12, indexAt), records };
}

function encodeIndex(records: readonly XzIndexRecord[]): Uint8Array {
  const bytes: number[] = [0];
  writeVarint(bytes, records.length);
  for (const r of records) {
    writeVarint(bytes, r.unpaddedSize);
    writeVarint(bytes, r.uncompressedSize);
  }
  while (bytes.length % 4 !== 0) bytes.push(0);
  const body = Uint8Array.from(bytes);
  return concatBytes([body, uint32le(crc32(body))]);
}

// xz's multibyte integers: 7 bits per byte, least significant first, high bit = more.
function writeVarint(out: number[], value: number): void {
  let n = value;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

function readVarint(bytes: Uint8Array, cursor: { at: number }, fail: (w: string) => never): number {
  let value = 0;
  for (let i = 0; i < 9; i++) {
    const byte = bytes[cursor.at++];
    if (byte === undefined) return fail("truncated integer in index");
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (byte === 0 && i > 0) fail("non-minimal integer in index");
      if (!Number.isSafeInteger(value)) fail("integer in index too large");
      return value;
    }
  }
  return fail("integer in index longer than 9 bytes");
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

function uint32le(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, true);
  return out;
}

function readUint32le(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (at < 0 || at + prefix.length > bytes.length) return false;
  return prefix.every((b, i) => bytes[at + i] === b);
}
