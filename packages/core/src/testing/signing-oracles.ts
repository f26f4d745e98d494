// Test support, not exported by index.ts: Debian's verifiers as oracles for signed Releases and
// keyrings. gpgv always runs with a scratch --homedir, so the machine's GnuPG state is never
// touched. A missing tool throws (oracle tests never skip).
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run, runOk, scratch } from "./exec";

/** A scratch directory (readable by apt's methods) with helpers to write files into it. */
export function workdir(prefix = "sig-") {
  const { dir, cleanup } = scratch(prefix);
  chmodSync(dir, 0o755);
  const path = (name: string) => join(dir, name);
  const write = (name: string, data: string | Uint8Array) => {
    writeFileSync(path(name), data);
    return path(name);
  };
  return { dir, path, write, cleanup };
}

export interface GpgvResult {
  readonly status: number;
  /** Primary key fingerprints of good, valid signatures (VALIDSIG). */
  readonly valid: readonly string[];
  /** OpenPGP digest ids of those signatures (8 SHA256, 10 SHA512). */
  readonly digests: readonly number[];
  /** Long key ids with no key in the keyring (NO_PUBKEY). */
  readonly noPubkey: readonly string[];
  /** Long key ids of bad signatures (BADSIG). */
  readonly bad: readonly string[];
  /** Status lines, for failure messages. */
  readonly statusLines: string;
  readonly stderr: string;
}

/** `gpgv --keyring <keyring> files...` with its machine-readable status parsed. */
export function gpgv(keyring: string, files: readonly string[], output?: string): GpgvResult {
  const { dir: home, cleanup } = scratch("gpgv-home-");
  try {
    const result = run("gpgv", [
      "--homedir",
      home,
      "--status-fd",
      "1",
      "--keyring",
      keyring,
      ...(output ? ["--output", output] : []),
      ...files,
    ]);
    const lines = result.stdout.split("\n").filter((l) => l.startsWith("[GNUPG:] "));
    const fields = (tag: string) =>
      lines.filter((l) => l.startsWith(`[GNUPG:] ${tag} `)).map((l) => l.split(" ").slice(2));
    const validsig = fields("VALIDSIG");
    return {
      status: result.status,
      valid: validsig.map((t) => String(t[9] ?? t[0])),
      digests: validsig.map((t) => Number(t[7])),
      noPubkey: fields("NO_PUBKEY").map((t) => String(t[0])),
      bad: fields("BADSIG").map((t) => String(t[0])),
      statusLines: lines.join("\n"),
      stderr: result.stderr,
    };
  } finally {
    cleanup();
  }
}

let sqvHelp: string | undefined;

/**
 * `sqv --keyring <keyring> <sig> <data>` (detached only: sqv 1.1 cannot read cleartext). With
 * an sqv that has `--policy-as-of` (>= 1.2), the policy is taken one year ahead, as apt warns a
 * year before Sequoia's policy changes; sqv 1.1 (Debian 12) lacks it and uses today's policy.
 */
export function sqv(keyring: string, signature: string, data: string) {
  sqvHelp ??= runOk("sqv", ["--help"]).stdout;
  const yearAhead = new Date(Date.now() + 365 * 24 * 3600 * 1000).toISOString().slice(0, 19);
  const policy = sqvHelp.includes("--policy-as-of") ? ["--policy-as-of", yearAhead] : [];
  const result = run("sqv", ["--keyring", keyring, ...policy, signature, data]);
  return {
    ...result,
    signers: result.stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^[0-9A-F]{40}$/.test(l)),
  };
}

/**
 * apt's reading of a clear-signed file, ported from apt-pkg/contrib/gpgv.cc
 * (SplitClearSignedFile, apt 2.6+): the text apt verifies and then parses, and the signature
 * block it hands to gpgv/sqv as a detached signature. Returns an error string where apt refuses.
 */
