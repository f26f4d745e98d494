// The publisher's settings: derived from the stage and package config at deploy (or local
// start) time and handed to the Lambda as JSON, so they are validated again at that boundary.
import * as v from "valibot";
import type { LoadedConfig } from "../config";
import { componentSchema, machineArchitectureSchema, suiteSchema } from "../record/policy";

const rootFilesSchema = v.strictObject({
  /** What index.html calls the repository (the stage's label); else the URL's host. */
  repoName: v.optional(v.string()),
  /** The setup package (kiro-repo) and the root key of its convenience copy. */
  repoPackage: v.string(),
  repoCopyKey: v.string(),
  /** The repository's public URL, as users put it in their sources. */
  repoUrl: v.pipe(v.string(), v.url()),
  suite: suiteSchema,
  components: v.array(componentSchema),
  /** Base name of the keyring files: `<keyring>.gpg`, `<keyring>.asc`. */
  keyring: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.+-]*$/)),
  /** Name of the deb822 sources file the manual instructions write. */
  sourcesName: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9.+-]*$/)),
  /** A package to suggest installing once the repository is set up. */
  example: v.optional(v.string()),
});

export const publisherSettingsSchema = v.strictObject({
  defaultSuite: suiteSchema,
  defaultComponent: componentSchema,
  /** Components and architectures every suite lists, whether or not it has packages there. */
  components: v.array(componentSchema),
  architectures: v.array(machineArchitectureSchema),
  origin: v.string(),
  label: v.string(),
  codename: v.optional(suiteSchema),
  description: v.optional(v.string()),
  validUntilDays: v.optional(v.number()),
  /** How long a by-hash object outlives the last Release that listed it. */
  byHashGraceMs: v.pipe(v.number(), v.minValue(0)),
  /** The stage's signing.key_ids: the publisher refuses to sign with other keys. */
  keyIds: v.optional(v.array(v.string())),
  root: rootFilesSchema,
});

export type PublisherSettings = v.InferOutput<typeof publisherSettingsSchema>;
export type RootFiles = PublisherSettings["root"];

export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Parses settings from the environment (JSON), naming every bad field. */
export function parsePublisherSettings(json: string | undefined, where: string): PublisherSettings {
  if (json === undefined) throw new SettingsError(`${where} is not set`);
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new SettingsError(`${where} is not JSON: ${(error as Error).message}`);
  }
  const result = v.safeParse(publisherSettingsSchema, value);
  if (!result.success) {
    throw new SettingsError(
      `${where}: ${result.issues.map((i) => `${v.getDotPath(i) ?? "(root)"}: ${i.message}`).join("; ")}`,
    );
  }
  return result.output;
}

/** Settings of a stage, from its loaded config. `repoUrl` overrides the stage's (local port). */
export function publisherSettings(config: LoadedConfig, repoUrl?: string): PublisherSettings {
  const { stage, packages } = config;
  const build = [...packages.values()].find((p) => p.source.type === "build");
  const source = build?.source.type === "build" ? build.source : undefined;
  const example = [...packages.values()].find((p) => p.source.type === "upstream")?.name;
  return {
    defaultSuite: stage.default_suite,
    defaultComponent: stage.default_component,
    components: stage.components,
    architectures: stage.architectures,
    origin: stage.origin,
    label: stage.label,
    ...(stage.codename === undefined ? {} : { codename: stage.codename }),
    description: stage.description,
    ...(stage.valid_until_days === undefined ? {} : { validUntilDays: stage.valid_until_days }),
    byHashGraceMs: stage.by_hash_grace_days * 86_400_000,
    keyIds: stage.signing.key_ids,
    root: {
      repoName: stage.label,
      repoPackage: build?.name ?? "kiro-repo",
      repoCopyKey: `${build?.name ?? "kiro-repo"}.deb`,
      repoUrl: repoUrl ?? stage.repo_url,
      suite: stage.suite,
      components: stage.components,
      keyring: source?.keyring_name ?? "archive-keyring",
      sourcesName: source?.sources_name ?? "repository",
      ...(example === undefined ? {} : { example }),
    },
  };
}
