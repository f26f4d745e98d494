// The shapes the chunked indexes leave in the publisher's state, apart from the compressor
// (chunks.ts) so that state.ts and its readers load no native xz module: a file's digest as a
// Release lists it, and an index's chunk manifest (what the next change needs to splice).
import * as v from "valibot";

/** Size, SHA-256 and SHA-512 of a file, as the Release lists it (the one digest shape). */
export const fileDigestSchema = v.strictObject({
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  sha256: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
  sha512: v.pipe(v.string(), v.regex(/^[0-9a-f]{128}$/)),
});
export type FileDigest = v.InferOutput<typeof fileDigestSchema>;

const chunkMetaSchema = v.strictObject({
  /** Key of the chunk's first entry: [name, version, architecture]. */
  first: v.tuple([v.string(), v.string(), v.string()]),
  count: v.pipe(v.number(), v.integer(), v.minValue(1)),
  /** Entries that are not Architecture: all (an architecture is present while any has some). */
  own: v.pipe(v.number(), v.integer(), v.minValue(0)),
  raw: v.pipe(v.number(), v.integer(), v.minValue(0)),
  gz: v.pipe(v.number(), v.integer(), v.minValue(1)),
  xz: v.pipe(v.number(), v.integer(), v.minValue(0)),
  /** The chunk's xz index records: [unpadded size, uncompressed size] per block. */
  blocks: v.array(v.tuple([v.number(), v.number()])),
});

export const manifestSchema = v.strictObject({
  xzCheck: v.number(),
  chunks: v.array(chunkMetaSchema),
});

export type ChunkMeta = v.InferOutput<typeof chunkMetaSchema>;
export type Manifest = v.InferOutput<typeof manifestSchema>;
