// The OpenPGP keys that sign the repository: generation, loading and the rules a key must meet.
//
// Only keys that both of apt's verifiers accept get through: gpgv 2.2 (Debian 12) and Sequoia's
// sqv (Debian 13, whose policy rejects DSA, SHA-1 self-signatures and, from 2030, RSA < 3072).
// That leaves v4 keys signing with EdDSA-legacy ed25519 or RSA >= 3072. openpgp.js's newer
// `curve25519` keys (RFC 9580 Ed25519, also as v4) and v6 keys are rejected by gpgv 2.2 and
// sqv 1.1, so they are refused here with that explanation rather than failing on users' machines.
//
// Secret key material never appears in an error, a log line or JSON: errors name the input, the
// block and the fingerprint; openpgp.js's own messages are passed through a filter.
import { inspect } from "node:util";
import type { Config, Key, PartialConfig, PrivateKey, SignaturePacket } from "openpgp";
import * as openpgp from "openpgp";
import * as v from "valibot";

/** One or more signing keys cannot be used; `problems` lists each, naming the key. */
export class SigningKeyError extends Error {
  override readonly name = "SigningKeyError";

  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? String(problems[0])
        : `${problems.length} problems with the signing keys:\n- ${problems.join("\n- ")}`,
    );
  }
}

/**
 * The openpgp.js settings every signing operation uses, passed per call so that nothing depends
 * on (or changes) openpgp's global config: v4 keys, SHA-512 digests.
 */
export const OPENPGP_CONFIG = {
  v6Keys: false,
  preferredHashAlgorithm: openpgp.enums.hash.sha512,
} satisfies PartialConfig;

// Key methods (unlike the top-level functions) take a full config and do not merge defaults.
export const FULL_CONFIG: Config = { ...openpgp.config, ...OPENPGP_CONFIG };

/** Digests gpgv 2.2, sqv and apt all trust (apt's gpgv method distrusts MD5, SHA-1, RIPEMD-160). */
export const TRUSTED_HASHES: ReadonlySet<openpgp.enums.hash> = new Set([
  openpgp.enums.hash.sha256,
  openpgp.enums.hash.sha384,
  openpgp.enums.hash.sha512,
]);

const MIN_RSA_BITS = 3072;

/** `ed25519` (v4 EdDSA-legacy) or `rsa<bits>` with bits >= 3072. */
export type SigningAlgorithm = "ed25519" | `rsa${number}`;

/** A loaded, decrypted signing key that passed every rule. Created by `loadSigningKeys`. */
export class SigningKey {
  /** Fingerprint of the primary key: 40 upper-case hex digits, as gpg and apt's Signed-By show it. */
  readonly fingerprint: string;
  /** Fingerprint of the (sub)key that makes the signatures (the primary key's, or a subkey's). */
  readonly signingFingerprint: string;
  readonly algorithm: SigningAlgorithm;
  readonly userIds: readonly string[];
  readonly createdAt: Date;
  /** When the key stops being valid, or null if it never expires. */
  readonly expiresAt: Date | null;
  // A private field: not enumerable, so JSON, pino and util.inspect never reach the secret key.
  readonly #key: PrivateKey;

  /** @internal Use `loadSigningKeys`. */
  constructor(key: PrivateKey, info: KeyInfo) {
    this.#key = key;
    this.fingerprint = info.fingerprint;
    this.signingFingerprint = info.signingFingerprint;
    this.algorithm = info.algorithm;
    this.userIds = info.userIds;
    this.createdAt = info.createdAt;
    this.expiresAt = info.expiresAt;
  }

  /** The decrypted openpgp.js key: for this domain's signing and keyring code only. */
  get privateKey(): PrivateKey {
    return this.#key;
  }

  /** The public half, armored (`-----BEGIN PGP PUBLIC KEY BLOCK-----`). */
  publicKeyArmored(): string {
    return this.#key.toPublic().armor();
  }

