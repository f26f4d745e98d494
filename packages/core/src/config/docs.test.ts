// docs/config.md documents every field of the config files: each property of the checked-in JSON
// Schemas (config/schema/*.json, generated from the valibot schemas) appears there by its dotted
// path, in backticks. A field added to a schema without a line in the reference fails here. And
// its examples are true: each YAML block that names a schema on its first line validates.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { parseConfigText } from "./load";
import { packageConfigSchema, stageConfigSchema } from "./schema";

const root = resolve(import.meta.dirname, "../../../..");

type Json = { [key: string]: unknown };
const isObject = (x: unknown): x is Json =>
  typeof x === "object" && x !== null && !Array.isArray(x);

/** Every property's dotted path: nested objects, array items and every variant (anyOf/oneOf). */
function schemaPaths(schema: unknown, prefix = ""): string[] {
  if (!isObject(schema)) return [];
  const out: string[] = [];
  if (isObject(schema.properties)) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      out.push(path, ...schemaPaths(sub, path));
    }
  }
  for (const key of ["anyOf", "oneOf", "allOf"]) {
    const variants = schema[key];
    if (Array.isArray(variants)) for (const v of variants) out.push(...schemaPaths(v, prefix));
  }
  if (schema.items !== undefined) out.push(...schemaPaths(schema.items, prefix));
  if (isObject(schema.additionalProperties))
    out.push(...schemaPaths(schema.additionalProperties, prefix === "" ? "*" : `${prefix}.*`));
  return [...new Set(out)];
}

describe("docs/config.md", () => {
  const doc = readFileSync(join(root, "docs/config.md"), "utf8");
  const files = readdirSync(join(root, "config/schema")).filter((f) => f.endsWith(".json"));

  it("the walk finds nested and variant fields (so the check below can fail)", () => {
    const paths = schemaPaths({
      properties: {
        a: { properties: { b: { type: "string" } } },
        c: { oneOf: [{ properties: { d: {} } }, { properties: { e: {} } }] },
        f: { items: { properties: { g: {} } } },
      },
    });
    expect(paths.sort()).toEqual(["a", "a.b", "c", "c.d", "c.e", "f", "f.g"]);
    expect(files.sort()).toEqual(["package.json", "stage.json"]);
  });

  for (const file of files) {
    it(`documents every field of config/schema/${file}`, () => {
      const schema: unknown = JSON.parse(readFileSync(join(root, "config/schema", file), "utf8"));
      const paths = schemaPaths(schema);
      expect(paths.length).toBeGreaterThan(5);
      const missing = paths.filter((p) => !doc.includes(`\`${p}\``));
      expect(missing, `fields of ${file} not named (in backticks) in docs/config.md`).toEqual([]);
    });
  }

  it("its YAML examples validate against the schema they name", () => {
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const schemas = { "stage.json": stageConfigSchema, "package.json": packageConfigSchema };
    let checked = 0;
    for (const block of blocks) {
      const named = /^# yaml-language-server: \$schema=\.\.\/schema\/([a-z]+\.json)\n/.exec(block);
      if (named === null) continue;
      const schema = schemas[named[1] as keyof typeof schemas];
      expect(schema, named[1]).toBeDefined();
      const parsed = parseConfigText(block, "docs/config.md", ".yaml");
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const result = v.safeParse(schema, parsed.file.data);
      expect(result.issues?.map((i) => `${v.getDotPath(i)}: ${i.message}`) ?? [], block).toEqual(
        [],
      );
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });
});
