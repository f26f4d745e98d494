// The files at the root of the bucket: the public keyring (binary for Signed-By, armored for
// people), index.html with both ways to install, and kiro-repo.deb.
import type { Logger } from "pino";
import { newestRecord } from "../record/order";
import type { PackageRecord } from "../record/schema";
import type { SigningKey } from "../signing";
import { exportKeyring } from "../signing";
import type { ObjectStore } from "./bucket";
import { objectHeaders } from "./layout";
import type { PublisherSettings, RootFiles } from "./settings";

const html = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const keyringFile = (root: Pick<RootFiles, "keyring">, ext: "gpg" | "asc"): string =>
  `${root.keyring}.${ext}`;

export function renderIndexHtml(root: RootFiles, fingerprints: readonly string[]): string {
  const url = root.repoUrl.replace(/\/+$/, "");
  const keyring = keyringFile(root, "gpg");
  const asc = keyringFile(root, "asc");
  const example = root.example ?? root.repoPackage;
  const sources = [
    "Types: deb",
    `URIs: ${url}`,
    `Suites: ${root.suite}`,
    `Components: ${root.components.join(" ")}`,
    `Signed-By: /usr/share/keyrings/${keyring}`,
  ].join("\n");
  const fps = fingerprints.map((f) => `<code>${html(f)}</code>`).join(", ");
  // The repository's name, not the setup package's: the page is about the whole repository.
  const name = root.repoName ?? new URL(url).host;
  return [
    "<!doctype html>",
    '<html lang="en">',
    `<head><meta charset="utf-8"><title>${html(name)} APT repository</title></head>`,
    "<body>",
    `<h1>${html(name)} APT repository</h1>`,
    "<p>A signed Debian/Ubuntu repository. Pick one of the two ways below.</p>",
    "<h2>1. With the setup package (recommended)</h2>",
    "<p>It installs the signing key and the APT source, and keeps both current through normal upgrades.</p>",
    "<pre>",
    `curl -fsSLO ${html(url)}/${html(root.repoCopyKey)}`,
    `sudo apt install ./${html(root.repoCopyKey)}`,
    "sudo apt update",
    `sudo apt install ${html(example)}</pre>`,
    "<h2>2. By hand, with a deb822 source and Signed-By</h2>",
    "<pre>",
    `sudo curl -fsSLo /usr/share/keyrings/${html(keyring)} ${html(url)}/${html(keyring)}`,
    `sudo tee /etc/apt/sources.list.d/${html(root.sourcesName)}.sources &lt;&lt;'END'`,
    html(sources),
    "END",
    "sudo apt update",
    `sudo apt install ${html(example)}</pre>`,
    `<p>Signing key fingerprint${fingerprints.length > 1 ? "s" : ""}: ${fps}`,
    `(armored key: <a href="${html(asc)}">${html(asc)}</a>).</p>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** Writes the keyrings and index.html. */
export async function writeRootFiles(
  bucket: ObjectStore,
  root: RootFiles,
  keys: readonly SigningKey[],
): Promise<void> {
  const keyring = await exportKeyring([...keys]);
  const gpg = keyringFile(root, "gpg");
  const asc = keyringFile(root, "asc");
  await bucket.put(gpg, keyring.binary, objectHeaders(gpg));
  await bucket.put(asc, keyring.armored, objectHeaders(asc));
  const html = renderIndexHtml(
    root,
    keys.map((k) => k.fingerprint),
  );
  await bucket.put("index.html", html, objectHeaders("index.html"));
}

/** `kiro-repo.deb` at the root: a byte copy of the newest built and pinned setup package. */
export async function copyNewestRepoPackage(
  deps: { bucket: ObjectStore; settings: PublisherSettings; logger: Logger },
  records: readonly PackageRecord[],
): Promise<void> {
  const { root } = deps.settings;
  const newest = newestRecord(
    records.filter((r) => r.package_name === root.repoPackage && r.sha256_hash !== undefined),
  );
  if (newest?.filename === undefined) return;
  const key = root.repoCopyKey;
  await deps.bucket.copy(newest.filename, key, objectHeaders(key));
  deps.logger.info(
    { version: newest.version, from: newest.filename },
    `${key} now copies the newest ${root.repoPackage}`,
  );
}
