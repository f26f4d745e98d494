// The vendor's signature, with keys, certificates and signatures made by the openssl CLI (the
// oracle): RSA and ECDSA over SHA-256 (`openssl dgst -sha256 -sign`), Ed25519 (`openssl pkeyutl
// -sign -rawin`), fed in arbitrary chunks; tampered bytes, another key's signature and
// certificates outside their validity at the time of ingestion are refused. Ed25519's streaming
// check is also compared with Node's one-shot verify over generated messages and keys.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, sign, verify, X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { scratch } from "../testing/exec";
import { Ed25519StreamVerifier } from "./ed25519";
import { SignatureError, SignatureVerifier } from "./signature";

const tmp = scratch("signature-test-");
afterAll(() => tmp.cleanup());

type Kind = "rsa" | "ecdsa" | "ed25519";
const NEWKEY: Record<Kind, string[]> = {
  rsa: ["-newkey", "rsa:2048"],
  ecdsa: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
  ed25519: ["-newkey", "ed25519"],
};

let made = 0;
function vendor(kind: Kind) {
  const name = `${kind}-${made++}`;
  const key = join(tmp.dir, `${name}.key`);
  const cert = join(tmp.dir, `${name}.pem`);
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      ...NEWKEY[kind],
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-subj",
      `/CN=Kiro Test Vendor (${kind})`,
      "-days",
      "30",
    ],
    { stdio: "ignore" },
  );
  const certificatePem = readFileSync(cert, "utf8");
  return {
    certificatePem,
    certificate: new X509Certificate(certificatePem),
    sign(bytes: Uint8Array): Uint8Array {
      const file = join(tmp.dir, `${name}.data`);
      writeFileSync(file, bytes);
      return kind === "ed25519"
        ? execFileSync("openssl", ["pkeyutl", "-sign", "-rawin", "-inkey", key, "-in", file])
        : execFileSync("openssl", ["dgst", "-sha256", "-sign", key, file]);
    },
  };
}

const vendors = { rsa: vendor("rsa"), ecdsa: vendor("ecdsa"), ed25519: vendor("ed25519") };
const other = vendor("ed25519");

/** Feeds `bytes` cut at `cuts` and verifies. */
function check(
  v: ReturnType<typeof vendor>,
  signature: Uint8Array,
  bytes: Uint8Array,
  cuts: readonly number[] = [],
  now?: Date,
): void {
  const verifier = new SignatureVerifier(
    { certificatePem: v.certificatePem, signature },
    "test.deb",
    now,
  );
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    const to = Math.min(cut, bytes.length);
    verifier.update(bytes.subarray(at, Math.max(at, to)));
    at = Math.max(at, to);
  }
  verifier.update(bytes.subarray(at));
  verifier.verify();
}

describe.each(Object.keys(vendors) as Kind[])("a %s certificate", (kind) => {
  const v = vendors[kind];
  const data = fc.uint8Array({ minLength: 1, maxLength: 5000 });
  const cuts = fc.array(fc.nat({ max: 5000 }), { maxLength: 6 });

  it("verifies openssl's signature over any bytes, in any chunks; refuses one changed byte", () => {
    // openssl is run per case: a modest number of runs.
    fc.assert(
      fc.property(data, cuts, fc.nat(), (bytes, at, flip) => {
        const signature = v.sign(bytes);
        check(v, signature, bytes, at);
        const tampered = Uint8Array.from(bytes);
        const i = flip % tampered.length;
        tampered[i] = (tampered[i] as number) ^ 0x01;
        expect(() => check(v, signature, tampered, at)).toThrow(/bad signature/);
      }),
      { numRuns: 15 },
    );
  });

  it("refuses another key's signature", () => {
    const bytes = new TextEncoder().encode("a .deb");
    const foreign = kind === "ed25519" ? other.sign(bytes) : vendors.ed25519.sign(bytes);
    expect(() => check(v, foreign, bytes)).toThrow(SignatureError);
  });

  it("refuses the certificate before notBefore and after notAfter, before reading a byte", () => {
    const from = new Date(v.certificate.validFrom);
    const to = new Date(v.certificate.validTo);
    const bytes = new TextEncoder().encode("a .deb");
    const signature = v.sign(bytes);
    check(v, signature, bytes, [], new Date(from.getTime() + 1000));
    check(v, signature, bytes, [], new Date(to.getTime() - 1000));
    const early = new Date(from.getTime() - 1000);
    expect(() => check(v, signature, bytes, [], early)).toThrow(
      `test.deb: the certificate is not valid yet: notBefore ${from.toISOString()}, now ${early.toISOString()}`,
    );
    const late = new Date(to.getTime() + 1000);
    expect(() => check(v, signature, bytes, [], late)).toThrow(
      `test.deb: the certificate has expired: notAfter ${to.toISOString()}, now ${late.toISOString()}`,
    );
  });
});

describe("Ed25519 streamed", () => {
  it("agrees with Node's one-shot verify on generated keys, messages and corruptions", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000 }),
        fc.array(fc.nat({ max: 3000 }), { maxLength: 4 }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { nil: undefined }),
        (message, cuts, corrupt) => {
          const { publicKey, privateKey } = generateKeyPairSync("ed25519");
          const a = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
          const signature = Uint8Array.from(sign(null, message, privateKey));
          if (corrupt !== undefined) {
            const [at, x] = corrupt;
            const i = at % 64;
            signature[i] = (signature[i] as number) ^ x;
          }
          const verifier = new Ed25519StreamVerifier(a, signature);
          let at = 0;
          for (const cut of [...cuts].sort((p, q) => p - q)) {
            verifier.update(message.subarray(at, Math.max(at, cut)));
            at = Math.max(at, cut);
          }
          verifier.update(message.subarray(at));
          // Node's verify over the whole message: the oracle.
          const expected = verify(null, message, publicKey, signature);
          expect(verifier.verify()).toBe(expected);
          if (corrupt === undefined) expect(expected).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("refuses a signature of the wrong length and a key that is no point", () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const a = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
    const signature = sign(null, Buffer.from("m"), privateKey);
    const short = new Ed25519StreamVerifier(a, signature.subarray(0, 63));
    short.update(Buffer.from("m"));
    expect(short.verify()).toBe(false);
    // y = 2 has no x on the curve.
    const notAPoint = Buffer.alloc(32);
    notAPoint[0] = 2;
    const bad = new Ed25519StreamVerifier(notAPoint, signature);
    bad.update(Buffer.from("m"));
    expect(bad.verify()).toBe(false);
  });

  it("refuses the malleated signature (R, S + L) that Node refuses too", () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (message) => {
        const { publicKey, privateKey } = generateKeyPairSync("ed25519");
        const a = Buffer.from(publicKey.export({ format: "jwk" }).x as string, "base64url");
        const signature = sign(null, message, privateKey);
        const s = BigInt(`0x${Buffer.from(signature.subarray(32)).reverse().toString("hex")}`);
        const malleated = Buffer.concat([
          signature.subarray(0, 32),
          Buffer.from((s + L).toString(16).padStart(64, "0"), "hex").reverse(),
        ]);
        expect(verify(null, message, publicKey, malleated)).toBe(false);
        const verifier = new Ed25519StreamVerifier(a, malleated);
        verifier.update(message);
        expect(verifier.verify()).toBe(false);
      }),
      { numRuns: 20 },
    );
  });
});
