// One .deb into the repository, whatever its source: the single path every source takes.
//
//   stream in ─┬─ size limit, MD5/SHA1/SHA256/SHA512, the vendor's signature (when given)
//              ├─ the control member, checked against the feed and the config as soon as read
//              └─ multipart upload to a private staging/ key
//   then: signature and expected hashes checked → the pool copy → the record (conditional put)
//
// A download that can put the same bytes in the bucket server-side (`Download.copyTo`, the
// migration's CopyObject from the old deployment's bucket) is read for the checks only, and
// copied to its pool path once they pass: no staging upload at all.
//
// A record is written only after its pool file exists, so it never points at a missing file;
// any failure removes the staging object; a crash leaves at most that object, which the next
// run's sweep removes. The package is never held whole, in memory or on disk.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { PackageConfig } from "../config/schema";
import { getField, type Paragraph } from "../debian/control";
import type { DebControl } from "../debian/deb";
import { DebStreamReader } from "../debian/deb-stream";
import type { DebHashes } from "../debian/hashes";
import {
  controlAttributes,
  fileAttributes,
  type PackageRecord,
  type PackageRecordInput,
  packageId,
  poolPath,
  toRecord,
} from "../record";
import type { PackageStore } from "../store/store";
import type { Download } from "./fetch";
import { type SignatureInput, SignatureVerifier } from "./signature";
import {
  type Bucket,
  copyToPool,
  objectSize,
  removeObject,
  stagingKey,
  uploadStream,
} from "./staging";

/** A package that disagrees with what its source or the config says: never guessed around. */
export class IngestError extends Error {
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
    this.name = "IngestError";
  }
}

/** Other bytes under a version that is already recorded: a published version never changes. */
export class ConflictError extends IngestError {
  constructor(
    source: string,
    readonly id: string,
    readonly differences: readonly { field: string; recorded: string; incoming: string }[],
  ) {
    super(
      source,
      `${id} is recorded with other bytes: ${differences.map((d) => `${d.field} ${d.recorded} (recorded) vs ${d.incoming} (this file)`).join(", ")}; a published version never changes`,
    );
    this.name = "ConflictError";
  }
}

/** Every source but build (whose .deb the publisher makes from the record). */
export type IngestSourceType = Exclude<PackageRecordInput["source"], "build">;

export interface Provenance {
  readonly deb_url?: string;
  readonly actual_filename?: string;
  readonly certificate_url?: string;
  readonly signature_url?: string;
  readonly notes?: string;
  readonly pub_date?: string;
}

/** What the package must be: from the config, and from the source where it says. */
export interface Expectation {
  /** Packages the config knows, by name. */
  readonly packages: ReadonlyMap<string, PackageConfig>;
  readonly name?: string;
  readonly version?: string;
  readonly architecture?: string;
  /** Written into the record only when given (else the stage's default applies). */
  readonly suite?: string;
  /** The pool path's component (and the record's, when not the stage default). */
  readonly component: string;
  readonly defaultComponent: string;
}

export interface IngestInput {
  /** Names the package in messages: its URL or path. */
  readonly label: string;
  readonly download: Download;
  readonly source: IngestSourceType;
  readonly provenance?: Provenance;
  readonly signature?: SignatureInput;
  /** Hashes the file must have: from the feed, or from an earlier attempt at the same URL. */
  readonly expected?: Partial<DebHashes>;
  readonly maxBytes: number;
  /** Called once the whole file has been read, before the checks that follow. */
  readonly onHashed?: (hashes: DebHashes) => void;
  /** Read, hash and check, but write nothing (no staging object either). */
  readonly dryRun?: boolean;
  readonly now?: Date;
}

export interface IngestTarget {
  readonly bucket: Bucket;
  readonly store: PackageStore;
  readonly logger: Logger;
}

export interface IngestResult {
  readonly outcome: "created" | "unchanged" | "dry-run";
  readonly record: PackageRecord;
  readonly hashes: DebHashes;
}

