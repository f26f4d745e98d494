// What the publisher's functions (stream consumer and rebuild) may do, as IAM statements: the
// exact operations the code performs, on exactly the keys it writes. SST's links would grant
// `dynamodb:*` and `s3:*` on the table and the bucket; stacks/ turns those off (links carry only
// names) and attaches these instead. Pure: ARNs are the caller's type (Pulumi outputs in
// stacks/, strings in the test), joined to a suffix by the caller's `sub`.
import { poolPrefix } from "../record/pool";

/** The attributes pinFile sets on a build record, plus the key DynamoDB requires in the list. */
export const PIN_ATTRIBUTES = [
  "package_id",
  "filename",
  "file_size",
  "md5_hash",
  "sha1_hash",
  "sha256_hash",
  "sha512_hash",
] as const;

export interface Statement<A> {
  readonly effect: "allow" | "deny";
  readonly actions: readonly string[];
  readonly resources: readonly A[];
  readonly conditions?: readonly {
    readonly test: string;
    readonly variable: string;
    readonly values: readonly string[];
  }[];
}

export interface PublisherResources<A> {
  readonly packagesTable: A;
  readonly stateTable: A;
  readonly bucket: A;
  /** `arn` + `suffix` in the caller's ARN type. */
  readonly sub: (arn: A, suffix: string) => A;
}

export interface PublisherPaths {
  /** Keys at the root of the bucket the publisher writes (index.html, keyrings, kiro-repo.deb). */
  readonly rootFiles: readonly string[];
  /** The packages the publisher builds (source: build), each in every component. */
  readonly buildPackages: readonly string[];
  readonly components: readonly string[];
}

/** The pool directory of a package the publisher builds: `pool/<component>/<prefix>/<name>/`. */
export const buildPoolDir = (component: string, name: string): string =>
  `pool/${component}/${poolPrefix(name)}/${name}/`;

/**
 * Allow statements only (anything not allowed is denied): no PutItem or DeleteItem on the
 * package table, no DeleteObject but in by-hash directories and the pool (the grace-period
 * sweep: by-hash objects no Release lists, pool files whose records went), no PutObject but
 * dists/, the root files and the build packages' pool directories.
 */
export function publisherStatements<A>(
  r: PublisherResources<A>,
  paths: PublisherPaths,
): Statement<A>[] {
  const packagesIndexes = r.sub(r.packagesTable, "/index/*");
  const object = (key: string) => r.sub(r.bucket, `/${key}`);
  return [
    {
      // Reads: one record, many (BatchGetItem), a package's versions (the GSI), the table.
      effect: "allow",
      actions: [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:DescribeTable",
      ],
      resources: [r.packagesTable, packagesIndexes],
    },
    {
      // The only write to a record: pinning a built file's size and hashes (store.pinFile).
      effect: "allow",
      actions: ["dynamodb:UpdateItem"],
      resources: [r.packagesTable],
      conditions: [
        {
          test: "ForAllValues:StringEquals",
          variable: "dynamodb:Attributes",
          values: [...PIN_ATTRIBUTES],
        },
      ],
    },
    {
      // The publisher's own state (generations, retired by-hash objects): read and write items.
      effect: "allow",
      actions: [
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:DescribeTable",
      ],
      resources: [r.stateTable, r.sub(r.stateTable, "/index/*")],
    },
    {
      // Listing (by-hash sweep, pool checks) and reading any object (pool files, indexes).
      effect: "allow",
      actions: ["s3:ListBucket"],
      resources: [r.bucket],
    },
    {
      effect: "allow",
      actions: ["s3:GetObject"],
      resources: [object("*")],
    },
    {
      effect: "allow",
      actions: ["s3:PutObject"],
      resources: [
        object("dists/*"),
        ...paths.rootFiles.map(object),
        ...paths.components.flatMap((c) =>
          paths.buildPackages.map((name) => object(`${buildPoolDir(c, name)}*`)),
        ),
      ],
    },
    {
      // The grace-period sweep deletes retired by-hash objects, and pool files once no record
      // refers to them (publish/pool-sweep.ts), and nothing else: no Release, no root file.
      effect: "allow",
      actions: ["s3:DeleteObject"],
      resources: [object("dists/*/by-hash/*"), object("pool/*")],
    },
  ];
}
