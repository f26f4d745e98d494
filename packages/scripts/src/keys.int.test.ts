// keys against DynamoDB Local and s3rver with the real publisher: generate writes a key the
// signing rules accept (never overwriting), list reads the secret, the config, the published
// keyring and kiro-repo, and reports where they disagree.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { loadSigningKeys } from "@app/core/signing";
import { scratch } from "@app/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildKiroRepo } from "./build-kiro-repo";
import { PROJECT_ROOT, type StepError } from "./cli";
import { logger, startWorld, type World } from "./integration/world";
import { generate, type ListParams, listKeys, renderListing } from "./keys";
import { bucketReader } from "./status";

let world: World;
let dir: ReturnType<typeof scratch>;
let fingerprint: string;

beforeAll(async () => {
  world = await startWorld();
  dir = scratch("keys-");
  fingerprint = (await loadSigningKeys(world.signingKeys))[0]?.fingerprint as string;
});

afterAll(async () => {
  await world?.stop();
  dir?.cleanup();
});

const params = (extra: Partial<ListParams> = {}): ListParams => ({
  root: PROJECT_ROOT,
  stage: "local",
  signingKeys: world.signingKeys,
  reader: bucketReader(world.s3, world.bucket),
  dynamo: world.dynamo,
  tableName: world.tables.packages,
  logger,
  ...extra,
});

describe("keys generate", () => {
  it("writes an armored key the signing rules load (mode 600), printing the secret set line", async () => {
    for (const algorithm of ["ed25519", "rsa4096"] as const) {
      const out = join(dir.dir, `${algorithm}.asc`);
      const text = await generate({
        out,
        algorithm,
        name: "T",
        email: "t@example.org",
        stage: "prod",
      });
      const [key] = await loadSigningKeys(readFileSync(out, "utf8"));
      expect(key?.algorithm).toBe(algorithm);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expect(text).toContain(`fingerprint: ${key?.fingerprint}`);
      expect(text).toContain(`npx sst secret set SigningKey --stage prod < ${out}`);
      // Never overwrites.
      await expect(
        generate({ out, algorithm, name: "T", email: "t@example.org", stage: "prod" }),
      ).rejects.toThrow(/EEXIST/);
    }
  });

  it("--dry-run writes nothing", async () => {
    const out = join(dir.dir, "dry.asc");
    const text = await generate({
      out,
      algorithm: "ed25519",
      name: "T",
      email: "t@example.org",
      stage: "prod",
      dryRun: true,
    });
    expect(text).toMatch(/^dry run: /);
    expect(() => statSync(out)).toThrow();
  });
});

describe("keys list", () => {
  it("before publication, the missing keyring is a problem", async () => {
    const listing = await listKeys(params());
    expect(listing.secret).toEqual([fingerprint]);
    expect(listing.problems).toEqual(["no published keyring"]);
  });

  it("after publication the secret and the published keyring agree", async () => {
    await world.publisher.rebuild();
    const listing = await listKeys(params());
    expect(listing.published).toEqual([fingerprint]);
    expect(listing.config).toEqual([]); // the local stage generates its key
    expect(listing.kiroRepo).toBeUndefined();
    expect(listing.problems).toEqual([]);
    expect(renderListing(listing)).toContain("OK: they agree");
  });

  it("a secret with another key disagrees with the published keyring", async () => {
    const other = join(dir.dir, "other.asc");
    await generate({
      out: other,
      algorithm: "ed25519",
      name: "O",
      email: "o@example.org",
      stage: "local",
    });
    const listing = await listKeys(params({ signingKeys: readFileSync(other, "utf8") }));
    expect(listing.problems).toEqual(["the published keyring is not the secret's keys"]);
    expect(renderListing(listing)).toContain("PROBLEM: ");
  });

  it("reads the keys the newest kiro-repo ships, and names it when it lacks the secret's", async () => {
    await buildKiroRepo({
      root: PROJECT_ROOT,
      stage: "local",
      client: world.dynamo,
      tableName: world.tables.packages,
      signingKeys: world.signingKeys,
      version: "7.0.0",
      logger,
    });
    const listing = await listKeys(params());
    expect(listing.kiroRepo).toEqual({ version: "7.0.0", keys: [fingerprint] });
    expect(listing.problems).toEqual([]);
    expect(renderListing(listing)).toContain(`kiro-repo:         7.0.0: ${fingerprint}`);

    // A rotation's new key in the secret before a kiro-repo that ships it.
    const next = join(dir.dir, "next.asc");
    await generate({
      out: next,
      algorithm: "ed25519",
      name: "N",
      email: "n@example.org",
      stage: "local",
    });
    const both = `${world.signingKeys}\n${readFileSync(next, "utf8")}`;
    const rotating = await listKeys(params({ signingKeys: both }));
    expect(rotating.problems).toContain("kiro-repo 7.0.0 does not ship every key of the secret");
  });

  it("a bad secret fails naming the step", async () => {
    const error = await listKeys(params({ signingKeys: "not a key" })).catch((e: unknown) => e);
    expect((error as StepError).step).toBe("read the secret");
  });
});
