// JSON Schemas of the config files, generated from the valibot schemas the loader validates
// with, for editors (yaml-language-server, VS Code). Checks valibot cannot express in JSON
// Schema (cross-field rules, transforms) are left to the loader; the schemas are a subset.
import { toJsonSchema } from "@valibot/to-json-schema";
import { packageConfigSchema, stageConfigSchema } from "./schema";

/** File name under config/schema/ -> the schema it holds. */
export function configJsonSchemas(): Record<string, object> {
  const generate = (schema: Parameters<typeof toJsonSchema>[0], title: string) => ({
    ...toJsonSchema(schema, { errorMode: "ignore", typeMode: "input" }),
    title,
  });
  return {
    "package.json": generate(
      packageConfigSchema,
      "kiro-apt package config (config/packages/*.yaml)",
    ),
    "stage.json": generate(stageConfigSchema, "kiro-apt stage config (config/stages/*.yaml)"),
  };
}

/** The text checked in: stable key order from the generator, two-space indent, final newline. */
export function renderJsonSchema(schema: object): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}

// `npx tsx packages/core/src/config/json-schema.ts` rewrites config/schema/.
if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const { join, resolve } = await import("node:path");
  const dir = join(resolve(import.meta.dirname, "../../../.."), "config", "schema");
  mkdirSync(dir, { recursive: true });
  for (const [name, schema] of Object.entries(configJsonSchemas()))
    writeFileSync(join(dir, name), renderJsonSchema(schema));
}
