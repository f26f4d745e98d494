// Records as DynamoDB items. Absent optional attributes are omitted, never stored as NULL.
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type PackageRecord,
  type PackageRecordInput,
  parseRecord,
  type RecordResult,
} from "./schema";

export type Item = Record<string, AttributeValue>;

export function recordToItem(record: PackageRecord | PackageRecordInput): Item {
  return marshall(record, { removeUndefinedValues: true });
}

/** Validates an item (from a query, a stream image, a file): never throws for bad data. */
export function itemToRecord(item: Item): RecordResult {
  let plain: unknown;
  try {
    plain = unmarshall(item);
  } catch (error) {
    const id = item.package_id?.S;
    return {
      ok: false,
      key: id === undefined ? "(no package_id)" : JSON.stringify(id),
      issues: [{ field: "(item)", message: `not a DynamoDB item: ${(error as Error).message}` }],
    };
  }
  return parseRecord(plain);
}
