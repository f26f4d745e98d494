// Build records (kiro-repo): the record carries the package's files and scripts, and the .deb
// is a pure function of it, so the same record always gives the same bytes.
import { writeDeb } from "../debian/deb";
import { recordControl } from "../record/control";
import type { PackageRecord } from "../record/schema";

export class BuildError extends Error {
  override name = "BuildError";
}

/** The .deb of a build record. Installed-Size is always computed, never taken from the record. */
export function buildRecordDeb(record: PackageRecord): Uint8Array {
  if (record.source !== "build" || record.contents === undefined) {
    throw new BuildError(`${record.package_id} is not a build record`);
  }
  return writeDeb({
    control: recordControl({ ...record, installed_size: undefined }),
    scripts: record.scripts ?? {},
    conffiles: record.conffiles ?? [],
    files: record.contents.map((c) =>
      c.mode === undefined
        ? { path: c.path, content: c.content }
        : { path: c.path, content: c.content, mode: c.mode },
    ),
  });
}
