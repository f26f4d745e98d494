// Signing a suite's Release: InRelease (cleartext-signed) and Release.gpg (detached, armored).
//
// apt reads InRelease by splitting it itself (apt-pkg/contrib/gpgv.cc, SplitClearSignedFile):
// it strips each line's CR/LF and trailing blanks, undoes "- " dash-escapes and joins the lines
// with "\n", dropping the line break before -----BEGIN PGP SIGNATURE-----; gpgv then checks the
// signature over that text and apt parses the very same text. So the text apt reads equals the
// Release bytes exactly when (a) no line ends with a blank or carries a CR (checked here) and
// (b) the cleartext body is the Release followed by one line break (what openpgp.js writes).
//
// openpgp.js quirks handled here:
// - it writes the cleartext body with CRLF line endings (its canonical form) but the armor with
//   LF; the CRs are removed so that InRelease is a plain LF file like Debian's own. The
//   signature is over the canonical form either way, so verification is unaffected.
// - it silently strips trailing blanks from cleartext lines, so a Release with them would be
//   signed as a different text than the Release file: such input is refused.
import * as openpgp from "openpgp";
import * as v from "valibot";
import { OPENPGP_CONFIG, SigningKey, SigningKeyError, safeReason, TRUSTED_HASHES } from "./keys";

export interface SignedRelease {
  /** The cleartext-signed Release (`dists/<suite>/InRelease`). */
  readonly inRelease: string;
  /** The armored detached signature over the UTF-8 bytes of the Release (`Release.gpg`). */
  readonly releaseGpg: string;
}

/** Why a line of a Release cannot be signed as cleartext without apt reading other bytes. */
function lineProblem(line: string): string | undefined {
  if (line.includes("\r")) return "contains a carriage return";
  if (/[ \t]$/.test(line)) return "ends with a blank, which cleartext signatures strip";
  if (line.includes("\0")) return "contains a NUL byte";
  if (/\p{Cs}/u.test(line)) return "contains a lone UTF-16 surrogate (not encodable as UTF-8)";
  return undefined;
}

export const ReleaseTextSchema = v.pipe(
  v.string("the Release must be a string"),
  v.nonEmpty("the Release is empty"),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const lines = dataset.value.split("\n");
    let reported = 0;
    for (const [i, line] of lines.entries()) {
      const problem = lineProblem(line);
      if (problem && reported++ < 5) addIssue({ message: `Release line ${i + 1} ${problem}` });
    }
  }),
);

const SignArgsSchema = v.object({
  release: ReleaseTextSchema,
  keys: v.pipe(
    v.array(v.instance(SigningKey, "expected SigningKey objects from loadSigningKeys")),
    v.minLength(1, "at least one signing key is needed"),
  ),
  date: v.pipe(v.date("the signing date must be a valid Date")),
});

/**
 * Signs a Release with every key (during a rotation, the current and the next key both sign),
 * with SHA-512 digests. `date` (default: now) is the signatures' creation time.
 * Both outputs are verified with openpgp.js before they are returned.
 */
export async function signRelease(
  release: string,
  keys: readonly SigningKey[],
  date: Date = new Date(),
): Promise<SignedRelease> {
  const parsed = v.safeParse(SignArgsSchema, { release, keys, date });
  if (!parsed.success) {
    throw new SigningKeyError(
      parsed.issues.map((i) => `signRelease: ${v.getDotPath(i) ?? "input"}: ${i.message}`),
    );
  }
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const key of keys) {
    if (seen.has(key.fingerprint)) problems.push(`key ${key.fingerprint} is given more than once`);
    seen.add(key.fingerprint);
    if (date < key.createdAt) {
      problems.push(
        `key ${key.fingerprint} was created at ${key.createdAt.toISOString()}, after the signing date ${date.toISOString()}`,
      );
    }
    if (key.expiresAt && date >= key.expiresAt) {
      problems.push(`key ${key.fingerprint} expired on ${key.expiresAt.toISOString()}`);
    }
  }
  if (problems.length > 0) throw new SigningKeyError(problems);

  const signingKeys = keys.map((k) => k.privateKey);
  const bytes = new TextEncoder().encode(release);
  let cleartext: string;
  let releaseGpg: string;
  try {
    cleartext = await openpgp.sign({
      message: await openpgp.createCleartextMessage({ text: release }),
      signingKeys,
      date,
      format: "armored",
      config: OPENPGP_CONFIG,
    });
    releaseGpg = await openpgp.sign({
      message: await openpgp.createMessage({ binary: bytes }),
      signingKeys,
      detached: true,
      date,
      format: "armored",
      config: OPENPGP_CONFIG,
    });
  } catch (e) {
    throw new SigningKeyError([`cannot sign the Release: ${safeReason(e)}`]);
  }
  // The Release has no CR (checked above), so every CR is openpgp.js's canonical line ending.
  const inRelease = cleartext.replaceAll("\r\n", "\n");
  await selfCheck(release, bytes, inRelease, releaseGpg, keys, date);
  return { inRelease, releaseGpg };
}

