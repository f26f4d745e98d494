import { inspect } from "node:util";
import * as openpgp from "openpgp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOk } from "../testing";
import { aptGpgvMethod, gpgHome, gpgv, sqv, workdir } from "../testing/signing-oracles";
import { exportKeyring } from "./keyring";
import { generateSigningKey, loadSigningKeys, SigningKeyError } from "./keys";
import { signRelease } from "./sign";

const RELEASE = "Origin: Kiro\nLabel: Kiro\nSuite: stable\n";
const dir = workdir("keys-");
afterAll(() => dir.cleanup());

/** `gpg --list-packets` of a key or signature: GnuPG's own reading of what we wrote. */
function packets(armored: string | Uint8Array): string {
  const { dir: home, cleanup } = workdir("gpg-lp-");
  try {
    return runOk("gpg", ["--homedir", home, "--batch", "--list-packets"], { input: armored })
      .stdout;
  } finally {
    cleanup();
  }
}

async function errorOf(promise: Promise<unknown>): Promise<SigningKeyError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SigningKeyError);
  return error as SigningKeyError;
}

/** The base64 lines of an armored key: none of them may ever appear in an error message. */
function secretLines(armored: string): string[] {
  return armored.split("\n").filter((l) => /^[A-Za-z0-9+/=]{16,}$/.test(l));
}

async function expectRefused(armored: string | string[], pattern: RegExp, passphrase?: string) {
  const error = await errorOf(loadSigningKeys(armored, passphrase));
  expect(error.message).toMatch(pattern);
  for (const line of secretLines([armored].flat().join("\n"))) {
    expect(error.message).not.toContain(line.slice(0, 16));
  }
  return error;
}

/** Signs with openpgp.js directly (no rules) and asks gpgv and sqv about it. */
async function oracleVerdict(key: openpgp.PrivateKey, config: openpgp.PartialConfig = {}) {
  const tag = key.getFingerprint();
  const keyring = dir.write(`${tag}.gpg`, key.toPublic().write());
  const data = dir.write(`${tag}.data`, RELEASE);
  const signature = await openpgp.sign({
    message: await openpgp.createMessage({ binary: new TextEncoder().encode(RELEASE) }),
    signingKeys: key,
    detached: true,
    config,
  });
  const sig = dir.write(`${tag}.sig`, signature);
  return { gpgv: gpgv(keyring, [sig, data]).status, sqv: sqv(keyring, sig, data).status };
}

