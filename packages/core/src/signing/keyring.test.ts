import { readFileSync } from "node:fs";
import fc from "fast-check";
import * as openpgp from "openpgp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOk } from "../testing";
import { aptGpgvMethod, gpgv, sqv, workdir } from "../testing/signing-oracles";
import { exportKeyring } from "./keyring";
import { generateSigningKey, loadSigningKeys, type SigningKey, SigningKeyError } from "./keys";
import { signRelease } from "./sign";

const RELEASE = "Origin: Kiro\nLabel: Kiro\nSuite: stable\n";
const dir = workdir("keyring-");
afterAll(() => dir.cleanup());

/** GnuPG's listing of a keyring file or armored text, with a scratch home. */
function gpg(args: string[], input?: string | Uint8Array) {
  const home = workdir("gpg-kr-");
  try {
    return runOk("gpg", ["--homedir", home.dir, "--batch", ...args], input ? { input } : {});
  } finally {
    home.cleanup();
  }
}

const keys: SigningKey[] = [];
const publicArmored: string[] = [];
beforeAll(async () => {
  for (const name of ["a", "b", "c"]) {
    const g = await generateSigningKey({ name, email: `${name}@example.com` });
    keys.push(...(await loadSigningKeys(g.privateKeyArmored)));
    publicArmored.push(g.publicKeyArmored);
  }
});

const bytes = (u: Uint8Array) => Buffer.from(u).toString("hex");

describe("exportKeyring", () => {
  it("writes the public keys only, as a binary keyring and an armored block of the same keys", async () => {
    const [a, b] = keys as [SigningKey, SigningKey];
    const ring = await exportKeyring([a, b]);
    expect(ring.fingerprints).toEqual([a.fingerprint, b.fingerprint].sort());

    const listing = gpg(["--list-packets"], ring.binary).stdout;
    expect(listing).not.toMatch(/secret/i);
    expect(listing.match(/:public key packet:/g)).toHaveLength(2);
    // apt (gpgv.cc) takes a .gpg keyring only if it starts with a public key packet.
    expect(ring.binary[0]).toBe(0xc6);

    // The armored form is the same bytes: gpg --dearmor gives back the binary keyring.
    expect(ring.armored).toMatch(
      /^-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n[\s\S]*\n=.{4}\n-----END PGP PUBLIC KEY BLOCK-----\n$/,
    );
    const dearmored = dir.path("dearmored.gpg");
    gpg(["--dearmor", "--output", dearmored], ring.armored);
    expect(bytes(readFileSync(dearmored))).toBe(bytes(ring.binary));
    const colons = gpg(
      ["--with-colons", "--import-options", "show-only", "--import"],
      ring.armored,
    ).stdout;
    expect(colons.match(/^fpr:+([0-9A-F]{40}):/gm)?.map((l) => l.split(":")[9])).toEqual(
      ring.fingerprints,
    );
  });

  it("is what apt needs: gpgv and sqv verify with the .gpg, apt's method with .gpg and .asc", async () => {
    const [a, b] = keys as [SigningKey, SigningKey];
    const ring = await exportKeyring([a, b]);
    const gpgRing = dir.write("archive-keyring.gpg", ring.binary);
    const ascRing = dir.write("archive-keyring.asc", ring.armored);
    const { inRelease, releaseGpg } = await signRelease(RELEASE, [a, b]);
    const inline = dir.write("InRelease", inRelease);
    const release = dir.write("Release", RELEASE);
    const sig = dir.write("Release.gpg", releaseGpg);

    const checked = gpgv(gpgRing, [inline]);
    expect(checked.status, checked.statusLines).toBe(0);
    expect([...checked.valid].sort()).toEqual(ring.fingerprints);
    const bySqv = sqv(gpgRing, sig, release);
    expect(bySqv.status, bySqv.stderr).toBe(0);
    expect([...bySqv.signers].sort()).toEqual(ring.fingerprints);
    for (const keyring of [gpgRing, ascRing]) {
      const apt = aptGpgvMethod(keyring, inline);
      expect(apt.ok, apt.transcript).toBe(true);
      expect(apt.signedBy).toEqual(ring.fingerprints.map((f) => `${f}!`));
    }
  });

  it("depends only on the set of keys: any order, duplicates, armored or loaded", async () => {
    const canonical = await exportKeyring(keys);
    const sources = keys.map((k, i) => [k, publicArmored[i] as string] as const);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.boolean()), {
          minLength: 1,
          maxLength: 6,
        }),
        async (picks) => {
          const input = picks.map(
            ([i, armored]) => (sources[i] as (typeof sources)[0])[armored ? 1 : 0],
          );
          const chosen = [
            ...new Set(picks.map(([i]) => (keys[i] as SigningKey).fingerprint)),
          ].sort();
          const ring = await exportKeyring(input);
          expect(ring.fingerprints).toEqual(chosen);
          if (chosen.length === keys.length)
            expect(bytes(ring.binary)).toBe(bytes(canonical.binary));
          // The same set in reverse order gives the same bytes.
          const again = await exportKeyring([...input].reverse());
          expect(bytes(again.binary)).toBe(bytes(ring.binary));
          expect(again.armored).toBe(ring.armored);
        },
      ),
      { numRuns: 100 },
    );
  }, 60_000);

  it("takes armored blocks holding several keys", async () => {
    const ring = await exportKeyring(keys);
    const fromOneBlock = await exportKeyring([ring.armored]);
    expect(bytes(fromOneBlock.binary)).toBe(bytes(ring.binary));
    const fromConcatenated = await exportKeyring([publicArmored.join("\n")]);
    expect(bytes(fromConcatenated.binary)).toBe(bytes(ring.binary));
  });

  it("refuses secret material and keys that cannot sign for apt", async () => {
    const refuse = async (input: Parameters<typeof exportKeyring>[0], pattern: RegExp) => {
      const error = await exportKeyring(input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SigningKeyError);
      expect((error as Error).message).toMatch(pattern);
    };
    const g = await generateSigningKey({ name: "s", email: "s@example.com" });
    await refuse([g.privateKeyArmored], /PRIVATE KEY BLOCK; a keyring takes public keys only/);
    // Secret packets inside a block labelled public.
    const secretInPublicArmor = openpgp.armor(
      openpgp.enums.armor.publicKey,
      (await openpgp.readPrivateKey({ armoredKey: g.privateKeyArmored })).write(),
    );
    await refuse([secretInPublicArmor], /contains secret key material/);

    const userIDs = [{ name: "w", email: "w@example.com" }];
    const rsa2048 = await openpgp.generateKey({ type: "rsa", rsaBits: 2048, userIDs, subkeys: [] });
    await refuse([rsa2048.publicKey], /RSA-2048 is too weak/);
    const v6 = await openpgp.generateKey({ type: "curve25519", userIDs, config: { v6Keys: true } });
    await refuse([v6.publicKey], /is a v6 key/);
    await refuse([], /at least one key/);
    await refuse(["nothing"], /holds no armored OpenPGP block/);
  });
});
