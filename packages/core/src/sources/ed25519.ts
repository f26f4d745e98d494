// Ed25519 (RFC 8032, "pure", as `openssl pkeyutl -sign -rawin` makes it) verified as the message
// streams past. Node's crypto verifies Ed25519 only over a message held whole, which a .deb of
// hundreds of MB must never be; but the only pass over the message is SHA-512(R || A || M),
// and R (the signature's first half) and A (the public key) are known before the first byte.
// The rest is one check on the curve, done here with BigInt: encode([S]B - [k]A) == R, the
// check OpenSSL makes (cofactorless), with S < L required as OpenSSL does.
import { createHash, type Hash } from "node:crypto";

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

const mod = (a: bigint, m = P): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = mod(result * b);
    b = mod(b * b);
    e >>= 1n;
  }
  return result;
}

const inv = (a: bigint): bigint => pow(a, P - 2n);
const D = mod(-121665n * inv(121666n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** A point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];

const IDENTITY: Point = [0n, 1n, 1n, 0n];

function add(p: Point, q: Point): Point {
  const [x1, y1, z1, t1] = p;
  const [x2, y2, z2, t2] = q;
  const a = mod((y1 - x1) * (y2 - x2));
  const b = mod((y1 + x1) * (y2 + x2));
  const c = mod(2n * t1 * t2 * D);
  const d = mod(2n * z1 * z2);
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function multiply(scalar: bigint, point: Point): Point {
  let result = IDENTITY;
  let addend = point;
  let s = scalar;
  while (s > 0n) {
    if (s & 1n) result = add(result, addend);
    addend = add(addend, addend);
    s >>= 1n;
  }
  return result;
}

const littleEndian = (bytes: Uint8Array): bigint => {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] as number);
  return n;
};

function encode(point: Point): Buffer {
  const [x, y, z] = point;
  const zi = inv(z);
  const ax = mod(x * zi);
  let n = mod(y * zi) | ((ax & 1n) << 255n);
  const out = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** The point a 32-byte encoding names, or undefined when it names none. */
function decode(bytes: Uint8Array): Point | undefined {
  if (bytes.length !== 32) return undefined;
  const n = littleEndian(bytes);
  const sign = n >> 255n;
  const y = n & ((1n << 255n) - 1n);
  if (y >= P) return undefined;
  // x² = (y² - 1) / (d y² + 1)
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  const v3 = mod(v * v * v);
  let x = mod(u * v3 * pow(mod(u * v3 * v3 * v), (P - 5n) / 8n));
  const vx2 = mod(v * x * x);
  if (vx2 === mod(-u)) x = mod(x * SQRT_M1);
  else if (vx2 !== u) return undefined;
  if (x === 0n && sign === 1n) return undefined;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y, 1n, mod(x * y)];
}

const BASE = decode(
  Buffer.from("5866666666666666666666666666666666666666666666666666666666666666", "hex"),
) as Point;

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
    if (this.#signature.length !== 64) return false;
    const a = decode(this.#publicKey);
    if (a === undefined) return false;
    const r = this.#signature.subarray(0, 32);
    const s = littleEndian(this.#signature.subarray(32));
    if (s >= L) return false;
    const k = mod(littleEndian(digest), L);
    const minusA: Point = [mod(-a[0]), a[1], a[2], mod(-a[3])];
    const check = add(multiply(s, BASE), multiply(k, minusA));
    return encode(check).equals(r);
  }
}
