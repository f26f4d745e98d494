// fast-check generators of valid records, shared by the tests of every domain that handles
// records (record, index, store, publisher).
import fc from "fast-check";
import { poolPath } from "../record/pool";
import { type PackageRecordInput, packageId } from "../record/schema";

export const packageNameArb = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,15}$/);

export const versionArb = fc
  .tuple(
    fc.option(fc.integer({ min: 0, max: 99 }), { nil: undefined }),
    fc.stringMatching(/^[0-9][A-Za-z0-9.+~]{0,8}$/),
    fc.option(fc.stringMatching(/^[A-Za-z0-9.+~]{1,5}$/), { nil: undefined }),
  )
  .map(
    ([epoch, upstream, revision]) =>
      `${epoch === undefined ? "" : `${epoch}:`}${upstream}${revision === undefined ? "" : `-${revision}`}`,
  );

export const architectureArb = fc.constantFrom("amd64", "arm64", "all");

const lineArb = fc.stringMatching(/^[!-~][ -~]{0,30}[!-~]$/);

/** A control value: a synopsis line, then optional extended lines (` .` for blank ones). */
export const controlValueArb = fc
  .tuple(lineArb, fc.array(fc.option(lineArb, { nil: undefined }), { maxLength: 4 }))
  .map(([first, rest]) =>
    [first, ...rest.map((l) => (l === undefined ? " ." : ` ${l}`))].join("\n"),
  );

const hexArb = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

/** A valid record of any non-build source, with a random subset of optional fields. */
export const recordArb: fc.Arbitrary<PackageRecordInput> = fc
  .record(
    {
      name: packageNameArb,
      version: versionArb,
      architecture: architectureArb,
      source: fc.constantFrom("upstream" as const, "manual" as const, "migration" as const),
      size: fc.integer({ min: 0, max: 2 ** 40 }),
      md5: hexArb(32),
      sha1: hexArb(40),
      sha256: hexArb(64),
      sha512: hexArb(128),
      maintainer: fc.constantFrom("Kiro Team <support@kiro.dev>", "A. N. Other <a@example.org>"),
      description: controlValueArb,
      depends: fc.option(fc.constantFrom("libc6 (>= 2.31)", "kiro-repo,\n libgtk-3-0"), {
        nil: undefined,
      }),
      section: fc.option(fc.constantFrom("devel", "admin", "editors"), { nil: undefined }),
      installed_size: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: undefined }),
      // Field names are unique in any case (X-A and x-a are one field to dpkg).
      extra: fc.option(
        fc
          .uniqueArray(fc.tuple(fc.stringMatching(/^X-[A-Za-z0-9]{1,8}$/), controlValueArb), {
            maxLength: 3,
            selector: ([name]) => name.toLowerCase(),
          })
          .map((entries) => Object.fromEntries(entries)),
        {
          nil: undefined,
        },
      ),
    },
    {
      requiredKeys: [
        "name",
        "version",
        "architecture",
        "source",
        "size",
        "md5",
        "sha1",
        "sha256",
        "sha512",
        "maintainer",
        "description",
      ],
    },
  )
  .map((r) => {
    const record: PackageRecordInput = {
      package_id: packageId(r.name, r.version, r.architecture),
      package_name: r.name,
      version: r.version,
      architecture: r.architecture,
      source: r.source,
      filename: poolPath("main", r.name, r.version, r.architecture),
      file_size: r.size,
      md5_hash: r.md5,
      sha1_hash: r.sha1,
      sha256_hash: r.sha256,
      sha512_hash: r.sha512,
      maintainer: r.maintainer,
      description: r.description,
      processed_timestamp: "2026-11-24T12:00:00.000Z",
    };
    if (r.depends !== undefined) record.depends = r.depends;
    if (r.section !== undefined) record.section = r.section;
    if (r.installed_size !== undefined) record.installed_size = r.installed_size;
    if (r.extra !== undefined && Object.keys(r.extra).length > 0) record.control_extra = r.extra;
    return record;
  });
