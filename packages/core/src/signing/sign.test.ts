import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { aptGpgvMethod, aptSplitClearSigned, gpgv, sqv, workdir } from "../testing/signing-oracles";
import { exportKeyring } from "./keyring";
import { generateSigningKey, loadSigningKeys, type SigningKey, SigningKeyError } from "./keys";
import { signRelease } from "./sign";

const hex = (n: number, seed: number) =>
  Array.from({ length: n }, (_, i) => "0123456789abcdef"[(i * 7 + seed * 13) % 16]).join("");

// A Release as the publisher writes it: no trailing blanks, ends with "\n".
const RELEASE = [
  "Origin: Kiro",
  "Label: Kiro",
  "Suite: stable",
  "Codename: stable",
  "Date: Tue, 24 Nov 2026 15:55:00 UTC",
  "Architectures: amd64 arm64",
  "Components: main",
  "Description: Kiro packages",
  "Acquire-By-Hash: yes",
  "SHA256:",
  ` ${hex(64, 1)} 1234 main/binary-amd64/Packages`,
  ` ${hex(64, 2)} 567 main/binary-amd64/Packages.gz`,
  "SHA512:",
  ` ${hex(128, 3)} 1234 main/binary-amd64/Packages`,
  ` ${hex(128, 4)} 567 main/binary-amd64/Packages.gz`,
  "",
].join("\n");

async function newKey(algorithm: "ed25519" | "rsa4096", name: string): Promise<SigningKey> {
  const generated = await generateSigningKey({ name, email: `${name}@example.com`, algorithm });
  const [key] = await loadSigningKeys(generated.privateKeyArmored);
  if (!key) throw new Error("no key");
  return key;
}

const dir = workdir();
const keys = {} as Record<"ed" | "rsa", SigningKey>;
const keyringOf = async (name: string, ks: SigningKey[]) =>
  dir.write(`${name}.gpg`, (await exportKeyring(ks)).binary);

beforeAll(async () => {
  // RSA-4096 generation is the slow part: once per file.
  [keys.ed, keys.rsa] = await Promise.all([
    newKey("ed25519", "current"),
    newKey("rsa4096", "next"),
  ]);
}, 120_000);
afterAll(() => dir.cleanup());

function present<T>(xs: readonly (T | undefined)[]): T[] {
  return xs.map((x) => {
    if (x === undefined) throw new Error("oracle not run");
    return x;
  });
}

/**
 * Every oracle, on one signed Release: gpgv on InRelease (and its --output), gpgv and sqv on
 * apt's own split of InRelease (what apt runs), gpgv and sqv on Release + Release.gpg.
 */
function verifyAll(
  release: string,
  inRelease: string,
  releaseGpg: string,
  keyring: string,
  tag: string,
  lean = false, // skips the checks that repeat another oracle's (each spawns a process)
) {
  const files = {
    release: dir.write(`${tag}.Release`, release),
    inRelease: dir.write(`${tag}.InRelease`, inRelease),
    releaseGpg: dir.write(`${tag}.Release.gpg`, releaseGpg),
  };
  const split = aptSplitClearSigned(inRelease);
  if ("error" in split) throw new Error(`apt cannot split InRelease: ${split.error}`);
  const content = dir.write(`${tag}.apt-content`, split.content);
  const sig = dir.write(`${tag}.apt-sig`, split.signature);
  const out = dir.path(`${tag}.gpgv-out`);
  return {
    files,
    aptText: split.content,
    inline: gpgv(keyring, [files.inRelease], out),
    gpgvOutput: readFileSync(out, "utf8"),
    inlineSplit: lean ? undefined : gpgv(keyring, [sig, content]),
    sqvInline: sqv(keyring, sig, content),
    detached: gpgv(keyring, [files.releaseGpg, files.release]),
    sqvDetached: lean ? undefined : sqv(keyring, files.releaseGpg, files.release),
  };
}

