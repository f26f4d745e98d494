// fast-check generators for the store's tests: build records (recordArb covers the others),
// pool files to pin, and re-keying a record so each property run owns its ids.
import fc from "fast-check";
import { poolPath } from "../record/pool";
import type { PinnedFile } from "../record/schema";
import { type PackageRecordInput, packageId } from "../record/schema";
import { controlValueArb, packageNameArb, versionArb } from "./record-arbitrary";

const hexArb = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
// Built once: compiling a stringMatching arbitrary is far costlier than drawing from it.
const fileArb = fc.record({
  file_size: fc.integer({ min: 0, max: 2 ** 40 }),
  md5_hash: hexArb(32),
  sha1_hash: hexArb(40),
  sha256_hash: hexArb(64),
  sha512_hash: hexArb(128),
});

const installPathArb = fc
  .array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), { minLength: 1, maxLength: 4 })
  .map((segments) => `/${segments.join("/")}`);

/** An unpinned build record (no file yet): contents as text or bytes, maybe scripts. */
export const buildRecordArb: fc.Arbitrary<PackageRecordInput> = fc
  .record({
    name: packageNameArb,
    version: versionArb,
    contents: fc.uniqueArray(
      fc.record({
        path: installPathArb,
        content: fc.oneof(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 })),
        mode: fc.option(fc.constantFrom(0o644, 0o755), { nil: undefined }),
      }),
      { minLength: 1, maxLength: 4, selector: (c) => c.path },
    ),
    postinst: fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
    conffiles: fc.option(fc.array(installPathArb, { maxLength: 2 }), { nil: undefined }),
    description: controlValueArb,
  })
  .map((r) => {
    const record: PackageRecordInput = {
      package_id: packageId(r.name, r.version, "all"),
      package_name: r.name,
      version: r.version,
      architecture: "all",
      source: "build",
      maintainer: "Kiro Team <support@kiro.dev>",
      description: r.description,
      contents: r.contents.map((c) =>
        c.mode === undefined ? { path: c.path, content: c.content } : { ...c, mode: c.mode },
      ),
      processed_timestamp: "2026-11-24T12:00:00.000Z",
    };
    if (r.postinst !== undefined) record.scripts = { postinst: r.postinst };
    if (r.conffiles !== undefined) record.conffiles = r.conffiles;
    return record;
  });

/** A pool file for `record` (its own pool path), with random size and hashes. */
export function pinnedFileArb(record: PackageRecordInput): fc.Arbitrary<PinnedFile> {
  const filename = poolPath("main", record.package_name, record.version, record.architecture);
  return fileArb.map((file) => ({ filename, ...file }));
}

/** The same record under another name/version/architecture (id and pool path follow). */
export function rekey(
  record: PackageRecordInput,
  name: string,
  version: string = record.version,
  architecture: PackageRecordInput["architecture"] = record.architecture,
): PackageRecordInput {
  const moved: PackageRecordInput = {
    ...record,
    package_id: packageId(name, version, architecture),
    package_name: name,
    version,
    architecture,
  };
  if (record.filename !== undefined) {
    moved.filename = poolPath(record.component ?? "main", name, version, architecture);
  }
  return moved;
}
