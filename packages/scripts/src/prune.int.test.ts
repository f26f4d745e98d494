// prune against DynamoDB Local: a dry run deletes nothing, a run deletes exactly the records
// beyond the N newest versions of the chosen package, a rerun deletes nothing more.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepError } from "./cli";
import { logger, startWorld, type World } from "./integration/world";
import { prune } from "./prune";

let world: World;
beforeAll(async () => {
  world = await startWorld();
  for (const v of ["1.0", "1.2", "1.10"]) {
    await world.store.put(await world.manualPackage("kiro", v, "amd64"));
    await world.store.put(await world.manualPackage("kiro-cli", v, "all"));
  }
});
afterAll(async () => world?.stop());

const ids = async () => (await world.store.all()).records.map((r) => r.package_id).sort();
const base = () => ({ dynamo: world.dynamo, tableName: world.tables.packages, logger });

describe("prune", () => {
  it("--dry-run lists what it would delete and deletes nothing", async () => {
    const before = await ids();
    const out = await prune({ ...base(), keep: 1, dryRun: true });
    expect(out.deleted).toEqual([
      "kiro#1.0#amd64",
      "kiro#1.2#amd64",
      "kiro-cli#1.0#all",
      "kiro-cli#1.2#all",
    ]);
    expect(await ids()).toEqual(before);
  });

  it("deletes beyond the N newest of one package; a rerun deletes nothing", async () => {
    const out = await prune({ ...base(), keep: 2, packageName: "kiro" });
    expect(out.deleted).toEqual(["kiro#1.0#amd64"]);
    expect(await ids()).toEqual([
      "kiro#1.10#amd64",
      "kiro#1.2#amd64",
      "kiro-cli#1.0#all",
      "kiro-cli#1.10#all",
      "kiro-cli#1.2#all",
    ]);
    expect((await prune({ ...base(), keep: 2, packageName: "kiro" })).deleted).toEqual([]);
  });

  it("a missing table fails naming the step", async () => {
    const error = await prune({ ...base(), tableName: "no-such-table", keep: 1 }).catch(
      (e: unknown) => e,
    );
    expect((error as StepError).step).toBe("read records");
  });
});
