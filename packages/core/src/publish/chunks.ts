// A Packages index as a sequence of chunks, each compressed on its own (a gzip member, a set of
// xz blocks), so that a change of one stanza recompresses one or two chunks, not the index.
//
// Chunk boundaries are content-defined: a chunk starts at the first entry and at every entry
// whose id hashes to 0 modulo CHUNK_EVERY. The chunking is therefore a function of the set of
// entries alone, never of the history that produced it: an incrementally updated index and
// a full rebuild of the same table are the same bytes.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import {
  concatBytes,
  gzip,
  joinXzParts,
  type XzPart,
  xzPart,
  xzPartAsync,
} from "../debian/compress";
import { compareStanzaKeys } from "../debian/stanza";
import { packageId, packageIdParts } from "../record/schema";
import type { ChunkMeta, FileDigest, Manifest } from "./manifest";

/** Average number of stanzas per chunk. */
export const CHUNK_EVERY = 64;

export interface Entry {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** The rendered stanza, ending with a newline (no blank line). */
  readonly stanza: string;
}

export type EntryKey = Pick<Entry, "name" | "version" | "architecture">;

/** The order of stanzas in an index (the same total order as debian/stanza's). */
export function compareKeys(a: EntryKey, b: EntryKey): number {
  return compareStanzaKeys(
    { package: a.name, version: a.version, architecture: a.architecture },
    { package: b.name, version: b.version, architecture: b.architecture },
  );
}

/** The key of a package id. */
export const keyOfId = (id: string): EntryKey => packageIdParts(id);

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function isBoundary(id: string): boolean {
  return fnv1a(id) % CHUNK_EVERY === 0;
}

/** Splits sorted entries into their canonical chunks. */
export function chunkEntries(sorted: readonly Entry[]): Entry[][] {
  const chunks: Entry[][] = [];
  for (const entry of sorted) {
    const last = chunks.at(-1);
    if (last === undefined || isBoundary(entry.id)) chunks.push([entry]);
    else last.push(entry);
  }
  return chunks;
}

/** An index's compressed files and the manifest that lets the next change splice them. */
export interface IndexFiles {
  readonly gz: Uint8Array;
  readonly xz: Uint8Array;
  /** Size, SHA-256 and SHA-512 of the two files, as the Release lists them. */
  readonly gzHash: FileDigest;
  readonly xzHash: FileDigest;
  /**
   * Size and hashes of the uncompressed Packages. apt only fetches an index whose uncompressed
   * name the Release lists (it then takes a compressed variant), so the Release lists them,
   * though the uncompressed file itself is never uploaded.
   */
  readonly raw: FileDigest;
  readonly manifest: Manifest;
}

function digest(bytes: Uint8Array): FileDigest {
  return {
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    sha512: createHash("sha512").update(bytes).digest("hex"),
  };
}

/** Maps with at most `limit` calls in flight (the native compressor runs on libuv's pool). */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const PARALLEL_CHUNKS = 4;

interface CompressedChunk {
  readonly meta: ChunkMeta;
  readonly gz: Uint8Array;
  readonly xz: XzPart;
  /** The uncompressed text, when at hand (otherwise the gzip member is inflated to hash it). */
  readonly raw?: Uint8Array;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The text of a chunk: each stanza followed by the blank line that separates stanzas. */
function chunkText(entries: readonly Entry[]): string {
  let text = "";
  for (const e of entries) text += `${e.stanza}\n`;
  return text;
}

async function compressChunk(entries: readonly Entry[]): Promise<CompressedChunk> {
  const first = entries[0];
  if (first === undefined) throw new Error("empty chunk");
  const raw = encoder.encode(chunkText(entries));
  const gz = gzip(raw);
  const xz = await xzPartAsync(raw);
  return {
    gz,
    xz,
    raw,
    meta: {
      first: [first.name, first.version, first.architecture],
      count: entries.length,
      own: entries.filter((e) => e.architecture !== "all").length,
      raw: raw.length,
      gz: gz.length,
      xz: xz.blocks.length,
      blocks: xz.records.map((r) => [r.unpaddedSize, r.uncompressedSize]),
    },
  };
}

function assemble(chunks: readonly CompressedChunk[]): IndexFiles {
  const xzCheck = chunks[0]?.xz.check ?? EMPTY_XZ_CHECK;
  const sha256 = createHash("sha256");
  const sha512 = createHash("sha512");
  let size = 0;
  for (const c of chunks) {
    const raw = c.raw ?? gunzipSync(c.gz);
    sha256.update(raw);
    sha512.update(raw);
    size += raw.length;
  }
  const gz = concatBytes(chunks.length === 0 ? [gzip(new Uint8Array(0))] : chunks.map((c) => c.gz));
  const xz = joinXzParts(chunks.map((c) => c.xz));
  return {
    gz,
    xz,
    gzHash: digest(gz),
    xzHash: digest(xz),
    raw: { size, sha256: sha256.digest("hex"), sha512: sha512.digest("hex") },
    manifest: { xzCheck, chunks: chunks.map((c) => c.meta) },
  };
}

const EMPTY_XZ_CHECK = xzPart(new Uint8Array(0)).check;

/** The whole index of these entries (any order): what a full rebuild writes. */
export async function buildIndex(entries: readonly Entry[]): Promise<IndexFiles> {
  const sorted = [...entries].sort(compareKeys);
  return assemble(await mapLimit(chunkEntries(sorted), PARALLEL_CHUNKS, compressChunk));
}

/** Parses the entries of a chunk's text (the stanzas of a Packages file). */
export function parseEntries(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    const stanza = `${block.replace(/\n+$/, "")}\n`;
    const field = (name: string): string => {
      const match = new RegExp(`^${name}: (.*)$`, "m").exec(stanza);
      if (!match?.[1]) throw new Error(`stanza without ${name}: ${stanza.slice(0, 80)}`);
      return match[1];
    };
    const name = field("Package");
    const version = field("Version");
    const architecture = field("Architecture");
    entries.push({
      id: packageId(name, version, architecture),
      name,
      version,
      architecture,
      stanza,
    });
  }
  return entries;
}

