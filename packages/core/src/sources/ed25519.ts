// Ed25519 (RFC 8032, "pure", as `openssl pkeyutl -sign -rawin` makes it) verified as the message
// streams past. Node's crypto verifies Ed25519 only over a message held whole, which a .deb of
// hundreds of MB must never be; but the only pass over the message is SHA-512(R || A || M),
// and R (the signature's first half) and A (the public key) are known before the first byte.
// The rest is one check on the curve, with @noble/curves' audited point arithmetic:
// encode([S]B - [k]A) == R, the check OpenSSL makes (cofactorless, canonical encodings), with
// S < L required as OpenSSL does.
import { createHash, type Hash } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";

const Point = ed25519.Point;
const L = Point.Fn.ORDER;

const littleEndian = (bytes: Uint8Array): bigint => {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
};

/** Feed the message in order, then `verify()`. */
export class Ed25519StreamVerifier {
  readonly #hash: Hash = createHash("sha512");
  readonly #publicKey: Uint8Array;
  readonly #signature: Uint8Array;

  /** `publicKey`: the 32 bytes of A; `signature`: the 64 bytes R || S. */
  constructor(publicKey: Uint8Array, signature: Uint8Array) {
    this.#publicKey = publicKey;
    this.#signature = signature;
    if (signature.length === 64) {
      this.#hash.update(signature.subarray(0, 32));
      this.#hash.update(publicKey);
    }
  }

  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
  }

  /** Whether the signature is valid for the message fed (false for malformed input too). */
  verify(): boolean {
    const digest = this.#hash.digest();
    if (this.#signature.length !== 64 || this.#publicKey.length !== 32) return false;
    let a: InstanceType<typeof Point>;
    try {
      // Strict (not ZIP-215): a non-canonical encoding of A is no key, as for OpenSSL.
      a = Point.fromBytes(Uint8Array.from(this.#publicKey), false);
    } catch {
      return false;
    }
    const r = this.#signature.subarray(0, 32);
    const s = littleEndian(this.#signature.subarray(32));
    if (s >= L) return false;
    const k = littleEndian(digest) % L;
    // multiplyUnsafe: variable time is fine for public data, and it takes a zero scalar.
    const check = Point.BASE.multiplyUnsafe(s).add(a.negate().multiplyUnsafe(k));
    return Buffer.from(check.toBytes()).equals(r);
  }
}
