// The order of records, and so "the newest version" (one home: the store's queries, the
// publisher's kiro-repo.deb copy and the setup package all ask it here).
import { compareVersions } from "../debian/version";
import type { PackageRecord } from "./schema";

export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A total order of records: Debian version (dpkg's rules, so 1.0~rc1 < 1.0 < 1.0+1 < 1:0.1
 * and 9.0 < 10.0), then architecture, then package_id (versions dpkg deems equal, like 1.0 and
 * 1.00, still get a fixed order).
 */
export function compareRecords(a: PackageRecord, b: PackageRecord): number {
  return (
    compareVersions(a.version, b.version) ||
    byteOrder(a.architecture, b.architecture) ||
    byteOrder(a.package_id, b.package_id)
  );
}

/**
 * The newest record: highest Debian version; among records of that version, the smallest
 * architecture (then package_id) in byte order, so the choice never depends on input order.
 */
export function newestRecord(records: Iterable<PackageRecord>): PackageRecord | undefined {
  let best: PackageRecord | undefined;
  for (const record of records) {
    if (best === undefined) {
      best = record;
      continue;
    }
    const byVersion = compareVersions(record.version, best.version);
    if (byVersion > 0 || (byVersion === 0 && compareRecords(record, best) < 0)) best = record;
  }
  return best;
}
