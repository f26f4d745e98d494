/**
 * The stream poller's checkpoint: per shard, the sequence number of the last record that was
 * processed for good (handled, or dead-lettered), and whether a closed shard is finished.
 *
 *     { "version": 1, "streamArn": "arn:…/stream/2026-…",
 *       "shards": { "shardId-…": { "sequenceNumber": "000…42" },
 *                   "shardId-…": { "sequenceNumber": "000…40", "finished": true } } }
 *
 * Written atomically (temporary file in the same directory, fsync, rename, fsync of the
 * directory), so a crash leaves either the old or the new checkpoint, never a torn one. A
 * restart resumes AFTER_SEQUENCE_NUMBER of each shard: nothing processed is delivered again and
 * nothing unprocessed is skipped. A checkpoint that exists but does not parse is an error
 * naming the file (guessing would replay or skip the whole stream).
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync } from "node:fs";
import { mkdir, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as v from "valibot";
import { SequenceNumberSchema, ShardIdSchema } from "./dynamodb-streams";

export const ShardCheckpointSchema = v.strictObject({
  /** The last record of this shard that needs no further processing. */
  sequenceNumber: v.optional(SequenceNumberSchema),
  /** The shard is closed and every record of it is processed: its children may start. */
  finished: v.optional(v.literal(true)),
});
export type ShardCheckpoint = v.InferOutput<typeof ShardCheckpointSchema>;

export const CheckpointSchema = v.strictObject({
  version: v.literal(1),
  streamArn: v.pipe(v.string(), v.nonEmpty()),
  shards: v.pipe(
    v.custom<Record<string, unknown>>(
      (input) => typeof input === "object" && input !== null && !Array.isArray(input),
      "shards is an object",
    ),
    // v.record() silently drops keys such as "constructor": check the raw keys first.
    v.check(
      (shards) => Object.keys(shards).every((key) => v.is(ShardIdSchema, key)),
      (issue) =>
        `not a shard id: ${Object.keys(issue.input)
          .filter((key) => !v.is(ShardIdSchema, key))
          .join(", ")}`,
    ),
    v.record(ShardIdSchema, ShardCheckpointSchema),
  ),
});
export type Checkpoint = v.InferOutput<typeof CheckpointSchema>;

/** Parses checkpoint text; `where` names the source in errors. */
export function parseCheckpoint(text: string, where: string): Checkpoint {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`${where}: not JSON (${(error as Error).message})`);
  }
  const parsed = v.safeParse(CheckpointSchema, json);
  if (!parsed.success) {
    const issues = parsed.issues.map((issue) => {
      const path = v.getDotPath(issue);
      return path ? `${path}: ${issue.message}` : issue.message;
    });
    throw new Error(`${where}: not a stream checkpoint: ${issues.join("; ")}`);
  }
  return parsed.output;
}

/**
 * Reads a checkpoint file; `undefined` when there is none yet. Synchronous on purpose: the
 * poller reads it once, at start, so a broken file fails `startStreamPoller` itself.
 */
export function readCheckpointSync(file: string): Checkpoint | undefined {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read the stream checkpoint ${file}: ${(error as Error).message}`);
  }
  return parseCheckpoint(
    text,
    `stream checkpoint ${file} (delete it to reprocess the stream from its oldest record)`,
  );
}

/** Replaces `file` with `data` atomically and durably. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const directory = dirname(file);
  await mkdir(directory, { recursive: true });
  const temporary = join(directory, `.${basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(data, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  // Make the rename itself durable.
  const fd = openSync(directory, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function writeCheckpoint(file: string, checkpoint: Checkpoint): Promise<void> {
  // Validate what we write too: a checkpoint we could not read back is worse than none.
  const text = `${JSON.stringify(v.parse(CheckpointSchema, checkpoint), null, 2)}\n`;
  await writeFileAtomic(file, text);
}
