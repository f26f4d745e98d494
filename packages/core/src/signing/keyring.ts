// The public keyring that apt trusts for the repository: binary for
// `/usr/share/keyrings/<name>-archive-keyring.gpg` (what `Signed-By` names and kiro-repo ships),
// armored for `<name>-archive-keyring.asc`. During a rotation it holds the current and the next
// key. Public keys only: the export is re-read and refused if any secret material is in it.

import type { PublicKey } from "openpgp";
import * as openpgp from "openpgp";
import * as v from "valibot";
import {
  armoredBlocks,
  checkKey,
  FULL_CONFIG,
  fingerprintOf,
  OPENPGP_CONFIG,
  SigningKey,
  SigningKeyError,
  safeReason,
} from "./keys";

export interface Keyring {
  /** Concatenated binary public keys (an OpenPGP keyring file, as `gpg --export` writes). */
  readonly binary: Uint8Array;
  /** The same keys in one armored PUBLIC KEY BLOCK. */
  readonly armored: string;
  /** Primary key fingerprints, in keyring order (sorted). */
  readonly fingerprints: readonly string[];
}

const KeyringInputSchema = v.pipe(
  v.array(
    v.union(
      [v.string(), v.instance(SigningKey)],
      "expected armored public keys (strings) or SigningKey objects",
    ),
  ),
  v.minLength(1, "a keyring needs at least one key"),
);

// apt (gpgv.cc) accepts a binary keyring only if it starts with a public key packet tag.
const APT_KEYRING_FIRST_BYTES = new Set([0x98, 0x99, 0xc6]);

/**
 * The keyring of the given keys: armored public keys (each string may hold several blocks and
 * keys) or loaded signing keys, whose public part is taken. Every key must meet the signing
 * rules at `now` (default: the current time). Keys given twice are merged. The output depends
 * only on the set of keys: keys are sorted by fingerprint.
 */
export async function exportKeyring(
  keys: ReadonlyArray<string | SigningKey>,
  now: Date = new Date(),
): Promise<Keyring> {
  const input = v.safeParse(KeyringInputSchema, keys);
  if (!input.success) {
    throw new SigningKeyError(
      input.issues.map((i) => `exportKeyring: ${v.getDotPath(i) ?? "input"}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const byFingerprint = new Map<string, PublicKey>();
  const add = async (key: PublicKey, where: string): Promise<void> => {
    const info = await checkKey(key, where, now);
    if (typeof info === "string") {
      problems.push(info);
      return;
    }
    const known = byFingerprint.get(info.fingerprint);
    byFingerprint.set(info.fingerprint, known ? await known.update(key, now, FULL_CONFIG) : key);
  };

  for (const [i, item] of input.output.entries()) {
    const where = `keyring input #${i + 1}`;
    if (item instanceof SigningKey) {
      await add(item.privateKey.toPublic(), `${where}: key ${item.fingerprint}`);
      continue;
    }
    for (const block of armoredBlocks(item, where, problems)) {
      if (block.type !== "PUBLIC KEY BLOCK") {
        problems.push(
          `${block.where} is a PGP ${block.type}; a keyring takes public keys only (pass the SigningKey to export its public part)`,
        );
        continue;
      }
      let read: openpgp.Key[];
      try {
        read = await openpgp.readKeys({ armoredKeys: block.text, config: OPENPGP_CONFIG });
      } catch (e) {
        problems.push(`${block.where}: cannot read the public key (${safeReason(e)})`);
        continue;
      }
      for (const key of read) {
        const keyWhere = `${block.where}: key ${fingerprintOf(key)}`;
        if (key.isPrivate()) problems.push(`${keyWhere} contains secret key material`);
        else await add(key, keyWhere);
      }
    }
  }
  if (problems.length > 0) throw new SigningKeyError(problems);

  const fingerprints = [...byFingerprint.keys()].sort();
  const parts = fingerprints.map((f) => (byFingerprint.get(f) as PublicKey).write());
  const binary = new Uint8Array(Buffer.concat(parts));
  await assertPublicOnly(binary, fingerprints);
  const armored = openpgp.armor(
    openpgp.enums.armor.publicKey,
    binary,
    undefined,
    undefined,
    undefined,
    true, // the CRC line, as openpgp.js writes for v4 keys (works around GnuPG bug T7071)
    FULL_CONFIG,
  );
  return { binary, armored, fingerprints };
}

/** Re-reads the export: exactly the expected public keys, and nothing secret. */
async function assertPublicOnly(
  binary: Uint8Array,
  fingerprints: readonly string[],
): Promise<void> {
  const reread = await openpgp.readKeys({ binaryKeys: binary, config: OPENPGP_CONFIG });
  const ok =
    APT_KEYRING_FIRST_BYTES.has(binary[0] ?? 0) &&
    reread.length === fingerprints.length &&
    reread.every((k, i) => !k.isPrivate() && fingerprintOf(k) === fingerprints[i]);
  if (!ok) throw new Error("internal: the exported keyring is not exactly the public keys");
}
