// The stage's config, loaded at deploy time with the loader every command uses: an invalid file
// stops `sst deploy` before anything is created, naming the file, the field and the rule.
//
// Deep imports (not `@app/core/<domain>`) keep the deploy-time bundle to the config code: the
// domain indexes also pull in the runtime (AWS clients, the native xz module).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  CONFIG_EXTENSIONS,
  ConfigError,
  type ConfigProblem,
  LOCAL_STAGE,
  type LoadedConfig,
  loadConfig,
  parseConfigText,
  stageWarnings,
} from "../packages/core/src/config";
import {
  type PublisherSettings,
  parsePublisherSettings,
  publisherSettings,
} from "../packages/core/src/publish/settings";

export interface StageSetup {
  readonly name: string;
  readonly config: LoadedConfig;
  /** What users put in their sources: the stage's `repo_url`. */
  readonly repoUrl: string;
  /** The custom domain the CDN answers on; undefined when repo_url is CloudFront's own host. */
  readonly domain: string | undefined;
  readonly settings: PublisherSettings;
  /** The handlers' PUBLISHER_SETTINGS, already checked against the schema they parse it with. */
  readonly settingsJson: string;
  /** True for the stage whose data must survive any deploy (retain, protect, backups). */
  readonly production: boolean;
}

/** The daily rebuild re-signs Release: a Valid-Until shorter than this would lapse between runs. */
export const MIN_VALID_UNTIL_DAYS = 2;

/** The stage file as the operator knows it (`config/stages/prod.yaml`). */
function stageFile(root: string, stage: string): string {
  const ext = CONFIG_EXTENSIONS.find((e) => existsSync(join(root, "config", "stages", stage + e)));
  return `config/stages/${stage}${ext ?? ".yaml"}`;
}

/**
 * The placeholders the committed prod config ships with (a reserved host, an all-zero key), as
 * problems naming the line to change: users must never be given a repository at a host nobody
 * owns or told to trust a key that does not exist.
 */
export function placeholderProblems(
  root: string,
  file: string,
  stage: LoadedConfig["stage"],
): ConfigProblem[] {
  const warnings = stageWarnings(stage);
  if (warnings.length === 0) return [];
  const text = readFileSync(join(root, file), "utf8");
  const parsed = parseConfigText(text, file, file.slice(file.lastIndexOf(".")));
  const lines = text.split("\n");
  return warnings.map((w) => {
    const keys = w.path.split(".").map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    const line = parsed.ok ? parsed.file.lineOf(keys) : undefined;
    const shown =
      line === undefined ? "" : `; the line to change reads: ${lines[line - 1]?.trim()}`;
    return {
      file,
      path: w.path,
      ...(line === undefined ? {} : { line }),
      message: `${w.message.replace("before deploying", "before deploying prod")}${shown}`,
    };
  });
}

/**
 * Loads and checks `config/` for a cloud stage. Throws (which stops the deploy) on any problem,
 * with the loader's file / field / rule messages, plus what only a cloud deploy requires.
 */
export async function loadStage(stage: string, root: string): Promise<StageSetup> {
  if (stage === LOCAL_STAGE) {
    throw new Error(
      `stage "${LOCAL_STAGE}" runs on this machine (\`npm start\`) and cannot be deployed: ` +
        "deploy a cloud stage (`sst deploy --stage dev` or `--stage prod`)",
    );
  }
  const config = await loadConfig(root, stage, {
    warn: (message) => console.warn(`config warning: ${message}`),
  });
  const { stage: stageConfig } = config;
  const file = stageFile(root, stage);
  const problems: ConfigProblem[] = [];

  const url = new URL(stageConfig.repo_url);
  // The Router serves the bucket at the root of the host; a path would need a rewrite of every
  // request and a second copy of the private-prefix rules, for no gain.
  if (url.pathname !== "/" && url.pathname !== "") {
    problems.push({
      file,
      path: "repo_url",
      message: `must be the root of its host (https://${url.host}) for a cloud stage: the CDN serves the repository at /`,
    });
  }
  const validUntil = stageConfig.valid_until_days;
  if (validUntil !== undefined && validUntil < MIN_VALID_UNTIL_DAYS) {
    problems.push({
      file,
      path: "valid_until_days",
      message: `must be at least ${MIN_VALID_UNTIL_DAYS}: the daily rebuild re-signs Release once a day`,
    });
  }
  if (stage === "prod") problems.push(...placeholderProblems(root, file, stageConfig));
  if (problems.length > 0) throw new ConfigError(problems);

  const settings = publisherSettings(config);
  const settingsJson = JSON.stringify(settings);
  // The handlers parse this at cold start; a mismatch must fail here, not in every invocation.
  parsePublisherSettings(settingsJson, "PUBLISHER_SETTINGS");

  return {
    name: stage,
    config,
    repoUrl: stageConfig.repo_url,
    domain: url.hostname.endsWith(".cloudfront.net") ? undefined : url.hostname,
    settings,
    settingsJson,
    production: stage === "prod",
  };
}