describe("generateSigningKey", () => {
  it("makes a v4 EdDSA-legacy ed25519 signing-only key with SHA-512, no expiry, by default", async () => {
    const g = await generateSigningKey({ name: "Kiro Test", email: "kiro@example.com" });
    expect(g.fingerprint).toMatch(/^[0-9A-F]{40}$/);
    expect(g.privateKeyArmored).toMatch(/^-----BEGIN PGP PRIVATE KEY BLOCK-----\n/);
    expect(g.publicKeyArmored).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----\n/);

    const listing = packets(g.publicKeyArmored);
    expect(listing).toMatch(/:public key packet:\n\tversion 4, algo 22, created \d+, expires 0/);
    expect(listing).toContain("ed25519 (1.3.6.1.4.1.11591.15.1)");
    expect(listing).toContain("key flags: 03"); // certify and sign
    expect(listing).toMatch(/sigclass 0x13\n\tdigest algo 10,/); // self-signature with SHA-512
    expect(listing).toContain("pref-hash-algos: 10 ");
    expect(listing).not.toContain("sub key packet"); // an archive key encrypts nothing
    expect(listing).toContain(`issuer fpr v4 ${g.fingerprint}`);

    const [key] = await loadSigningKeys(g.privateKeyArmored);
    expect(key?.toJSON()).toEqual({
      fingerprint: g.fingerprint,
      signingFingerprint: g.fingerprint,
      algorithm: "ed25519",
      userIds: ["Kiro Test <kiro@example.com>"],
      createdAt: expect.any(Date),
      expiresAt: null,
    });
  });

  it("makes an RSA-4096 key with SHA-512 on request", async () => {
    const g = await generateSigningKey({ name: "R", email: "r@example.com", algorithm: "rsa4096" });
    const listing = packets(g.publicKeyArmored);
    expect(listing).toMatch(
      /version 4, algo 1, created \d+, expires 0\n\tpkey\[0\]: \[4096 bits\]/,
    );
    expect(listing).toMatch(/sigclass 0x13\n\tdigest algo 10,/);
    expect((await loadSigningKeys(g.privateKeyArmored))[0]?.algorithm).toBe("rsa4096");
  }, 60_000);

  it("takes a creation date, an expiry and a passphrase", async () => {
    const date = new Date("2026-01-02T03:04:05Z");
    const g = await generateSigningKey({
      name: "E",
      email: "e@example.com",
      date,
      expiresAfterSeconds: 10 * 365 * 86_400,
      passphrase: "correct horse",
    });
    const listing = packets(g.publicKeyArmored);
    expect(listing).toContain(`created ${date.getTime() / 1000}, expires 0`); // key packet
    expect(listing).toContain("key expires after 10y"); // self-signature subpacket
    expect(packets(g.privateKeyArmored)).toMatch(/protect count|iter\+salted/);

    await expectRefused(g.privateKeyArmored, /is encrypted: give its passphrase/);
    await expectRefused(
      g.privateKeyArmored,
      /cannot decrypt it with the given passphrase/,
      "wrong",
    );
    const [key] = await loadSigningKeys(g.privateKeyArmored, "correct horse");
    expect(key?.createdAt).toEqual(date);
    expect(key?.expiresAt).toEqual(new Date(date.getTime() + 10 * 365 * 86_400_000));
  });

  it("names the option that is wrong", async () => {
    const bad = async (options: Parameters<typeof generateSigningKey>[0], pattern: RegExp) =>
      expect((await errorOf(generateSigningKey(options))).message).toMatch(pattern);
    await bad({ name: "A", email: "not an address" }, /email: email must be an e-mail address/);
    await bad({ name: " ", email: "a@example.com" }, /name: name must not be empty/);
    await bad({ name: "A <b>", email: "a@example.com" }, /name: name must not contain </);
    await bad(
      { name: "A", email: "a@example.com", algorithm: "dsa" as "ed25519" },
      /algorithm: Invalid type/,
    );
    await bad(
      { name: "A", email: "a@example.com", expiresAfterSeconds: -1 },
      /expiresAfterSeconds/,
    );
  });
});

