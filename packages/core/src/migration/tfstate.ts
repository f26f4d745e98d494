// The old deployment's table and bucket, read from its Terraform state (a local JSON state file,
// format version 4, as `terraform state pull > terraform.tfstate` writes it): outputs first
// (`…table…` and `…bucket…` outputs with a string value), then the managed resources
// (`aws_dynamodb_table` → attributes.name, `aws_s3_bucket` → attributes.bucket). Every failure
// names the file and what is missing or ambiguous.
import { readFile } from "node:fs/promises";
import * as v from "valibot";

export class TerraformStateError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "TerraformStateError";
  }
}

const stateSchema = v.object({
  version: v.literal(4, "must be 4 (the state format of Terraform 0.12 and later)"),
  terraform_version: v.optional(v.string()),
  outputs: v.optional(
    v.record(v.string(), v.looseObject({ value: v.unknown() }), "must map names to outputs"),
    {},
  ),
  resources: v.optional(
    v.array(
      v.looseObject({
        mode: v.optional(v.string()),
        type: v.string("must be a string"),
        name: v.string("must be a string"),
        module: v.optional(v.string()),
        instances: v.optional(
          v.array(v.looseObject({ attributes: v.optional(v.record(v.string(), v.unknown()), {}) })),
          [],
        ),
      }),
      "must be a list of resources",
    ),
    [],
  ),
});
export type TerraformState = v.InferOutput<typeof stateSchema>;

export interface LegacyResources {
  readonly table: string;
  readonly bucket: string;
}

type Kind = keyof LegacyResources;

const KINDS: Record<
  Kind,
  { word: RegExp; resource: string; attribute: string; flag: string; what: string }
> = {
  table: {
    word: /table/i,
    resource: "aws_dynamodb_table",
    attribute: "name",
    flag: "--legacy-table",
    what: "legacy table",
  },
  bucket: {
    word: /bucket/i,
    resource: "aws_s3_bucket",
    attribute: "bucket",
    flag: "--legacy-bucket",
    what: "legacy bucket",
  },
};

/** Outputs that name something else about the resource (its ARN, stream, domain, …). */
const NOT_A_NAME = /arn|stream|region|url|endpoint|domain|policy|lock/i;

/** The distinct candidates, each with where it was found. */
function candidates(
  state: TerraformState,
  kind: Kind,
): { outputs: Map<string, string[]>; resources: Map<string, string[]> } {
  const spec = KINDS[kind];
  const outputs = new Map<string, string[]>();
  for (const [name, output] of Object.entries(state.outputs)) {
    const value = output.value;
    if (!spec.word.test(name) || NOT_A_NAME.test(name)) continue;
    if (typeof value !== "string" || value === "" || value.startsWith("arn:")) continue;
    outputs.set(value, [...(outputs.get(value) ?? []), `output ${name}`]);
  }
  const resources = new Map<string, string[]>();
  for (const r of state.resources) {
    if (r.type !== spec.resource || (r.mode !== undefined && r.mode !== "managed")) continue;
    const address = `${r.module === undefined ? "" : `${r.module}.`}${r.type}.${r.name}`;
    for (const instance of r.instances) {
      const value = instance.attributes[spec.attribute];
      if (typeof value === "string" && value !== "") {
        resources.set(value, [...(resources.get(value) ?? []), `resource ${address}`]);
      }
    }
  }
  return { outputs, resources };
}

function pick(state: TerraformState, kind: Kind, file: string): string {
  const spec = KINDS[kind];
  const { outputs, resources } = candidates(state, kind);
  for (const [from, found] of [
    ["outputs", outputs],
    ["resources", resources],
  ] as const) {
    if (found.size === 1) return [...found.keys()][0] as string;
    if (found.size > 1) {
      throw new TerraformStateError(
        file,
        `the ${spec.what} is ambiguous: its ${from} name ${[...found].map(([value, where]) => `${JSON.stringify(value)} (${where.join(", ")})`).join(" and ")}; pass ${spec.flag} to choose`,
      );
    }
  }
  throw new TerraformStateError(
    file,
    `no ${spec.what}: no output whose name contains "${kind}" with a name as its value, and no ${spec.resource} resource; pass ${spec.flag}`,
  );
}

/** Validates parsed JSON as a Terraform state (throws TerraformStateError naming each problem). */
export function parseTerraformState(json: unknown, file: string): TerraformState {
  if (typeof json !== "object" || json === null || !("version" in json)) {
    throw new TerraformStateError(file, 'is not a Terraform state (no "version" field)');
  }
  const parsed = v.safeParse(stateSchema, json, { abortEarly: false });
  if (!parsed.success) {
    throw new TerraformStateError(
      file,
      `is not a Terraform state we can read: ${parsed.issues.map((i) => `${v.getDotPath(i) ?? "(state)"}: ${i.message}`).join("; ")}`,
    );
  }
  return parsed.output;
}

/** The names asked for (`need`), from a parsed state. */
export function terraformResources(
  json: unknown,
  file: string,
  need: { readonly table: boolean; readonly bucket: boolean },
): Partial<LegacyResources> {
  const state = parseTerraformState(json, file);
  return {
    ...(need.table ? { table: pick(state, "table", file) } : {}),
    ...(need.bucket ? { bucket: pick(state, "bucket", file) } : {}),
  };
}

/** Reads a local JSON state file and returns the names asked for. */
export async function readTerraformState(
  file: string,
  need: { readonly table: boolean; readonly bucket: boolean },
): Promise<Partial<LegacyResources>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TerraformStateError(
      file,
      code === "ENOENT"
        ? "no such file (write it with `terraform state pull > terraform.tfstate` in the old deployment's directory)"
        : `cannot read: ${code ?? (error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new TerraformStateError(file, `is not JSON: ${(error as Error).message}`);
  }
  return terraformResources(json, file, need);
}