/** Size and the four digests, computed as the bytes pass. */
class Digests {
  #size = 0;
  readonly #md5 = createHash("md5");
  readonly #sha1 = createHash("sha1");
  readonly #sha256 = createHash("sha256");
  readonly #sha512 = createHash("sha512");

  get size(): number {
    return this.#size;
  }

  update(chunk: Uint8Array): void {
    this.#size += chunk.length;
    this.#md5.update(chunk);
    this.#sha1.update(chunk);
    this.#sha256.update(chunk);
    this.#sha512.update(chunk);
  }

  result(): DebHashes {
    return {
      size: this.#size,
      md5: this.#md5.digest("hex"),
      sha1: this.#sha1.digest("hex"),
      sha256: this.#sha256.digest("hex"),
      sha512: this.#sha512.digest("hex"),
    };
  }
}

/** Checks a control paragraph against the expectation; returns the package's config. */
export function checkControl(
  control: Paragraph,
  expectation: Expectation,
  label: string,
): PackageConfig {
  const field = (name: string) => getField(control, name);
  const name = field("Package");
  const version = field("Version");
  const architecture = field("Architecture");
  if (name === undefined || version === undefined || architecture === undefined) {
    throw new IngestError(label, "the control file lacks Package, Version or Architecture");
  }
  const pkg = expectation.packages.get(name);
  if (pkg === undefined) {
    throw new IngestError(
      label,
      `package ${name} is not in the config (known: ${[...expectation.packages.keys()].join(", ")})`,
    );
  }
  const disagree = (what: string, actual: string, wanted: string | undefined, from: string) => {
    if (wanted !== undefined && actual !== wanted) {
      throw new IngestError(
        label,
        `the control file says ${what} ${actual}, ${from} says ${wanted}`,
      );
    }
  };
  disagree("Package", name, expectation.name, "the source");
  disagree("Version", version, expectation.version, "the source");
  disagree("Architecture", architecture, expectation.architecture, "the source");
  if (!(pkg.architectures as readonly string[]).includes(architecture)) {
    throw new IngestError(
      label,
      `architecture ${architecture} is not one of ${name}'s (${pkg.architectures.join(", ")} in its config)`,
    );
  }
  return pkg;
}

/** The record of a checked package (validated: throws RecordError naming every bad field). */
export function ingestRecord(params: {
  control: DebControl;
  hashes: DebHashes;
  expectation: Expectation;
  source: IngestSourceType;
  provenance?: Provenance;
  now: Date;
}): PackageRecord {
  const { control, expectation } = params;
  const attributes = controlAttributes(control.control);
  const name = getField(control.control, "Package") as string;
  const version = getField(control.control, "Version") as string;
  const architecture = getField(control.control, "Architecture") as string;
  const record: Record<string, unknown> = {
    ...attributes,
    package_id: packageId(name, version, architecture),
    package_name: name,
    version,
    architecture,
    ...(expectation.suite === undefined ? {} : { suite: expectation.suite }),
    ...(expectation.component === expectation.defaultComponent
      ? {}
      : { component: expectation.component }),
    source: params.source,
    ...fileAttributes(poolPath(expectation.component, name, version, architecture), params.hashes),
    ...Object.fromEntries(
      Object.entries(params.provenance ?? {}).filter(([, value]) => value !== undefined),
    ),
    processed_timestamp: params.now.toISOString(),
  };
  return toRecord(record);
}

const HASH_FIELDS = [
  ["size", "file_size"],
  ["md5", "md5_hash"],
  ["sha1", "sha1_hash"],
  ["sha256", "sha256_hash"],
  ["sha512", "sha512_hash"],
] as const;

function contradictions(
  expected: Partial<DebHashes>,
  actual: DebHashes,
): { field: string; expected: string; actual: string }[] {
  return HASH_FIELDS.flatMap(([key]) => {
    const want = expected[key];
    return want === undefined || want === actual[key]
      ? []
      : [{ field: key, expected: String(want), actual: String(actual[key]) }];
  });
}

