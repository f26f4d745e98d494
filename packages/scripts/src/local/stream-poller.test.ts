import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { Shard } from "./dynamodb-streams";
import { type PollerLogger, parentsFirst } from "./stream-poller";

/** A random shard forest (children split off earlier shards), listed in a random order, with
 * some parents already trimmed away (children of a missing parent are roots). */
const forest = fc
  .array(fc.option(fc.nat(), { nil: undefined }), { maxLength: 30 })
  .chain((parents) => {
    const shards: Shard[] = parents.map((p, i) => ({
      ShardId: `shard-${i}`,
      ...(p === undefined || i === 0 ? {} : { ParentShardId: `shard-${p % i}` }),
    }));
    return fc.tuple(fc.shuffledSubarray(shards, { minLength: shards.length }), fc.subarray(shards));
  })
  .map(([listed, trimmed]) => {
    const gone = new Set(trimmed.map((s) => s.ShardId));
    return listed.filter((s) => !gone.has(s.ShardId));
  });

describe("parentsFirst", () => {
  it("lists every shard once, each after its parent when the parent is listed", () => {
    fc.assert(
      fc.property(forest, (shards) => {
        const ordered = parentsFirst(shards);
        expect([...ordered].sort((a, b) => a.ShardId.localeCompare(b.ShardId))).toEqual(
          [...shards].sort((a, b) => a.ShardId.localeCompare(b.ShardId)),
        );
        const position = new Map(ordered.map((s, i) => [s.ShardId, i]));
        for (const shard of ordered) {
          const parent = shard.ParentShardId;
          if (parent === undefined || !position.has(parent)) continue;
          expect(position.get(parent)).toBeLessThan(position.get(shard.ShardId) ?? -1);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("keeps the listed order among shards that are ready together", () => {
    const shards: Shard[] = [
      { ShardId: "b" },
      { ShardId: "a" },
      { ShardId: "c", ParentShardId: "a" },
    ];
    expect(parentsFirst(shards).map((s) => s.ShardId)).toEqual(["b", "a", "c"]);
  });
});

describe("PollerLogger", () => {
  it("is satisfied by a pino logger", () => {
    const lines: string[] = [];
    const logger: PollerLogger = pino(
      { level: "debug" },
      { write: (line: string) => void lines.push(line) },
    );
    logger.warn({ shardId: "s" }, "retrying");
    logger.debug?.({ records: 2 }, "delivered");
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(["retrying", "delivered"]);
  });
});
