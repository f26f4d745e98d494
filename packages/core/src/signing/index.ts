// Signing: the repository's OpenPGP keys, the signed Release (InRelease, Release.gpg) and the
// public keyring apt trusts.

export {
  assertKeyIds,
  describeKeyIdMismatch,
  type KeyIdMismatch,
  keyIdMismatch,
  keyringFingerprints,
  signatureFingerprints,
} from "./key-ids";
export { exportKeyring, type Keyring } from "./keyring";
export {
  type GeneratedSigningKey,
  type GenerateSigningKeyOptions,
  GenerateSigningKeyOptionsSchema,
  generateSigningKey,
  type KeyInfo,
  loadSigningKeys,
  type SigningAlgorithm,
  SigningKey,
  SigningKeyError,
} from "./keys";
export { ReleaseTextSchema, type SignedRelease, signRelease } from "./sign";