  toJSON(): KeyInfo {
    return {
      fingerprint: this.fingerprint,
      signingFingerprint: this.signingFingerprint,
      algorithm: this.algorithm,
      userIds: this.userIds,
      createdAt: this.createdAt,
      expiresAt: this.expiresAt,
    };
  }

  [inspect.custom](): string {
    return `SigningKey ${inspect(this.toJSON())}`;
  }
}

/** What the rules learn about a key: everything about it but its secret. */
export interface KeyInfo {
  readonly fingerprint: string;
  readonly signingFingerprint: string;
  readonly algorithm: SigningAlgorithm;
  readonly userIds: readonly string[];
  readonly createdAt: Date;
  readonly expiresAt: Date | null;
}

// ---------------------------------------------------------------------------------------------
// Generation

export const GenerateSigningKeyOptionsSchema = v.object({
  /** The user ID's name, e.g. "Kiro Repository". */
  name: v.pipe(
    v.string(),
    v.trim(),
    v.nonEmpty("name must not be empty"),
    v.regex(/^[^<>\p{Cc}]+$/u, "name must not contain <, > or control characters"),
  ),
  email: v.pipe(v.string(), v.trim(), v.email("email must be an e-mail address")),
  /** `ed25519` (v4 EdDSA-legacy, the default) or `rsa4096`. */
  algorithm: v.optional(v.picklist(["ed25519", "rsa4096"]), "ed25519"),
  /** Creation time of the key and its self-signature (default: now). */
  date: v.optional(v.pipe(v.date("date must be a valid Date"))),
  /** Seconds after `date` when the key expires; absent or 0: never. */
  expiresAfterSeconds: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(0, "expiresAfterSeconds must be >= 0")),
  ),
  /** Encrypts the secret key with this passphrase; absent: stored unencrypted. */
  passphrase: v.optional(v.pipe(v.string(), v.nonEmpty("passphrase must not be empty"))),
});
export type GenerateSigningKeyOptions = v.InferInput<typeof GenerateSigningKeyOptionsSchema>;

export interface GeneratedSigningKey {
  readonly privateKeyArmored: string;
  readonly publicKeyArmored: string;
  readonly fingerprint: string;
}

/**
 * A new signing-only key: a v4 primary key with the certify and sign flags and no subkeys
 * (an archive key encrypts nothing), SHA-512 self-signature and preferences.
 */
export async function generateSigningKey(
  options: GenerateSigningKeyOptions,
): Promise<GeneratedSigningKey> {
  const parsed = v.safeParse(GenerateSigningKeyOptionsSchema, options);
  if (!parsed.success) {
    throw new SigningKeyError(
      parsed.issues.map((i) => `generateSigningKey: ${v.getDotPath(i) ?? "options"}: ${i.message}`),
    );
  }
  const o = parsed.output;
  const algorithm =
    o.algorithm === "rsa4096"
      ? ({ type: "rsa", rsaBits: 4096 } as const)
      : ({ type: "ecc", curve: "ed25519Legacy" } as const);
  const { privateKey, publicKey } = await openpgp.generateKey({
    ...algorithm,
    userIDs: [{ name: o.name, email: o.email }],
    subkeys: [],
    keyExpirationTime: o.expiresAfterSeconds ?? 0,
    ...(o.date ? { date: o.date } : {}),
    ...(o.passphrase ? { passphrase: o.passphrase } : {}),
    format: "armored",
    config: OPENPGP_CONFIG,
  });
  // Our own rules are the acceptance test of what we generate.
  const [loaded] = await loadSigningKeys(privateKey, o.passphrase, o.date ?? new Date());
  if (!loaded) throw new Error("internal: a generated key did not load");
  return {
    privateKeyArmored: privateKey,
    publicKeyArmored: publicKey,
    fingerprint: loaded.fingerprint,
  };
}