/** Previous files of an index, as published, with their manifest. */
export interface PreviousIndex {
  readonly gz: Uint8Array;
  readonly xz: Uint8Array;
  readonly manifest: Manifest;
}

/** What a change does to one id in this index: its new entry, or null to remove it. */
export type Changes = ReadonlyMap<string, Entry | null>;

/**
 * Applies changes to a published index, decompressing and recompressing only the chunks
 * they touch (and each one's predecessor, whose tail may absorb a removed boundary).
 * Returns undefined when nothing changes.
 */
export async function updateIndex(
  previous: PreviousIndex,
  changes: Changes,
): Promise<IndexFiles | undefined> {
  const metas = previous.manifest.chunks;
  const gzAt: number[] = [];
  const xzAt: number[] = [];
  let gzOffset = 0;
  let xzOffset = 12; // after the stream header
  for (const meta of metas) {
    gzAt.push(gzOffset);
    xzAt.push(xzOffset);
    gzOffset += meta.gz;
    xzOffset += meta.xz;
  }
  const old = (i: number): CompressedChunk => {
    const meta = metas[i] as ChunkMeta;
    const at = xzAt[i] as number;
    return {
      meta,
      gz: previous.gz.subarray(gzAt[i], (gzAt[i] as number) + meta.gz),
      xz: {
        check: previous.manifest.xzCheck,
        blocks: previous.xz.subarray(at, at + meta.xz),
        records: meta.blocks.map(([unpaddedSize, uncompressedSize]) => ({
          unpaddedSize,
          uncompressedSize,
        })),
      },
    };
  };
  const entriesOf = (i: number): Entry[] => parseEntries(decoder.decode(gunzipSync(old(i).gz)));

  // The chunk each change falls into: the last whose first key is not after the change's.
  const locate = (key: EntryKey): number => {
    let lo = 0;
    let hi = metas.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [name, version, architecture] = (metas[mid] as ChunkMeta).first;
      if (compareKeys({ name, version, architecture }, key) <= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const changesByChunk = new Map<number, [string, Entry | null][]>();
  for (const [id, entry] of changes) {
    const at = metas.length === 0 ? 0 : locate(entry ?? keyOfId(id));
    const list = changesByChunk.get(at) ?? [];
    list.push([id, entry]);
    changesByChunk.set(at, list);
  }

  // Cheap exit: every change already holds (same stanza present, or absent id removed).
  let effective = false;
  const decoded = new Map<number, Entry[]>();
  for (const [at, list] of changesByChunk) {
    if (metas.length === 0) {
      effective ||= list.some(([, e]) => e !== null);
      continue;
    }
    const entries = entriesOf(at);
    decoded.set(at, entries);
    const byId = new Map(entries.map((e) => [e.id, e.stanza]));
    for (const [id, entry] of list) {
      if (entry === null ? byId.has(id) : byId.get(id) !== entry.stanza) effective = true;
    }
  }
  if (!effective) return undefined;

  const touched = new Set<number>();
  for (const at of changesByChunk.keys()) {
    touched.add(at);
    if (at > 0) touched.add(at - 1);
  }
  const result: (CompressedChunk | Promise<CompressedChunk>)[] = [];
  let i = 0;
  while (i < Math.max(metas.length, 1)) {
    if (!touched.has(i)) {
      result.push(old(i));
      i++;
      continue;
    }
    // A run of touched chunks: merge their entries with the changes and chunk them again.
    const start = i;
    const region = new Map<string, Entry>();
    const regionChanges: [string, Entry | null][] = [];
    while (i < Math.max(metas.length, 1) && touched.has(i)) {
      if (i < metas.length) {
        for (const e of decoded.get(i) ?? entriesOf(i)) region.set(e.id, e);
      }
      regionChanges.push(...(changesByChunk.get(i) ?? []));
      i++;
    }
    for (const [id, entry] of regionChanges) {
      if (entry === null) region.delete(id);
      else region.set(id, entry);
    }
    const sorted = [...region.values()].sort(compareKeys);
    for (const chunk of chunkEntries(sorted)) {
      // An unchanged chunk of the region (typically the predecessor) keeps its bytes.
      const same = reusable(chunk, start, i, metas, changes);
      result.push(same === undefined ? compressChunk(chunk) : old(same));
    }
  }
  return assemble(await Promise.all(result));
}

/** The old chunk in [from, to) that this new chunk equals, if no change touched it. */
function reusable(
  chunk: readonly Entry[],
  from: number,
  to: number,
  metas: readonly ChunkMeta[],
  changes: Changes,
): number | undefined {
  const first = chunk[0];
  if (first === undefined) return undefined;
  for (let j = from; j < to && j < metas.length; j++) {
    const meta = metas[j] as ChunkMeta;
    if (meta.count !== chunk.length) continue;
    const [name, version, architecture] = meta.first;
    if (name !== first.name || version !== first.version || architecture !== first.architecture) {
      continue;
    }
    // Same first entry and size; unchanged only if no change falls inside the chunk's range.
    const last = chunk.at(-1) as Entry;
    const hit = [...changes.entries()].some(([id, entry]) => {
      const key = entry ?? keyOfId(id);
      return compareKeys(key, first) >= 0 && compareKeys(key, last) <= 0;
    });
    return hit ? undefined : j;
  }
  return undefined;
}
