// What the migration will do with each legacy item, decided before anything is read or written:
// pure, so its rules are property-tested in memory. Each item gets exactly one decision:
//   report   — it cannot be migrated (schema, version, timestamp, a duplicate of another item's
//              version as dpkg compares them, a record under its id that disagrees or is invalid);
//   skip     — its version is already recorded with nothing that contradicts the item (a rerun);
//   migrate  — the rest: its .deb is located and ingested afterwards (which may still report it).
import * as v from "valibot";
import { canonicalVersion } from "../debian/canonical-version";
import { packageId, type RecordResult } from "../record";
import {
  LEGACY_ARCHITECTURE,
  LEGACY_PACKAGE,
  type LegacyRow,
  legacyKey,
  legacyRowSchema,
  normaliseTimestamp,
} from "./legacy";

export type RowDecision =
  | { readonly kind: "report"; readonly key: string; readonly problems: readonly string[] }
  | { readonly kind: "skip"; readonly key: string; readonly id: string; readonly reason: string }
  | {
      readonly kind: "migrate";
      readonly key: string;
      readonly id: string;
      readonly row: LegacyRow;
      /** processed_timestamp, ISO 8601 with zone. */
      readonly processed: string;
    };

interface Parsed {
  readonly index: number;
  readonly key: string;
  readonly row: LegacyRow;
  readonly id: string;
  readonly canonical: string;
  readonly processed: string;
}

/** The ids the valid items would take (to read the records that exist under them first). */
export function legacyIds(items: readonly Record<string, unknown>[]): string[] {
  const ids = new Set<string>();
  for (const item of items) {
    const parsed = v.safeParse(legacyRowSchema, item);
    if (!parsed.success) continue;
    try {
      ids.add(packageId(LEGACY_PACKAGE, parsed.output.version, LEGACY_ARCHITECTURE));
    } catch {
      // an invalid version: reported by planMigration
    }
  }
  return [...ids];
}

const STATED = [
  ["file_size", "file_size"],
  ["md5_hash", "md5_hash"],
  ["sha1_hash", "sha1_hash"],
  ["sha256_hash", "sha256_hash"],
  ["sha512_hash", "sha512_hash"],
] as const;

/**
 * One decision per item, in the items' order. `existing` holds what the package table has
 * under each id of legacyIds (absent ids: nothing). Among items dpkg finds equal (`1.0`,
 * `1.0-0`), the one spelled canonically (else the first by spelling) is the one decided on,
 * whatever the scan order; the others are reported as its duplicates.
 */
export function planMigration(
  items: readonly Record<string, unknown>[],
  existing: ReadonlyMap<string, RecordResult | undefined>,
  now: Date,
): RowDecision[] {
  const decisions: (RowDecision | undefined)[] = items.map(() => undefined);
  const valid: Parsed[] = [];
  items.forEach((item, index) => {
    const key = legacyKey(item);
    const parsed = v.safeParse(legacyRowSchema, item, { abortEarly: false });
    if (!parsed.success) {
      decisions[index] = {
        kind: "report",
        key,
        problems: parsed.issues.map((i) => `${v.getDotPath(i) ?? "(item)"}: ${i.message}`),
      };
      return;
    }
    const row = parsed.output;
    const problems: string[] = [];
    let canonical = "";
    try {
      canonical = canonicalVersion(row.version);
    } catch (error) {
      problems.push(`version: ${(error as Error).message}`);
    }
    let processed = "";
    try {
      processed = normaliseTimestamp(row.processed_timestamp, now);
    } catch (error) {
      problems.push((error as Error).message);
    }
    if (problems.length > 0) {
      decisions[index] = { kind: "report", key, problems };
      return;
    }
    const id = packageId(LEGACY_PACKAGE, row.version, LEGACY_ARCHITECTURE);
    valid.push({ index, key, row, id, canonical, processed });
  });

  const byId = new Map<string, Parsed[]>();
  for (const p of valid) byId.set(p.id, [...(byId.get(p.id) ?? []), p]);
  for (const group of byId.values()) {
    const [first, ...others] = [...group].sort(
      (a, b) =>
        Number(b.row.version === b.canonical) - Number(a.row.version === a.canonical) ||
        (a.row.version < b.row.version
          ? -1
          : a.row.version > b.row.version
            ? 1
            : a.index - b.index),
    );
    if (first === undefined) continue;
    for (const other of others) {
      decisions[other.index] = {
        kind: "report",
        key: other.key,
        problems: [
          `duplicate of ${first.key}: dpkg sees the same version (${first.canonical}); only ${first.key} is migrated`,
        ],
      };
    }
    decisions[first.index] = decide(first, existing.get(first.id));
  }
  return decisions.map((d, i) => {
    if (d === undefined) throw new Error(`no decision for item ${i}`);
    return d;
  });
}

function decide(p: Parsed, stored: RecordResult | undefined): RowDecision {
  if (stored === undefined) {
    return { kind: "migrate", key: p.key, id: p.id, row: p.row, processed: p.processed };
  }
  if (!stored.ok) {
    return {
      kind: "report",
      key: p.key,
      problems: [
        `an invalid item holds ${p.id} (${stored.issues.map((i) => `${i.field}: ${i.message}`).join("; ")}); fix or delete it first`,
      ],
    };
  }
  const record = stored.record;
  const disagree = STATED.flatMap(([rowField, recordField]) => {
    const stated = p.row[rowField];
    const recorded = record[recordField];
    return stated === undefined || recorded === undefined || stated === recorded
      ? []
      : [`${rowField} ${stated} (legacy) vs ${recorded} (recorded)`];
  });
  if (disagree.length > 0) {
    return {
      kind: "report",
      key: p.key,
      problems: [
        `${p.id} is recorded (source: ${record.source}) with other bytes: ${disagree.join(", ")}`,
      ],
    };
  }
  return {
    kind: "skip",
    key: p.key,
    id: p.id,
    reason:
      record.source === "migration"
        ? "already migrated"
        : `already recorded (source: ${record.source})`,
  };
}
