// What a poller Lambda knows of the config: the stage and the package definitions, serialised
// at deploy time (the function has no config/ directory) and validated again at cold start
// with the same schemas.
import * as v from "valibot";
import type { LoadedConfig } from "../config/load";
import { packageConfigSchema, stageConfigSchema } from "../config/schema";

export const sourceSettingsSchema = v.object({
  stage: stageConfigSchema,
  packages: v.array(packageConfigSchema),
});
export type SourceSettings = v.InferOutput<typeof sourceSettingsSchema>;

export function sourceSettings(config: Pick<LoadedConfig, "stage" | "packages">): SourceSettings {
  return { stage: config.stage, packages: [...config.packages.values()] };
}

export function parseSourceSettings(json: string | undefined, what: string): SourceSettings {
  if (json === undefined) throw new Error(`${what} is not set`);
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch (error) {
    throw new Error(`${what} is not JSON: ${(error as Error).message}`);
  }
  const parsed = v.safeParse(sourceSettingsSchema, data);
  if (!parsed.success) {
    throw new Error(
      `${what}: ${parsed.issues.map((i) => `${v.getDotPath(i) ?? "(settings)"}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.output;
}