/**
 * Ingests one .deb: see the file header for the order. "unchanged" when the same bytes are
 * already recorded (the pool file is restored if it went missing); ConflictError when other
 * bytes are; IngestError, SignatureError, DebFormatError or RecordError when the package is
 * refused, with nothing written.
 */
export async function ingestDeb(
  target: IngestTarget,
  expectation: Expectation,
  input: IngestInput,
): Promise<IngestResult> {
  const { label } = input;
  const now = input.now ?? new Date();
  const reader = new DebStreamReader(label);
  const digests = new Digests();
  const verifier =
    input.signature === undefined ? undefined : new SignatureVerifier(input.signature, label, now);
  let pkg: PackageConfig | undefined;

  async function* checked(): AsyncGenerator<Uint8Array> {
    for await (const chunk of input.download.body) {
      if (digests.size + chunk.length > input.maxBytes) {
        throw new IngestError(label, `is larger than the limit of ${input.maxBytes} bytes`);
      }
      digests.update(chunk);
      verifier?.update(chunk);
      reader.push(chunk);
      // As soon as the control member has passed: a wrong package stops the download.
      if (pkg === undefined && reader.control !== undefined) {
        pkg = checkControl(reader.control.control, expectation, label);
      }
      yield chunk;
    }
    reader.finish();
  }

  let staged: string | undefined;
  try {
    const serverSide = input.download.copyTo;
    if (input.dryRun || serverSide !== undefined) {
      for await (const _ of checked()) {
        // consumed for its checks only
      }
    } else {
      const name = expectation.name ?? "import";
      staged = stagingKey(name);
      await uploadStream(target.bucket, staged, checked());
    }
    const control = reader.finish();
    const hashes = digests.result();
    input.onHashed?.(hashes);
    if (pkg === undefined) pkg = checkControl(control.control, expectation, label);
    verifier?.verify();
    const wrong = contradictions(input.expected ?? {}, hashes);
    if (wrong.length > 0) {
      throw new IngestError(
        label,
        `the download contradicts what was expected: ${wrong.map((w) => `${w.field} ${w.actual}, expected ${w.expected}`).join("; ")}`,
      );
    }
    const record = ingestRecord({
      control,
      hashes,
      expectation,
      source: input.source,
      ...(input.provenance === undefined ? {} : { provenance: input.provenance }),
      now,
    });
    if (input.dryRun) return { outcome: "dry-run", record, hashes };

    const existing = await target.store.get(record.package_id);
    if (existing !== undefined && !existing.ok) {
      throw new IngestError(
        label,
        `an invalid item holds ${record.package_id} (${existing.issues.map((i) => `${i.field}: ${i.message}`).join("; ")}); fix or delete it first`,
      );
    }
    if (existing !== undefined) {
      const stored = existing.record;
      const differences = HASH_FIELDS.flatMap(([, attribute]) =>
        stored[attribute] === undefined || stored[attribute] === record[attribute]
          ? []
          : [
              {
                field: attribute,
                recorded: String(stored[attribute]),
                incoming: String(record[attribute]),
              },
            ],
      );
      if (differences.length > 0) throw new ConflictError(label, record.package_id, differences);
    }
    const filename = record.filename as string;
    if (existing === undefined || (await objectSize(target.bucket, filename)) !== hashes.size) {
      if (serverSide !== undefined) await serverSide(filename);
      else await copyToPool(target.bucket, staged as string, filename);
    }
    const outcome = await target.store.put(record);
    target.logger.info(
      { id: record.package_id, filename, size: hashes.size, sha256: hashes.sha256, outcome },
      outcome === "created" ? "recorded" : "already recorded with the same bytes",
    );
    return { outcome, record, hashes };
  } finally {
    if (staged !== undefined) {
      await removeObject(target.bucket, staged).catch((error: unknown) =>
        target.logger.warn(
          { key: staged, err: String(error) },
          "could not remove the staging object (the next run's sweep will)",
        ),
      );
    }
  }
}