describe("signRelease", () => {
  for (const kind of ["ed", "rsa"] as const) {
    it(`signs with a ${kind === "ed" ? "ed25519" : "rsa4096"} key so that gpgv, sqv and apt accept it`, async () => {
      const key = keys[kind];
      const keyring = await keyringOf(`only-${kind}`, [key]);
      const { inRelease, releaseGpg } = await signRelease(RELEASE, [key]);

      expect(inRelease.startsWith("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n")).toBe(
        true,
      );
      expect(inRelease).not.toContain("\r");
      expect(releaseGpg.startsWith("-----BEGIN PGP SIGNATURE-----\n")).toBe(true);

      const r = verifyAll(RELEASE, inRelease, releaseGpg, keyring, kind);
      // The text apt parses is the Release, byte for byte.
      expect(r.aptText).toBe(RELEASE);
      // GnuPG writes the signed text plus the line break that precedes the signature armor.
      expect(r.gpgvOutput).toBe(`${RELEASE}\n`);
      for (const g of present([r.inline, r.inlineSplit, r.detached])) {
        expect(g.status, g.statusLines + g.stderr).toBe(0);
        expect(g.valid).toEqual([key.fingerprint]);
        expect(g.digests).toEqual([10]); // SHA-512
      }
      for (const s of present([r.sqvInline, r.sqvDetached])) {
        expect(s.status, s.stderr).toBe(0);
        expect(s.signers).toEqual([key.fingerprint]);
      }
      const aptInline = aptGpgvMethod(keyring, r.files.inRelease);
      expect(aptInline.ok, aptInline.transcript).toBe(true);
      expect(aptInline.signedBy).toEqual([`${key.fingerprint}!`]);
      const aptDetached = aptGpgvMethod(keyring, r.files.releaseGpg, r.files.release);
      expect(aptDetached.ok, aptDetached.transcript).toBe(true);
    });
  }

  it("signs with two keys at once, and each key alone in the keyring verifies", async () => {
    const both = [keys.ed, keys.rsa];
    const { inRelease, releaseGpg } = await signRelease(RELEASE, both);

    const all = verifyAll(RELEASE, inRelease, releaseGpg, await keyringOf("both", both), "both");
    for (const g of present([all.inline, all.inlineSplit, all.detached])) {
      expect(g.status, g.statusLines).toBe(0);
      expect([...g.valid].sort()).toEqual(both.map((k) => k.fingerprint).sort());
    }

    for (const [alone, other] of [
      [keys.ed, keys.rsa],
      [keys.rsa, keys.ed],
    ] as const) {
      const keyring = await keyringOf(`alone-${alone.fingerprint}`, [alone]);
      const r = verifyAll(RELEASE, inRelease, releaseGpg, keyring, `alone-${alone.algorithm}`);
      // gpgv exits 2 for the signature it has no key for; apt accepts a good signature next to
      // NO_PUBKEY ones ("happens easily when a file is signed with multiple signatures").
      for (const g of present([r.inline, r.inlineSplit, r.detached])) {
        expect(g.valid).toEqual([alone.fingerprint]);
        expect(g.bad).toEqual([]);
        expect(g.noPubkey).toEqual([other.signingFingerprint.slice(-16)]);
      }
      for (const s of present([r.sqvInline, r.sqvDetached])) {
        expect(s.status, s.stderr).toBe(0);
        expect(s.signers).toEqual([alone.fingerprint]);
      }
      const aptInline = aptGpgvMethod(keyring, r.files.inRelease);
      expect(aptInline.ok, aptInline.transcript).toBe(true);
      expect(aptInline.signedBy).toEqual([`${alone.fingerprint}!`]);
      const aptDetached = aptGpgvMethod(keyring, r.files.releaseGpg, r.files.release);
      expect(aptDetached.ok, aptDetached.transcript).toBe(true);
    }
  });

  it("a tampered Release fails gpgv, sqv and apt (a byte of a hash changed, a line added)", async () => {
    const key = keys.ed;
    const keyring = await keyringOf("tamper", [key]);
    const { inRelease, releaseGpg } = await signRelease(RELEASE, [key]);
    const sha = hex(64, 1);
    const flipped = `${sha.slice(0, 10)}${sha[10] === "0" ? "1" : "0"}${sha.slice(11)}`;
    const tampers: Record<string, (s: string) => string> = {
      "hash byte changed": (s) => s.replace(sha, flipped),
      "line added": (s) =>
        s.replace("Label: Kiro\n", "Label: Kiro\nValid-Until: Tue, 24 Nov 2099 00:00:00 UTC\n"),
    };
    for (const [name, tamper] of Object.entries(tampers)) {
      const badRelease = tamper(RELEASE);
      const badInRelease = tamper(inRelease);
      expect(badRelease).not.toBe(RELEASE);
      expect(badInRelease).not.toBe(inRelease);
      const r = verifyAll(
        badRelease,
        badInRelease,
        releaseGpg,
        keyring,
        `tamper-${name.replace(/ /g, "-")}`,
      );
      for (const g of present([r.inline, r.inlineSplit, r.detached])) {
        expect(g.status, `${name}: ${g.statusLines}`).not.toBe(0);
        expect(g.valid).toEqual([]);
        expect(g.bad).toEqual([key.signingFingerprint.slice(-16)]);
      }
      for (const s of present([r.sqvInline, r.sqvDetached])) {
        expect(s.status, name).not.toBe(0);
        expect(s.signers).toEqual([]);
      }
      expect(aptGpgvMethod(keyring, r.files.inRelease).ok, name).toBe(false);
      expect(aptGpgvMethod(keyring, r.files.releaseGpg, r.files.release).ok, name).toBe(false);
    }
  });

  it("for any Release-like text, gpgv and sqv verify and apt reads exactly that text", async () => {
    const key = keys.ed;
    const keyring = await keyringOf("prop", [key]);
    // Lines of printable ASCII and some UTF-8, including the ones cleartext signing must escape
    // (leading "-", "From ", an armor line); no trailing blanks, as a Release has none.
    const line = fc.oneof(
      fc.stringMatching(/^[ -~]{0,50}$/).map((s) => s.replace(/[ \t]+$/, "")),
      fc.constantFrom(
        "",
        "-",
        "- x",
        "--",
        "-----BEGIN PGP SIGNATURE-----",
        "-----END PGP SIGNATURE-----",
        "From the archive",
        " .",
        "Description: café ☕ – ü",
        "Hash: SHA1",
      ),
    );
    const text = fc
      .tuple(fc.array(line, { minLength: 1, maxLength: 12 }), fc.boolean())
      .map(([lines, finalNewline]) => lines.join("\n") + (finalNewline ? "\n" : ""))
      .filter((t) => t.length > 0);
    let n = 0;
    await fc.assert(
      fc.asyncProperty(text, async (release) => {
        const { inRelease, releaseGpg } = await signRelease(release, [key]);
        const r = verifyAll(release, inRelease, releaseGpg, keyring, `prop-${n++}`, true);
        expect(r.aptText).toBe(release);
        expect(r.gpgvOutput).toBe(`${release}\n`);
        for (const g of [r.inline, r.detached]) {
          expect(g.status, g.statusLines + g.stderr).toBe(0);
          expect(g.valid).toEqual([key.fingerprint]);
        }
        expect(r.sqvInline.status, r.sqvInline.stderr).toBe(0);
      }),
      { numRuns: 100 },
    );
  }, 120_000);

  it("refuses a Release that apt would read differently, and bad arguments", async () => {
    const key = keys.ed;
    const refuse = async (
      release: string,
      ks: SigningKey[],
      date: Date | undefined,
      message: RegExp,
    ) => {
      const error = await signRelease(release, ks, date).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SigningKeyError);
      expect((error as Error).message).toMatch(message);
    };
    await refuse("Origin: x \nLabel: y\n", [key], undefined, /line 1 ends with a blank/);
    await refuse("Origin: x\nLabel: y\t\n", [key], undefined, /line 2 ends with a blank/);
    await refuse("Origin: x\r\nLabel: y\n", [key], undefined, /line 1 contains a carriage return/);
    await refuse("", [key], undefined, /Release is empty/);
    await refuse(RELEASE, [], undefined, /at least one signing key/);
    await refuse(RELEASE, [key, key], undefined, /given more than once/);
    await refuse(RELEASE, [key], new Date("2001-01-01T00:00:00Z"), /after the signing date/);
    await refuse(RELEASE, [key], new Date(Number.NaN), /valid Date/);
    const fake = { ...key } as unknown as SigningKey;
    await refuse(RELEASE, [fake], undefined, /SigningKey objects/);
  });

  it("dates the signatures with the given date", async () => {
    const created = new Date(Date.now() - 86_400_000);
    const generated = await generateSigningKey({
      name: "Old",
      email: "old@example.com",
      date: created,
    });
    const [key] = await loadSigningKeys(generated.privateKeyArmored);
    if (!key) throw new Error("no key");
    const date = new Date(Date.now() - 3_600_000);
    date.setMilliseconds(0);
    const { releaseGpg } = await signRelease(RELEASE, [key], date);
    const r = gpgv(await keyringOf("date", [key]), [
      dir.write("dated.Release.gpg", releaseGpg),
      dir.write("dated.Release", RELEASE),
    ]);
    expect(r.status).toBe(0);
    expect(r.statusLines).toContain(` ${date.getTime() / 1000} `);
  });
});