// ---------------------------------------------------------------------------------------------
// Loading

const ArmoredInputSchema = v.union(
  [
    v.string(),
    v.pipe(v.array(v.string()), v.minLength(1, "the list of armored keys must not be empty")),
  ],
  "expected an armored private key (string) or a list of them",
);
const PassphraseSchema = v.optional(v.string("the passphrase must be a string"));

/**
 * Reads, decrypts and checks one or more armored private keys. Each string may hold several
 * armored blocks and each block several keys. Throws a `SigningKeyError` listing every key
 * that breaks a rule (not a private key, encrypted without passphrase, wrong passphrase, v6,
 * RFC 9580 Ed25519, RSA < 3072, DSA, expired, revoked, SHA-1 self-signature, no signing key).
 *
 * `now` (default: the current time) is when keys must be valid.
 */
export async function loadSigningKeys(
  armored: string | readonly string[],
  passphrase?: string,
  now: Date = new Date(),
): Promise<SigningKey[]> {
  const input = v.safeParse(ArmoredInputSchema, armored);
  if (!input.success) throw new SigningKeyError([`loadSigningKeys: ${input.issues[0].message}`]);
  const pass = v.safeParse(PassphraseSchema, passphrase);
  if (!pass.success) throw new SigningKeyError([`loadSigningKeys: ${pass.issues[0].message}`]);
  const texts = typeof input.output === "string" ? [input.output] : input.output;

  const problems: string[] = [];
  const loaded: SigningKey[] = [];
  for (const [i, text] of texts.entries()) {
    const where = texts.length === 1 ? "the armored key text" : `armored key text #${i + 1}`;
    for (const block of armoredBlocks(text, where, problems)) {
      if (block.type !== "PRIVATE KEY BLOCK") {
        problems.push(
          `${block.where} is a PGP ${block.type}, not a private key (expected -----BEGIN PGP PRIVATE KEY BLOCK-----)`,
        );
        continue;
      }
      let keys: PrivateKey[];
      try {
        keys = await openpgp.readPrivateKeys({ armoredKeys: block.text, config: OPENPGP_CONFIG });
      } catch (e) {
        problems.push(`${block.where}: cannot read the private key (${safeReason(e)})`);
        continue;
      }
      for (const key of keys) {
        const result = await loadOne(key, block.where, pass.output, now);
        if (typeof result === "string") problems.push(result);
        else loaded.push(result);
      }
    }
  }
  const seen = new Set<string>();
  for (const key of loaded) {
    if (seen.has(key.fingerprint)) problems.push(`key ${key.fingerprint} is given more than once`);
    seen.add(key.fingerprint);
  }
  if (problems.length > 0) throw new SigningKeyError(problems);
  if (loaded.length === 0)
    throw new SigningKeyError(["loadSigningKeys: no key found in the input"]);
  return loaded;
}

async function loadOne(
  key: PrivateKey,
  blockWhere: string,
  passphrase: string | undefined,
  now: Date,
): Promise<SigningKey | string> {
  const where = `${blockWhere}: key ${fingerprintOf(key)}`;
  if (!key.isPrivate()) return `${where} holds no secret key (it is a public key)`;
  const info = await checkKey(key, where, now);
  if (typeof info === "string") return info;

  const signing = key.getKeys().find((k) => fingerprintOf(k) === info.signingFingerprint);
  const packet = signing?.keyPacket;
  if (
    !packet ||
    !("isDummy" in packet) ||
    packet.isDummy() ||
    packet.isMissingSecretKeyMaterial()
  ) {
    return `${where}: the secret part of its signing key ${info.signingFingerprint} is missing (a stub, e.g. exported with --export-secret-subkeys from the wrong key)`;
  }
  let usable = key;
  if (!packet.isDecrypted()) {
    if (passphrase === undefined) {
      return `${where} is encrypted: give its passphrase`;
    }
    try {
      usable = await openpgp.decryptKey({ privateKey: key, passphrase, config: OPENPGP_CONFIG });
    } catch (e) {
      return `${where}: cannot decrypt it with the given passphrase (${safeReason(e)})`;
    }
  } else {
    try {
      // Proves the secret numbers match the public key (decryptKey does this itself).
      await packet.validate();
    } catch (e) {
      return `${where}: its secret key does not match its public key (${safeReason(e)})`;
    }
  }
  return new SigningKey(usable, info);
}