/** Refuses to return signatures that are not exactly what apt needs. */
async function selfCheck(
  release: string,
  bytes: Uint8Array,
  inRelease: string,
  releaseGpg: string,
  keys: readonly SigningKey[],
  date: Date,
): Promise<void> {
  const fail = (what: string): never => {
    throw new Error(`internal: the signed Release fails its self-check: ${what}`);
  };
  const publicKeys = keys.map((k) => k.privateKey.toPublic());
  const expectedSigners = new Set(keys.map((k) => k.signingFingerprint));

  const cleartext = await openpgp.readCleartextMessage({
    cleartextMessage: inRelease,
    config: OPENPGP_CONFIG,
  });
  const detached = await openpgp.readSignature({
    armoredSignature: releaseGpg,
    config: OPENPGP_CONFIG,
  });
  const inlinePackets = await Promise.all(
    (
      await openpgp.verify({
        message: cleartext,
        verificationKeys: publicKeys,
        date,
        config: OPENPGP_CONFIG,
      })
    ).signatures.map((s) => s.verified.then(() => s.signature)),
  ).catch((e: unknown) => fail(`InRelease: ${safeReason(e)}`));
  const detachedPackets = await Promise.all(
    (
      await openpgp.verify({
        message: await openpgp.createMessage({ binary: bytes }),
        signature: detached,
        verificationKeys: publicKeys,
        date,
        format: "binary",
        config: OPENPGP_CONFIG,
      })
    ).signatures.map((s) => s.verified.then(() => s.signature)),
  ).catch((e: unknown) => fail(`Release.gpg: ${safeReason(e)}`));

  for (const [name, signatures] of [
    ["InRelease", inlinePackets],
    ["Release.gpg", detachedPackets],
  ] as const) {
    const packets = signatures.flatMap((s) => [...s.packets]);
    if (packets.length !== keys.length) fail(`${name} has ${packets.length} signatures`);
    const signers = new Set(
      packets.map((p) =>
        Buffer.from(p.issuerFingerprint ?? [])
          .toString("hex")
          .toUpperCase(),
      ),
    );
    for (const fpr of expectedSigners) if (!signers.has(fpr)) fail(`${name} lacks ${fpr}`);
    for (const p of packets) {
      if (p.hashAlgorithm === null || !TRUSTED_HASHES.has(p.hashAlgorithm)) {
        fail(`${name} uses digest ${p.hashAlgorithm}`);
      }
    }
  }
  // What apt will read: the header, then the dash-escaped Release, then one line break.
  const inlineHashes = inlinePackets.flatMap((s) =>
    [...s.packets].flatMap((p) => (p.hashAlgorithm === null ? [] : [p.hashAlgorithm])),
  );
  const hashes = [...new Set(inlineHashes)]
    .map((h) => openpgp.enums.read(openpgp.enums.hash, h).toUpperCase())
    .join(",");
  const expected = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: ${hashes}\n\n${release.replace(/^-/gm, "- -")}\n-----BEGIN PGP SIGNATURE-----\n`;
  if (!inRelease.startsWith(expected)) fail("InRelease does not frame the Release as expected");
  if (cleartext.getText() !== release) fail("InRelease's text differs from the Release");
}