export function aptSplitClearSigned(
  file: string,
): { content: string; signature: string } | { error: string } {
  const raw = file.split("\n");
  // getline: the last piece is a line only if it is not empty (the file ended without "\n").
  if (raw[raw.length - 1] === "") raw.pop();
  const lines = raw.map((l) => l.replace(/[\r\n]+$/, "").replace(/[ \t]+$/, ""));
  let i = 0;
  const next = () => (i < lines.length ? (lines[i++] as string) : undefined);

  if (next() !== "-----BEGIN PGP SIGNED MESSAGE-----") return { error: "no signed message block" };
  for (;;) {
    const line = next();
    if (line === undefined) return { error: "missing parts" };
    if (line === "") break;
    if (line.startsWith("-")) return { error: "unexpected dash line (armor)" };
  }
  const content: string[] = [];
  const signature: string[] = [];
  for (;;) {
    const line = next();
    if (line === undefined) return { error: "missing parts" };
    if (line.startsWith("-")) {
      if (line === "-----BEGIN PGP SIGNATURE-----") {
        signature.push(line);
        break;
      }
      if (!line.startsWith("- ")) return { error: "unexpected dash line (msg)" };
      content.push(line.slice(2));
    } else content.push(line);
  }
  let open = true;
  for (let line = next(); line !== undefined; line = next()) {
    if (open) {
      if (line === "-----END PGP SIGNATURE-----") open = false;
      else if (line.startsWith("-")) return { error: "unexpected dash line (sig)" };
    } else if (line === "-----BEGIN PGP SIGNATURE-----") open = true;
    else return { error: "unsigned lines" };
    signature.push(line);
  }
  if (open) return { error: "signature not closed" };
  return { content: content.join("\n"), signature: `${signature.join("\n")}\n` };
}

export interface AptMethodResult {
  readonly ok: boolean;
  /** apt's failure message, or "". */
  readonly message: string;
  /** Fingerprints apt reports as Signed-By (with a trailing "!" for exact keys). */
  readonly signedBy: readonly string[];
  readonly transcript: string;
}

/**
 * apt's own verifier: runs apt's gpgv method (/usr/lib/apt/methods/gpgv) over its acquire
 * protocol, as `apt-get update` does for a source with `Signed-By: <keyring>`. For InRelease
 * pass only `file`; for Release.gpg pass the signature as `file` and the Release as `data`.
 * apt accepts a file if at least one signature is good and none is bad.
 */
export function aptGpgvMethod(keyring: string, file: string, data = file): AptMethodResult {
  const request = [
    "601 Configuration",
    "Config-Item: Debug::Acquire::gpgv=0",
    "",
    "600 URI Acquire",
    `URI: gpgv:${file}`,
    `Filename: ${data}`,
    `Signed-By: ${keyring}`,
    "",
    "",
  ].join("\n");
  const result = runOk("/usr/lib/apt/methods/gpgv", [], { input: request });
  const messages = result.stdout.split(/\n\n+/).map((m) => m.split("\n"));
  const done = messages.find((m) => m[0] === "201 URI Done");
  const failure = messages.find((m) => m[0] === "400 URI Failure");
  const field = (m: string[] | undefined, name: string) => {
    if (!m) return [];
    const start = m.findIndex((l) => l.startsWith(`${name}: `));
    if (start < 0) return [];
    const values = [m[start]?.slice(name.length + 2) ?? ""];
    for (let j = start + 1; j < m.length && m[j]?.startsWith(" "); j++) {
      values.push((m[j] ?? "").trim());
    }
    return values;
  };
  return {
    ok: done !== undefined && failure === undefined,
    message: field(failure, "Message").join("\n"),
    signedBy: field(done, "Signed-By"),
    transcript: `${result.stdout}\n${result.stderr}`,
  };
}

/**
 * A throwaway GnuPG home for making test keys with gpg itself (keys are protected with
 * `passphrase`, none by default); `close` stops its agent.
 */
export function gpgHome(passphrase = "") {
  const { dir, cleanup } = scratch("gpg-");
  mkdirSync(join(dir, "h"), { mode: 0o700 });
  const home = join(dir, "h");
  // gpg-agent calibrates the passphrase's S2K to ~100 ms of C; openpgp.js needs seconds for
  // that count, so test keys use a small one.
  writeFileSync(join(home, "gpg-agent.conf"), "s2k-count 65536\n");
  const base = [
    "--homedir",
    home,
    "--batch",
    "--pinentry-mode",
    "loopback",
    "--passphrase",
    passphrase,
  ];
  const gpg = (...args: string[]) => runOk("gpg", [...base, ...args]);
  const fingerprint = (uid: string) => {
    const colons = gpg("--with-colons", "--list-keys", uid).stdout;
    const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(colons)?.[1];
    if (!fpr) throw new Error(`gpg has no key for ${uid}`);
    return fpr;
  };
  const exportTo = (args: string[]) => {
    const out = join(dir, "export.asc");
    gpg("--armor", "--output", out, "--yes", ...args);
    return readFileSync(out, "utf8");
  };
  return {
    gpg,
    fingerprint,
    exportTo,
    close: () => {
      run("gpgconf", ["--homedir", home, "--kill", "gpg-agent"]);
      cleanup();
    },
  };
}