/**
 * The rules every signing key (public or private) must meet at `now`. Returns what was learnt
 * about the key, or the first broken rule as a message that starts with `where`.
 * Shared with the keyring export, which applies the same rules to public keys.
 */
export async function checkKey(key: Key, where: string, now: Date): Promise<KeyInfo | string> {
  if (key.keyPacket.version !== 4) {
    return `${where} is a v${key.keyPacket.version} key: gpgv 2.2 and sqv 1.1 (Debian 12) cannot verify its signatures; use a v4 ed25519 (EdDSA-legacy) or RSA >= ${MIN_RSA_BITS} key`;
  }
  // The primary key is checked even when a subkey signs: sqv applies its policy to the
  // primary key's binding signatures too.
  const primaryAlgorithm = signingAlgorithm(key);
  if (typeof primaryAlgorithm !== "string")
    return `${where}: primary key: ${primaryAlgorithm.problem}`;
  try {
    await key.verifyPrimaryKey(now, undefined, FULL_CONFIG);
  } catch (e) {
    const reason = safeReason(e);
    if (/revoked/i.test(reason)) return `${where} is revoked`;
    if (/expired/i.test(reason)) {
      const expiry = await expirationOf(key);
      return `${where} expired${expiry ? ` on ${expiry.toISOString()}` : ""}`;
    }
    return `${where} is not valid at ${now.toISOString()} (${reason})`;
  }
  const { selfCertification } = await key.getPrimaryUser(now, undefined, FULL_CONFIG);
  const weakUserSig = weakHash(selfCertification);
  if (weakUserSig) {
    return `${where}: its user ID self-signature uses ${weakUserSig}, which sqv rejects (SHA-1 since 2023-02-01); re-sign it with SHA-512 (e.g. gpg --cert-digest-algo SHA512 --quick-set-expire)`;
  }

  let signing: Key | openpgp.Subkey;
  try {
    signing = await key.getSigningKey(undefined, now, undefined, FULL_CONFIG);
  } catch (e) {
    return `${where} has no valid signing-capable key or subkey at ${now.toISOString()} (${safeReason(e)})`;
  }
  let algorithm = primaryAlgorithm;
  if (signing instanceof openpgp.Subkey) {
    const subWhere = `${where}: signing subkey ${fingerprintOf(signing)}`;
    const subAlgorithm = signingAlgorithm(signing);
    if (typeof subAlgorithm !== "string") return `${subWhere}: ${subAlgorithm.problem}`;
    algorithm = subAlgorithm;
    const binding = await signing.verify(now, FULL_CONFIG);
    const back = binding.embeddedSignature;
    const weak = weakHash(binding) ?? (back ? weakHash(back) : undefined);
    if (weak) {
      return `${subWhere}: its binding signature uses ${weak}, which sqv rejects; re-bind it with SHA-512`;
    }
  }
  return {
    fingerprint: fingerprintOf(key),
    signingFingerprint: fingerprintOf(signing),
    algorithm,
    userIds: key.getUserIDs(),
    createdAt: key.getCreationTime(),
    expiresAt: await expirationOf(key),
  };
}

