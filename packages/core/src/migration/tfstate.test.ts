import { describe, expect, it } from "vitest";
import { parseTerraformState, TerraformStateError, terraformResources } from "./tfstate";

const FILE = "terraform.tfstate";
const both = { table: true, bucket: true };

const state = (extra: Record<string, unknown>) => ({
  version: 4,
  terraform_version: "1.5.7",
  serial: 3,
  lineage: "x",
  outputs: {},
  resources: [],
  ...extra,
});

const resource = (
  type: string,
  name: string,
  attributes: Record<string, unknown>,
  module?: string,
) => ({
  mode: "managed",
  type,
  name,
  provider: 'provider["registry.terraform.io/hashicorp/aws"]',
  ...(module === undefined ? {} : { module }),
  instances: [{ schema_version: 0, attributes }],
});

const problem = (json: unknown, need = both) => {
  try {
    terraformResources(json, FILE, need);
  } catch (error) {
    expect(error).toBeInstanceOf(TerraformStateError);
    return (error as Error).message;
  }
  throw new Error("no error");
};

describe("terraformResources", () => {
  it("reads the outputs, ignoring ARNs, streams and domains", () => {
    const json = state({
      outputs: {
        dynamodb_table_name: { value: "kiro-versions", type: "string" },
        dynamodb_table_arn: { value: "arn:aws:dynamodb:us-east-1:1:table/kiro-versions" },
        dynamodb_table_stream_arn: { value: "arn:aws:dynamodb:…/stream/x" },
        s3_bucket_name: { value: "kiro-apt-repo" },
        s3_bucket_id: { value: "kiro-apt-repo" },
        bucket_regional_domain_name: { value: "kiro-apt-repo.s3.us-east-1.amazonaws.com" },
        website_url: { value: "http://kiro-apt-repo.s3-website" },
      },
    });
    expect(terraformResources(json, FILE, both)).toEqual({
      table: "kiro-versions",
      bucket: "kiro-apt-repo",
    });
  });

  it("falls back on the resources, in modules too", () => {
    const json = state({
      resources: [
        resource("aws_dynamodb_table", "versions", { name: "kiro-versions", hash_key: "version" }),
        resource(
          "aws_s3_bucket",
          "repo",
          { bucket: "kiro-apt-repo", arn: "arn:aws:s3:::kiro-apt-repo" },
          "module.repo",
        ),
        resource("aws_s3_bucket_policy", "repo", { bucket: "kiro-apt-repo" }),
        { ...resource("aws_s3_bucket", "data", { bucket: "someone-elses" }), mode: "data" },
      ],
    });
    expect(terraformResources(json, FILE, both)).toEqual({
      table: "kiro-versions",
      bucket: "kiro-apt-repo",
    });
    // Only what is asked for is looked up (a flag names the other).
    expect(
      terraformResources(state({ resources: [json.resources[0]] }), FILE, {
        table: true,
        bucket: false,
      }),
    ).toEqual({
      table: "kiro-versions",
    });
  });

  it("says what is missing or ambiguous, naming the file and the flag", () => {
    expect(problem(state({}))).toMatch(
      /^terraform\.tfstate: no legacy table: no output whose name contains "table".*and no aws_dynamodb_table resource; pass --legacy-table$/,
    );
    expect(problem(state({}), { table: false, bucket: true })).toMatch(
      /no legacy bucket: .*pass --legacy-bucket$/,
    );
    expect(
      problem(
        state({
          resources: [
            resource("aws_dynamodb_table", "versions", { name: "kiro-versions" }),
            resource("aws_dynamodb_table", "other", { name: "kiro-other" }),
          ],
        }),
        { table: true, bucket: false },
      ),
    ).toMatch(
      /the legacy table is ambiguous: its resources name "kiro-versions" \(resource aws_dynamodb_table\.versions\) and "kiro-other" \(resource aws_dynamodb_table\.other\); pass --legacy-table to choose/,
    );
    expect(
      problem(state({ outputs: { table_a: { value: "a" }, table_b: { value: "b" } } }), {
        table: true,
        bucket: false,
      }),
    ).toMatch(/ambiguous: its outputs name "a" \(output table_a\) and "b" \(output table_b\)/);
  });

  it("refuses what is not a version 4 state", () => {
    expect(problem([1, 2])).toMatch(
      /^terraform\.tfstate: is not a Terraform state \(no "version" field\)$/,
    );
    expect(problem({ version: 3, modules: [] })).toMatch(/version: must be 4/);
    expect(problem(state({ resources: {} }))).toMatch(/resources: must be a list of resources/);
    expect(() => parseTerraformState(state({}), FILE)).not.toThrow();
  });
});
