// The vendor's signature over a .deb: `signature.bin` made with the key of `certificate.pem`,
// verified as the bytes stream past (RSA or ECDSA over SHA-256, as `openssl dgst -sha256
// -sign` makes it). The config may pin the certificate by SHA-256 fingerprint or subject.
import { createVerify, X509Certificate } from "node:crypto";
import type { UpstreamSource } from "../config/schema";

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

/** Feed with the .deb's bytes in order, then `verify()`; throws SignatureError. */
export class SignatureVerifier {
  readonly #certificate: X509Certificate;
  readonly #verify = createVerify("sha256");
  readonly #signature: Uint8Array;

  constructor(
    input: SignatureInput,
    readonly source: string,
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
    if (input.signature.length === 0) throw new SignatureError(source, "the signature is empty");
    this.#signature = input.signature;
  }

  update(chunk: Uint8Array): void {
    this.#verify.update(chunk);
  }

  verify(): void {
    let ok: boolean;
    try {
      ok = this.#verify.verify(this.#certificate.publicKey, this.#signature);
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
