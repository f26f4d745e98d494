// The setup package (kiro-repo) as a build record: rendered from its package config and the
// stage, carrying the public keyring. The publisher builds the .deb from the record alone.

import {
  type BuildSource,
  controlDescription,
  keyringPath,
  type PackageConfig,
  RELATION_FIELDS,
  renderTemplate,
  type StageConfig,
  sourcesPath,
  templateValues,
} from "../config";
import { gzip } from "../debian/compress";
import { compareVersions, newestVersion } from "../debian/version";
import { type PackageRecordInput, packageId } from "../record/schema";

export class SetupPackageError extends Error {
  override name = "SetupPackageError";
}

export interface SetupPackageInput {
  readonly pkg: PackageConfig;
  readonly stage: StageConfig;
  /** The binary public keyring users' apt will trust (Signed-By). */
  readonly keyring: Uint8Array<ArrayBuffer>;
  readonly version: string;
  readonly now: Date;
}

/** The next version after the newest one: the last number incremented (2.0.9 → 2.0.10). */
export function nextVersion(existing: readonly string[], initial = "1.0.0"): string {
  const newest = newestVersion(existing);
  if (newest === undefined) return initial;
  // The last digit run, incremented; what follows it (a `~rc`, a letter) is dropped.
  const match = /^(.*?)(\d+)\D*$/.exec(newest);
  const next =
    match === null ? `${newest}.1` : `${match[1]}${(BigInt(match[2] as string) + 1n).toString()}`;
  if (compareVersions(next, newest) <= 0) return `${newest}.1`;
  return next;
}

function buildSource(pkg: PackageConfig): BuildSource {
  if (pkg.source.type !== "build") {
    throw new SetupPackageError(
      `${pkg.name} is not a build package (source type ${pkg.source.type})`,
    );
  }
  return pkg.source;
}

/** The build record of the setup package for a stage. */
export function setupPackageRecord(input: SetupPackageInput): PackageRecordInput {
  const { pkg, stage, keyring, version, now } = input;
  const source = buildSource(pkg);
  const values = templateValues(stage, source);
  const name = pkg.name;
  const arch = pkg.architectures[0] ?? "all";
  const docs = `/usr/share/doc/${name}`;
  const copyright = [
    "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
    `Upstream-Name: ${name}`,
    "",
    "Files: *",
    `Copyright: ${now.getUTCFullYear()} ${pkg.maintainer.replace(/\s*<.*$/, "")}`,
    "License: Apache-2.0",
    " On Debian systems, the full text of the Apache License 2.0 can be found in",
    " /usr/share/common-licenses/Apache-2.0.",
    "",
  ].join("\n");
  const changelog = [
    `${name} (${version}) ${stage.suite}; urgency=medium`,
    "",
    `  * Repository setup for ${stage.repo_url}.`,
    "",
    ` -- ${pkg.maintainer}  ${rfc2822(now)}`,
    "",
  ].join("\n");
  const scripts: Record<string, string> = {};
  for (const script of ["postinst", "prerm", "postrm"] as const) {
    const template = source.templates[script];
    if (template !== undefined) scripts[script] = renderTemplate(template, values);
  }
  const relations: Record<string, string> = {};
  for (const field of RELATION_FIELDS) {
    const value = pkg[field];
    if (typeof value === "string") relations[field] = value;
  }
  return {
    package_id: packageId(name, version, arch),
    package_name: name,
    version,
    architecture: arch,
    suite: stage.default_suite,
    component: stage.default_component,
    source: "build",
    maintainer: pkg.maintainer,
    description: controlDescription(pkg),
    section: pkg.section,
    priority: pkg.priority,
    homepage: pkg.homepage,
    ...relations,
    processed_timestamp: now.toISOString(),
    contents: [
      {
        path: sourcesPath(source.sources_name),
        content: renderTemplate(source.templates.sources, values),
      },
      { path: keyringPath(source.keyring_name), content: keyring },
      { path: `${docs}/copyright`, content: copyright },
      {
        path: `${docs}/changelog.gz`,
        content: Uint8Array.from(gzip(new TextEncoder().encode(changelog))),
      },
      // Installing an APT source is this package's whole purpose.
      {
        path: `/usr/share/lintian/overrides/${name}`,
        content: `${name}: package-installs-apt-sources [${sourcesPath(source.sources_name).slice(1)}]\n`,
      },
    ],
    conffiles: [sourcesPath(source.sources_name)],
    ...(Object.keys(scripts).length > 0 ? { scripts } : {}),
  };
}

function rfc2822(date: Date): string {
  // e.g. "Tue, 24 Nov 2026 15:53:56 +0000", as debian/changelog wants it.
  return date.toUTCString().replace("GMT", "+0000");
}
