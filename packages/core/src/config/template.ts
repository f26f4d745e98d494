// The templates of a `build` package (kiro-repo): its APT sources file and maintainer scripts,
// with `{{name}}` placeholders filled from the stage when the package is built. Only the names
// below exist, so a typo in a template is a config error rather than a literal `{{typo}}` in a
// user's /etc/apt.

import type { BuildSource, StageConfig } from "./schema";

export const TEMPLATE_PLACEHOLDERS = [
  "repo_url",
  "suite",
  "components",
  "keyring_path",
  "sources_path",
] as const;

export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];
export type TemplateValues = Readonly<Record<TemplatePlaceholder, string>>;

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const known: ReadonlySet<string> = new Set(TEMPLATE_PLACEHOLDERS);

/** The `{{…}}` names in a template that are not placeholders, in order of appearance. */
export function unknownPlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)]
    .map((m) => m[1] ?? "")
    .filter((name) => !known.has(name));
}

export function usesPlaceholder(template: string, name: TemplatePlaceholder): boolean {
  return template.includes(`{{${name}}}`);
}

/** Fills every placeholder; throws on an unknown one (config validation rules them out). */
export function renderTemplate(template: string, values: TemplateValues): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => {
    if (!known.has(name)) throw new Error(`unknown template placeholder ${whole}`);
    return values[name as TemplatePlaceholder];
  });
}

/** Where the setup package installs its keyring: `/usr/share/keyrings/<keyring_name>.gpg`. */
export function keyringPath(keyringName: string): string {
  return `/usr/share/keyrings/${keyringName}.gpg`;
}

/** Where the setup package installs its deb822 source: `/etc/apt/sources.list.d/<name>.sources`. */
export function sourcesPath(sourcesName: string): string {
  return `/etc/apt/sources.list.d/${sourcesName}.sources`;
}

/** The placeholder values for building a setup package for a stage. */
export function templateValues(
  stage: Pick<StageConfig, "repo_url" | "suite" | "components">,
  build: Pick<BuildSource, "keyring_name" | "sources_name">,
): TemplateValues {
  return {
    repo_url: stage.repo_url,
    suite: stage.suite,
    components: stage.components.join(" "),
    keyring_path: keyringPath(build.keyring_name),
    sources_path: sourcesPath(build.sources_name),
  };
}
