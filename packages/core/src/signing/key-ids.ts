// Which keys are meant to sign (the stage's `signing.key_ids`) against which keys the signing
// secret holds, and which keys signed a published Release. During a rotation both lists name
// two keys; any disagreement means the repository would be signed by a key users were never
// told about, or not by the key they trust.
import * as openpgp from "openpgp";
import { OPENPGP_CONFIG, SigningKeyError, safeReason } from "./keys";

export interface KeyIdMismatch {
  /** Fingerprints in the secret that `signing.key_ids` does not list (upper-case hex). */
  readonly unlisted: readonly string[];
  /** Fingerprints `signing.key_ids` lists that the secret does not hold (upper-case hex). */
  readonly absent: readonly string[];
}

const norm = (fingerprint: string): string => fingerprint.replace(/\s+/g, "").toUpperCase();

/**
 * Compares the secret's primary key fingerprints with the configured ones (case and spaces
 * ignored). Undefined when they agree. An empty configured list means "not configured" (the
 * local stage generates its key) and agrees with any secret.
 */
export function keyIdMismatch(
  secretFingerprints: readonly string[],
  configured: readonly string[],
): KeyIdMismatch | undefined {
  if (configured.length === 0) return undefined;
  const secret = new Set(secretFingerprints.map(norm));
  const listed = new Set(configured.map(norm));
  const unlisted = [...secret].filter((f) => !listed.has(f)).sort();
  const absent = [...listed].filter((f) => !secret.has(f)).sort();
  return unlisted.length === 0 && absent.length === 0 ? undefined : { unlisted, absent };
}

/** The mismatch as a sentence naming every key that disagrees, and where to fix it. */
export function describeKeyIdMismatch(m: KeyIdMismatch): string {
  const parts: string[] = [];
  if (m.unlisted.length > 0)
    parts.push(`the signing secret holds ${m.unlisted.join(", ")}, not in signing.key_ids`);
  if (m.absent.length > 0)
    parts.push(`signing.key_ids lists ${m.absent.join(", ")}, not in the signing secret`);
  return `${parts.join("; ")} (set the stage's signing.key_ids to the secret's fingerprints, or the secret to the listed keys)`;
}

/**
 * Throws a SigningKeyError unless the secret's keys are exactly the configured ones. The
 * publisher calls this before it signs anything.
 */
export function assertKeyIds(
  secretFingerprints: readonly string[],
  configured: readonly string[],
): void {
  const m = keyIdMismatch(secretFingerprints, configured);
  if (m !== undefined) throw new SigningKeyError([`refusing to sign: ${describeKeyIdMismatch(m)}`]);
}

/**
 * The issuer fingerprints (upper-case hex) of an armored detached signature (Release.gpg)
 * or of a cleartext-signed message (InRelease), in signature order. The signatures are not
 * verified here: this answers "which keys claim to have signed".
 */
export async function signatureFingerprints(armored: string): Promise<string[]> {
  // A cleartext-signed message ends with its signature block: read that block alone.
  const start = armored.indexOf("-----BEGIN PGP SIGNATURE-----");
  const block = start < 0 ? armored : armored.slice(start);
  let packets: openpgp.SignaturePacket[];
  try {
    const signature = await openpgp.readSignature({
      armoredSignature: block,
      config: OPENPGP_CONFIG,
    });
    packets = [...signature.packets];
  } catch (e) {
    throw new SigningKeyError([`cannot read the signature (${safeReason(e)})`]);
  }
  return packets.map((p) =>
    p.issuerFingerprint === null
      ? `key ID ${p.issuerKeyID.toHex().toUpperCase()}`
      : Buffer.from(p.issuerFingerprint).toString("hex").toUpperCase(),
  );
}

/** Primary key fingerprints (upper-case hex, sorted) of a keyring: binary (.gpg) or armored. */
export async function keyringFingerprints(keyring: Uint8Array | string): Promise<string[]> {
  try {
    const keys =
      typeof keyring === "string"
        ? await openpgp.readKeys({ armoredKeys: keyring, config: OPENPGP_CONFIG })
        : await openpgp.readKeys({ binaryKeys: keyring, config: OPENPGP_CONFIG });
    return keys.map((k) => k.getFingerprint().toUpperCase()).sort();
  } catch (e) {
    throw new SigningKeyError([`cannot read the keyring (${safeReason(e)})`]);
  }
}
