// The checked-in JSON Schemas (config/schema/) are what the valibot schemas generate, and every
// config file names its schema on its first line, which the loader accepts (a YAML comment).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { configJsonSchemas, renderJsonSchema } from "./json-schema";
import { loadConfig } from "./load";

const root = resolve(import.meta.dirname, "../../../..");

describe("config JSON Schemas", () => {
  it("are current: regenerate with `npx tsx packages/core/src/config/json-schema.ts` when this fails", () => {
    const schemas = configJsonSchemas();
    expect(readdirSync(join(root, "config/schema")).sort()).toEqual(Object.keys(schemas).sort());
    for (const [name, schema] of Object.entries(schemas)) {
      expect(readFileSync(join(root, "config/schema", name), "utf8"), name).toBe(
        renderJsonSchema(schema),
      );
    }
  });

  it("every config file references its schema, and still loads", async () => {
    for (const [dir, schema] of [
      ["stages", "stage.json"],
      ["packages", "package.json"],
    ] as const) {
      for (const file of readdirSync(join(root, "config", dir))) {
        const first = readFileSync(join(root, "config", dir, file), "utf8").split("\n")[0];
        expect(first, file).toBe(`# yaml-language-server: $schema=../schema/${schema}`);
      }
    }
    const config = await loadConfig(root, "local");
    expect(config.packages.size).toBeGreaterThan(0);
  });
});