describe("loadSigningKeys", () => {
  const gpg = gpgHome();
  afterAll(() => gpg.close());
  let ed: { privateKeyArmored: string; fingerprint: string };
  let ed2: { privateKeyArmored: string; fingerprint: string };
  beforeAll(async () => {
    ed = await generateSigningKey({ name: "One", email: "one@example.com" });
    ed2 = await generateSigningKey({ name: "Two", email: "two@example.com" });
  });

  it("reads several keys: from a list, from several blocks in one text, from one block", async () => {
    const one = await loadSigningKeys([ed.privateKeyArmored, ed2.privateKeyArmored]);
    expect(one.map((k) => k.fingerprint)).toEqual([ed.fingerprint, ed2.fingerprint]);

    // openpgp.js alone would read only the first of two concatenated blocks.
    const two = await loadSigningKeys(`${ed.privateKeyArmored}\n${ed2.privateKeyArmored}`);
    expect(two.map((k) => k.fingerprint)).toEqual([ed.fingerprint, ed2.fingerprint]);

    const keys = await Promise.all(
      [ed, ed2].map((g) => openpgp.readPrivateKey({ armoredKey: g.privateKeyArmored })),
    );
    const block = openpgp.armor(
      openpgp.enums.armor.privateKey,
      new Uint8Array(Buffer.concat(keys.map((k) => k.write()))),
    );
    const three = await loadSigningKeys(block);
    expect(three.map((k) => k.fingerprint)).toEqual([ed.fingerprint, ed2.fingerprint]);
  });

  it("never lets the secret key reach JSON, logs or inspection", async () => {
    const [key] = await loadSigningKeys(ed.privateKeyArmored);
    if (!key) throw new Error("no key");
    const json = JSON.parse(JSON.stringify({ key }));
    expect(Object.keys(json.key).sort()).toEqual(
      [
        "algorithm",
        "createdAt",
        "expiresAt",
        "fingerprint",
        "signingFingerprint",
        "userIds",
      ].sort(),
    );
    const shown = inspect(key, { depth: 20, showHidden: true });
    expect(shown).not.toMatch(/privateParams|Uint8Array|seed/);
    expect(shown).toContain(ed.fingerprint);
  });

  it("refuses text that is not one or more armored private keys", async () => {
    const pub = (await openpgp.readPrivateKey({ armoredKey: ed.privateKeyArmored }))
      .toPublic()
      .armor();
    await expectRefused(pub, /is a PGP PUBLIC KEY BLOCK, not a private key/);
    await expectRefused("hello", /holds no armored OpenPGP block/);
    await expectRefused(`junk\n${ed.privateKeyArmored}`, /4 characters outside its armored blocks/);
    await expectRefused(ed.privateKeyArmored.replaceAll("\n", "\\n"), /escaped as "\\n"/);
    const lines = ed.privateKeyArmored.split("\n");
    const damaged = lines.map((l, i) => (i === 3 ? `${l.slice(0, 10)}!!${l.slice(12)}` : l));
    await expectRefused(damaged.join("\n"), /cannot read the private key/);
    await expectRefused([ed.privateKeyArmored, ed.privateKeyArmored], /given more than once/);
    await expectRefused([], /must not be empty/);
    const refusedMany = await expectRefused([pub, "hello"], /2 problems/);
    expect(refusedMany.problems).toHaveLength(2);
    expect(refusedMany.problems[1]).toMatch(/^armored key text #2 /);
  });

  it("refuses openpgp.js's curve25519 and v6 keys, which gpgv 2.2 and sqv 1.1 cannot verify", async () => {
    const userIDs = [{ name: "N", email: "n@example.com" }];
    const v4 = await openpgp.generateKey({ type: "curve25519", userIDs, format: "object" });
    const v6 = await openpgp.generateKey({
      type: "curve25519",
      userIDs,
      format: "object",
      config: { v6Keys: true },
    });
    // The oracles: neither verifier accepts what these keys sign.
    for (const key of [v4.privateKey, v6.privateKey]) {
      const verdict = await oracleVerdict(key);
      expect(verdict.gpgv).not.toBe(0);
      expect(verdict.sqv).not.toBe(0);
    }
    await expectRefused(
      v4.privateKey.armor(),
      /RFC 9580 Ed25519 .*rejected by gpgv 2\.2 and sqv 1\.1/,
    );
    await expectRefused(v6.privateKey.armor(), /is a v6 key: gpgv 2\.2 and sqv 1\.1/);
  });

  it("refuses RSA below 3072 bits and keys whose self-signature uses SHA-1", async () => {
    const userIDs = [{ name: "R", email: "r@example.com" }];
    const rsa2048 = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 2048,
      userIDs,
      subkeys: [],
      format: "object",
    });
    await expectRefused(rsa2048.privateKey.armor(), /RSA-2048 is too weak/);

    // openpgp.js cannot salt-notate SHA-1 signatures: the notation is switched off here.
    const sha1Config = {
      preferredHashAlgorithm: openpgp.enums.hash.sha1,
      nonDeterministicSignaturesViaNotation: false,
    };
    const sha1 = await openpgp.generateKey({
      type: "rsa",
      rsaBits: 3072,
      userIDs,
      subkeys: [],
      format: "object",
      config: sha1Config,
    });
    // gpgv accepts it; sqv (apt's verifier since Debian 13) does not: why the rule exists.
    const verdict = await oracleVerdict(sha1.privateKey, {
      preferredHashAlgorithm: openpgp.enums.hash.sha512,
    });
    expect(verdict.gpgv).toBe(0);
    expect(verdict.sqv).not.toBe(0);
    await expectRefused(sha1.privateKey.armor(), /self-signature uses SHA1, which sqv rejects/);
  }, 60_000);

  it("refuses expired and revoked keys", async () => {
    const expired = await generateSigningKey({
      name: "X",
      email: "x@example.com",
      date: new Date("2025-01-01T00:00:00Z"),
      expiresAfterSeconds: 86_400,
    });
    await expectRefused(expired.privateKeyArmored, /expired on 2025-01-02T00:00:00\.000Z/);

    const key = await openpgp.readPrivateKey({ armoredKey: ed.privateKeyArmored });
    const { privateKey: revoked } = await openpgp.revokeKey({ key, format: "armored" });
    await expectRefused(revoked, /is revoked/);
  });

  it("reads gpg's keys: DSA refused, certify-only refused, a signing subkey with an offline primary signs", async () => {
    gpg.gpg("--quick-gen-key", "DSA Key <dsa@example.com>", "dsa2048", "sign", "never");
    await expectRefused(
      gpg.exportTo(["--export-secret-keys", "dsa@example.com"]),
      /DSA is rejected by sqv/,
    );

    gpg.gpg("--quick-gen-key", "Offline <offline@example.com>", "ed25519", "cert", "never");
    const primary = gpg.fingerprint("offline@example.com");
    await expectRefused(
      gpg.exportTo(["--export-secret-keys", primary]),
      /has no valid signing-capable key or subkey/,
    );

    // Debian's own layout: the primary key stays offline, a subkey signs.
    gpg.gpg("--quick-add-key", primary, "ed25519", "sign", "never");
    const stubbed = gpg.exportTo(["--export-secret-subkeys", primary]);
    expect(packets(stubbed)).toContain("gnu-dummy");
    const [key] = await loadSigningKeys(stubbed);
    if (!key) throw new Error("no key");
    expect(key.fingerprint).toBe(primary);
    expect(key.signingFingerprint).not.toBe(primary);

    const fromGpg = await exportKeyring([gpg.exportTo(["--export", primary])]);
    // The keyring made from the stubbed secret key holds the same public key as gpg's export.
    expect(Buffer.from((await exportKeyring([key])).binary).equals(fromGpg.binary)).toBe(true);
    const keyring = dir.write("offline.gpg", fromGpg.binary);
    const { inRelease, releaseGpg } = await signRelease(RELEASE, [key]);
    const release = dir.write("offline.Release", RELEASE);
    const sig = dir.write("offline.Release.gpg", releaseGpg);
    const inline = dir.write("offline.InRelease", inRelease);
    const checked = gpgv(keyring, [inline]);
    expect(checked.status, checked.statusLines).toBe(0);
    expect(checked.valid).toEqual([primary]);
    expect(sqv(keyring, sig, release).signers).toEqual([primary]); // sqv names the certificate
    // apt names the primary key and, exactly, the subkey that signed (sorted).
    expect(aptGpgvMethod(keyring, inline).signedBy).toEqual(
      [primary, `${key.signingFingerprint}!`].sort(),
    );
  }, 60_000);

  it("decrypts a key gpg protected with a passphrase", async () => {
    const protectedHome = gpgHome("s3cret");
    try {
      protectedHome.gpg("--quick-gen-key", "P <p@example.com>", "ed25519", "sign", "never");
      const armored = protectedHome.exportTo(["--export-secret-keys", "p@example.com"]);
      expect(packets(armored)).toMatch(/iter\+salted|protect count/);
      await expectRefused(armored, /is encrypted: give its passphrase/);
      await expectRefused(armored, /cannot decrypt it with the given passphrase/, "wrong");
      const [key] = await loadSigningKeys(armored, "s3cret");
      expect(key?.algorithm).toBe("ed25519");
    } finally {
      protectedHome.close();
    }
  });
});
