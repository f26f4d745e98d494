import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { scratch } from "../../../core/src/testing/index";
import {
  type Checkpoint,
  parseCheckpoint,
  readCheckpointSync,
  writeCheckpoint,
  writeFileAtomic,
} from "./checkpoint";

const tmp = scratch("checkpoint-test-");
const SHARD = "shardId-00000001795536054233-38ff2f99";
afterAll(() => tmp.cleanup());

const sequenceNumber = fc.stringMatching(/^\d{1,40}$/);
const checkpointArb: fc.Arbitrary<Checkpoint> = fc.record({
  version: fc.constant(1 as const),
  streamArn: fc.string({ minLength: 1 }),
  shards: fc.dictionary(
    fc.stringMatching(/^[A-Za-z0-9_.-]{28,65}$/),
    fc.record({ sequenceNumber, finished: fc.constant(true as const) }, { requiredKeys: [] }),
  ),
});

describe("checkpoint files", () => {
  it("read back exactly what was written", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(checkpointArb, async (checkpoint) => {
        const file = join(tmp.dir, `rt-${n++}`, "checkpoint.json");
        await writeCheckpoint(file, checkpoint);
        expect(readCheckpointSync(file)).toEqual(checkpoint);
        // Overwrite in place: still exactly one file, no temporary left behind.
        await writeCheckpoint(file, { ...checkpoint, streamArn: "other" });
        expect(readCheckpointSync(file)?.streamArn).toBe("other");
        expect(readdirSync(join(file, ".."))).toEqual(["checkpoint.json"]);
      }),
      { numRuns: 150 },
    );
  });

  it("is absent until written", () => {
    expect(readCheckpointSync(join(tmp.dir, "never-written.json"))).toBeUndefined();
  });

  it.each([
    ["not json", "{", /not JSON/],
    ["a wrong version", JSON.stringify({ version: 2, streamArn: "a", shards: {} }), /version/],
    [
      "a sequence number that is not digits",
      JSON.stringify({
        version: 1,
        streamArn: "a",
        shards: { [SHARD]: { sequenceNumber: "12a" } },
      }),
      new RegExp(`shards\\.${SHARD}\\.sequenceNumber: a sequence number is digits`),
    ],
    [
      "a key that is no shard id",
      '{"version":1,"streamArn":"a","shards":{"constructor":{},"__proto__":{}}}',
      /shards: not a shard id: constructor, __proto__/,
    ],
    [
      "an unknown field",
      JSON.stringify({ version: 1, streamArn: "a", shards: {}, extra: 1 }),
      /extra/,
    ],
  ])("rejects %s, naming the file", (_name, text, message) => {
    const file = join(tmp.dir, "bad.json");
    writeFileSync(file, text);
    expect(() => readCheckpointSync(file)).toThrow(file);
    expect(() => readCheckpointSync(file)).toThrow(message);
  });

  it("refuses to write a checkpoint it could not read back", async () => {
    const bad = {
      version: 1,
      streamArn: "a",
      shards: { [SHARD]: { sequenceNumber: "x" } },
    } as const;
    await expect(writeCheckpoint(join(tmp.dir, "w.json"), bad)).rejects.toThrow();
  });

  it("parses what it is given and names where", () => {
    expect(() => parseCheckpoint("[]", "somewhere")).toThrow(/^somewhere: not a stream checkpoint/);
  });
});

describe("writeFileAtomic", () => {
  it("leaves the old content and no temporary file when it cannot replace", async () => {
    const dir = join(tmp.dir, "atomic");
    mkdirSync(join(dir, "target"), { recursive: true }); // a directory: rename onto it fails
    writeFileSync(join(dir, "target", "keep"), "x");
    await expect(writeFileAtomic(join(dir, "target"), "data")).rejects.toThrow();
    expect(readdirSync(dir)).toEqual(["target"]);
    expect(readFileSync(join(dir, "target", "keep"), "utf8")).toBe("x");
  });
});