/** The algorithm of a key that makes signatures, or why it may not. */
function signingAlgorithm(key: Key | openpgp.Subkey): SigningAlgorithm | { problem: string } {
  const info = key.getAlgorithmInfo();
  switch (info.algorithm) {
    case "eddsaLegacy":
      if (info.curve === "ed25519Legacy") return "ed25519";
      return { problem: `EdDSA on curve ${info.curve} is not supported; use ed25519` };
    case "rsaEncryptSign":
    case "rsaSign": {
      const bits = info.bits ?? 0;
      if (bits < MIN_RSA_BITS) {
        return {
          problem: `RSA-${bits} is too weak: sqv rejects RSA below ${MIN_RSA_BITS} bits from 2030 (apt warns a year ahead); use RSA >= ${MIN_RSA_BITS} or ed25519`,
        };
      }
      return `rsa${bits}`;
    }
    case "dsa":
      return {
        problem: `DSA is rejected by sqv, which verifies apt's signatures since Debian 13; use ed25519 or RSA >= ${MIN_RSA_BITS}`,
      };
    case "ed25519":
    case "ed448":
      return {
        problem: `${info.algorithm === "ed25519" ? "RFC 9580 Ed25519 (openpgp.js type 'curve25519')" : "Ed448"} is rejected by gpgv 2.2 and sqv 1.1 (Debian 12); use a v4 EdDSA-legacy key (openpgp.js type 'ecc', curve 'ed25519Legacy') or RSA >= ${MIN_RSA_BITS}`,
      };
    default:
      return {
        problem: `${info.algorithm} keys cannot sign the repository; use ed25519 (EdDSA-legacy) or RSA >= ${MIN_RSA_BITS}`,
      };
  }
}

function weakHash(sig: SignaturePacket): string | undefined {
  if (sig.hashAlgorithm === null || TRUSTED_HASHES.has(sig.hashAlgorithm)) return undefined;
  return openpgp.enums.read(openpgp.enums.hash, sig.hashAlgorithm).toUpperCase();
}

async function expirationOf(key: Key): Promise<Date | null> {
  try {
    const t = await key.getExpirationTime(undefined, FULL_CONFIG);
    return t instanceof Date ? t : null;
  } catch {
    return null;
  }
}

export function fingerprintOf(key: Key | openpgp.Subkey): string {
  return key.getFingerprint().toUpperCase();
}

// ---------------------------------------------------------------------------------------------
// Armor

export interface ArmoredBlock {
  /** e.g. `PRIVATE KEY BLOCK`, `PUBLIC KEY BLOCK`. */
  readonly type: string;
  readonly text: string;
  readonly where: string;
}

const BLOCK = /-----BEGIN PGP ([A-Z0-9 ,/]+)-----\r?\n[\s\S]*?-----END PGP \1-----/g;

/**
 * Every armored block in `text`. openpgp.js reads only the first block of a string and silently
 * ignores the rest, so blocks are split here; anything but whitespace between them is a problem.
 */
export function armoredBlocks(text: string, where: string, problems: string[]): ArmoredBlock[] {
  if (!text.includes("\n") && text.includes("\\n")) {
    problems.push(
      `${where} has its line breaks escaped as "\\n" (stored as one line); store it with real newlines`,
    );
    return [];
  }
  const blocks = [...text.matchAll(BLOCK)];
  const outside = text.replace(BLOCK, "").trim().length;
  if (blocks.length === 0) {
    problems.push(`${where} holds no armored OpenPGP block (-----BEGIN PGP ...-----)`);
    return [];
  }
  if (outside > 0) {
    // Never quote it: it may be (damaged) key material.
    problems.push(`${where} has ${outside} characters outside its armored blocks`);
    return [];
  }
  return blocks.map((m, j) => ({
    type: String(m[1]),
    text: m[0],
    where: blocks.length === 1 ? where : `${where}, block #${j + 1}`,
  }));
}

/**
 * openpgp.js's error message, with anything that looks like encoded key material removed, so
 * that errors can be logged.
 */
export function safeReason(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.replace(/[A-Za-z0-9+/=]{16,}/g, "[…]").slice(0, 200);
}
