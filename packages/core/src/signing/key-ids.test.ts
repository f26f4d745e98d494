import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  assertKeyIds,
  describeKeyIdMismatch,
  keyIdMismatch,
  signatureFingerprints,
} from "./key-ids";
import { generateSigningKey, loadSigningKeys, type SigningKey, SigningKeyError } from "./keys";
import { signRelease } from "./sign";

const fingerprint = fc
  .array(fc.constantFrom(..."0123456789abcdef"), { minLength: 40, maxLength: 40 })
  .map((cs) => cs.join(""));
const casing = (f: string, upper: boolean[]) =>
  [...f].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c)).join("");

describe("keyIdMismatch", () => {
  it("agrees exactly when the sets are equal (any case), naming every key that differs", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fingerprint, { maxLength: 5 }),
        fc.uniqueArray(fingerprint, { minLength: 1, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
        (secret, configured, upper) => {
          const m = keyIdMismatch(
            secret.map((f) => f.toUpperCase()),
            configured.map((f) => casing(f, upper)),
          );
          const s = new Set(secret);
          const c = new Set(configured);
          const unlisted = secret.filter((f) => !c.has(f)).map((f) => f.toUpperCase());
          const absent = configured.filter((f) => !s.has(f)).map((f) => f.toUpperCase());
          if (unlisted.length === 0 && absent.length === 0) expect(m).toBeUndefined();
          else {
            expect(m).toEqual({ unlisted: unlisted.sort(), absent: absent.sort() });
            const text = describeKeyIdMismatch(m as NonNullable<typeof m>);
            for (const f of [...unlisted, ...absent]) expect(text).toContain(f);
            expect(() => assertKeyIds(secret, configured)).toThrow(SigningKeyError);
          }
        },
      ),
    );
  });

  it("an empty configured list (the local stage) agrees with any secret", () => {
    fc.assert(
      fc.property(fc.array(fingerprint), (secret) => {
        expect(keyIdMismatch(secret, [])).toBeUndefined();
      }),
    );
  });

  it("names the key in the secret and the one in the config", () => {
    const a = "A".repeat(40);
    const b = "b".repeat(40);
    expect(() => assertKeyIds([a], [b])).toThrow(
      `refusing to sign: the signing secret holds ${a}, not in signing.key_ids; signing.key_ids lists ${"B".repeat(40)}, not in the signing secret`,
    );
  });
});

describe("signatureFingerprints", () => {
  let keys: SigningKey[];
  beforeAll(async () => {
    const one = await generateSigningKey({ name: "One", email: "one@example.org" });
    const two = await generateSigningKey({ name: "Two", email: "two@example.org" });
    keys = await loadSigningKeys([one.privateKeyArmored, two.privateKeyArmored]);
  });

  it("names the keys that signed InRelease and Release.gpg (both during a rotation)", async () => {
    const signed = await signRelease("Origin: Kiro\nSuite: stable\n", keys);
    const expected = keys.map((k) => k.signingFingerprint).sort();
    expect((await signatureFingerprints(signed.inRelease)).sort()).toEqual(expected);
    expect((await signatureFingerprints(signed.releaseGpg)).sort()).toEqual(expected);
    const one = await signRelease("Origin: Kiro\n", keys.slice(0, 1));
    expect(await signatureFingerprints(one.inRelease)).toEqual([keys[0]?.signingFingerprint]);
  });

  it("refuses what is not a signature", async () => {
    await expect(signatureFingerprints("Origin: Kiro\n")).rejects.toThrow(SigningKeyError);
  });
});
