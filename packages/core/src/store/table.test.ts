import type { TableDescription } from "@aws-sdk/client-dynamodb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createTableInput, PACKAGE_TABLE, tableMismatches } from "./table";

/** What DescribeTable reports for a table created from createTableInput. */
function described(tableName: string): TableDescription {
  const input = createTableInput(tableName);
  return {
    TableName: input.TableName,
    TableStatus: "ACTIVE",
    KeySchema: input.KeySchema,
    AttributeDefinitions: input.AttributeDefinitions,
    GlobalSecondaryIndexes: input.GlobalSecondaryIndexes?.map((index) => ({
      ...index,
      IndexStatus: "ACTIVE",
    })),
    StreamSpecification: input.StreamSpecification,
    LatestStreamArn: `arn:aws:dynamodb:ddblocal:000000000000:table/${tableName}/stream/x`,
  };
}

const tableName = fc.stringMatching(/^[A-Za-z0-9_.-]{3,255}$/);

describe("createTableInput", () => {
  it("defines the package table: on demand, keyed by package_id, GSI by name, both images", () => {
    const input = createTableInput("packages");
    expect(input.TableName).toBe("packages");
    expect(input.BillingMode).toBe("PAY_PER_REQUEST");
    expect(input.KeySchema).toEqual([{ AttributeName: "package_id", KeyType: "HASH" }]);
    expect(input.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: "by_package_name",
        KeySchema: [
          { AttributeName: "package_name", KeyType: "HASH" },
          { AttributeName: "package_id", KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      },
    ]);
    expect(input.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: "NEW_AND_OLD_IMAGES",
    });
  });

  it("defines exactly the attributes its keys use (DynamoDB rejects unused definitions)", () => {
    fc.assert(
      fc.property(tableName, (name) => {
        const input = createTableInput(name);
        const used = new Set(
          [
            ...(input.KeySchema ?? []),
            ...(input.GlobalSecondaryIndexes ?? []).flatMap((i) => i.KeySchema ?? []),
          ].map((k) => k.AttributeName),
        );
        const defined = (input.AttributeDefinitions ?? []).map((a) => a.AttributeName);
        expect(new Set(defined)).toEqual(used);
        expect(defined.length).toBe(used.size);
        expect(input.AttributeDefinitions?.every((a) => a.AttributeType === "S")).toBe(true);
        expect(input.TableName).toBe(name);
      }),
      { numRuns: 200 },
    );
  });
});

describe("tableMismatches", () => {
  it("accepts what createTableInput creates", () => {
    fc.assert(
      fc.property(tableName, (name) => {
        expect(tableMismatches(described(name))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  const gsi = (table: TableDescription) => {
    const index = table.GlobalSecondaryIndexes?.[0];
    if (index === undefined) throw new Error("no index");
    return index;
  };
  const mutations: [string, (t: TableDescription) => void, RegExp][] = [
    [
      "another key",
      (t) => {
        t.KeySchema = [{ AttributeName: "version", KeyType: "HASH" }];
      },
      /key schema is version:HASH/,
    ],
    [
      "a sort key",
      (t) => {
        t.KeySchema?.push({ AttributeName: "version", KeyType: "RANGE" });
      },
      /key schema/,
    ],
    [
      "no index",
      (t) => {
        t.GlobalSecondaryIndexes = [];
      },
      /by_package_name is missing/,
    ],
    [
      "another index key",
      (t) => {
        gsi(t).KeySchema = [{ AttributeName: "package_name", KeyType: "HASH" }];
      },
      /has keys package_name:HASH, expected/,
    ],
    [
      "a keys-only index",
      (t) => {
        gsi(t).Projection = { ProjectionType: "KEYS_ONLY" };
      },
      /projects KEYS_ONLY/,
    ],
    [
      "no stream",
      (t) => {
        t.StreamSpecification = undefined;
      },
      /stream is disabled/,
    ],
    [
      "a stream of new images",
      (t) => {
        t.StreamSpecification = { StreamEnabled: true, StreamViewType: "NEW_IMAGE" };
      },
      /stream is NEW_IMAGE/,
    ],
  ];
  it.each(mutations)("names %s", (_name, mutate, message) => {
    const table = structuredClone(described("packages"));
    mutate(table);
    const problems = tableMismatches(table);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it("is consistent with PACKAGE_TABLE", () => {
    expect(PACKAGE_TABLE.gsi.sortKey in PACKAGE_TABLE.attributes).toBe(true);
    expect(PACKAGE_TABLE.gsi.partitionKey in PACKAGE_TABLE.attributes).toBe(true);
    expect(PACKAGE_TABLE.partitionKey in PACKAGE_TABLE.attributes).toBe(true);
  });
});
