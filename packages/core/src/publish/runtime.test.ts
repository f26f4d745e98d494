// The publisher refuses to start (and so to sign) when the signing secret's keys are not the
// stage's signing.key_ids, naming the keys that disagree.
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, SigningKeyError } from "../signing";
import { TEST_SETTINGS } from "../testing/settings";
import { createPublisher } from "./runtime";

const settings = TEST_SETTINGS;

let armored: string;
let fingerprint: string;
beforeAll(async () => {
  const key = await generateSigningKey({ name: "Runtime", email: "runtime@example.org" });
  armored = key.privateKeyArmored;
  fingerprint = key.fingerprint.toUpperCase();
});

const params = (keyIds: string[] | undefined) => ({
  packagesTable: "packages",
  stateTable: "state",
  bucket: "bucket",
  signingKeys: armored,
  settings: { ...settings, ...(keyIds === undefined ? {} : { keyIds }) },
  logger: pino({ level: "silent" }),
});

describe("createPublisher and signing.key_ids", () => {
  it("starts when the secret holds exactly the configured keys (any case), or none are configured", async () => {
    await expect(createPublisher(params([fingerprint.toLowerCase()]))).resolves.toBeDefined();
    await expect(createPublisher(params([]))).resolves.toBeDefined();
    await expect(createPublisher(params(undefined))).resolves.toBeDefined();
  });

  it("refuses another configured key, naming both", async () => {
    const other = "ab".repeat(20);
    const error = await createPublisher(params([other])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SigningKeyError);
    expect((error as Error).message).toContain(`the signing secret holds ${fingerprint}`);
    expect((error as Error).message).toContain(`signing.key_ids lists ${other.toUpperCase()}`);
  });

  it("refuses when a rotation lists a second key the secret lacks", async () => {
    const next = "cd".repeat(20);
    const error = await createPublisher(params([fingerprint, next])).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`signing.key_ids lists ${next.toUpperCase()}`);
    expect((error as Error).message).not.toContain("the signing secret holds");
  });
});
