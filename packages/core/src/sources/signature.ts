// The vendor's signature over a .deb: `signature.bin` made with the key of `certificate.pem`,
// verified as the bytes stream past: RSA or ECDSA over SHA-256 (as `openssl dgst -sha256 -sign`
// makes it), or Ed25519 (as `openssl pkeyutl -sign -rawin` makes it; see ed25519.ts). The
// certificate must be valid (notBefore ≤ now ≤ notAfter) when the package is ingested, and the
// config may pin it by SHA-256 fingerprint or subject.
import { createVerify, X509Certificate } from "node:crypto";
import type { UpstreamSource } from "../config/schema";
import { Ed25519StreamVerifier } from "./ed25519";

export class SignatureError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = "SignatureError";
  }
}

export type CertificatePin = NonNullable<UpstreamSource["certificate"]>;

export interface SignatureInput {
  readonly certificatePem: string;
  readonly signature: Uint8Array;
  readonly pin?: CertificatePin;
}

interface StreamCheck {
  update(chunk: Uint8Array): void;
  /** Whether the signature holds; throws when it cannot be checked at all. */
  verify(): boolean;
}

/** A certificate's validity as Dates (Node prints them as `Dec  2 15:00:00 2026 GMT`). */
function validity(certificate: X509Certificate): { from: Date; to: Date } {
  return { from: new Date(certificate.validFrom), to: new Date(certificate.validTo) };
}

/**
 * Feed with the .deb's bytes in order, then `verify()`; throws SignatureError. The certificate
 * (parse, pin, validity at `now`, key type) is checked by the constructor, before any byte.
 */
export class SignatureVerifier {
  readonly #certificate: X509Certificate;
  readonly #check: StreamCheck;

  constructor(
    input: SignatureInput,
    readonly source: string,
    now: Date = new Date(),
  ) {
    try {
      this.#certificate = new X509Certificate(input.certificatePem);
    } catch (error) {
      throw new SignatureError(
        source,
        `the certificate is not a PEM X.509 certificate (${(error as Error).message})`,
      );
    }
    const pin = input.pin;
    if (pin?.sha256_fingerprint !== undefined) {
      const actual = this.#certificate.fingerprint256.toUpperCase();
      if (actual !== pin.sha256_fingerprint) {
        throw new SignatureError(
          source,
          `the certificate's SHA-256 fingerprint is ${actual}, not the pinned ${pin.sha256_fingerprint}`,
        );
      }
    }
    if (pin?.subject !== undefined && this.#certificate.subject !== pin.subject) {
      throw new SignatureError(
        source,
        `the certificate's subject is ${JSON.stringify(this.#certificate.subject)}, not the pinned ${JSON.stringify(pin.subject)}`,
      );
    }
    const { from, to } = validity(this.#certificate);
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
      throw new SignatureError(
        source,
        `the certificate's validity (${this.#certificate.validFrom} to ${this.#certificate.validTo}) cannot be read`,
      );
    }
    if (now < from) {
      throw new SignatureError(
        source,
        `the certificate is not valid yet: notBefore ${from.toISOString()}, now ${now.toISOString()}`,
      );
    }
    if (now > to) {
      throw new SignatureError(
        source,
        `the certificate has expired: notAfter ${to.toISOString()}, now ${now.toISOString()}`,
      );
    }
    if (input.signature.length === 0) throw new SignatureError(source, "the signature is empty");
    this.#check = this.#checkFor(input.signature);
  }

  #checkFor(signature: Uint8Array): StreamCheck {
    const key = this.#certificate.publicKey;
    const type = key.asymmetricKeyType;
    if (type === "ed25519") {
      const x = key.export({ format: "jwk" }).x;
      if (x === undefined) throw new SignatureError(this.source, "the Ed25519 key has no x");
      if (signature.length !== 64) {
        throw new SignatureError(
          this.source,
          `an Ed25519 signature is 64 bytes, this one is ${signature.length}`,
        );
      }
      return new Ed25519StreamVerifier(Buffer.from(x, "base64url"), signature);
    }
    if (type === "rsa" || type === "ec") {
      const verifier = createVerify("sha256");
      return {
        update: (chunk) => verifier.update(chunk),
        verify: () => verifier.verify(key, signature),
      };
    }
    throw new SignatureError(
      this.source,
      `the certificate's key is ${type ?? "of an unknown type"}; RSA, ECDSA and Ed25519 are supported`,
    );
  }

  update(chunk: Uint8Array): void {
    this.#check.update(chunk);
  }

  verify(): void {
    let ok: boolean;
    try {
      ok = this.#check.verify();
    } catch (error) {
      throw new SignatureError(
        this.source,
        `cannot check the signature (${(error as Error).message})`,
      );
    }
    if (!ok) {
      throw new SignatureError(
        this.source,
        `bad signature: the file is not what ${JSON.stringify(this.#certificate.subject)} signed`,
      );
    }
  }
}
