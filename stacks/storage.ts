// Storage: the package table (the source of truth), the publisher's state table, and the
// repository bucket behind a CDN.
import { STATE_TABLE } from "../packages/core/src/publish/state-table";
import { PACKAGE_TABLE } from "../packages/core/src/store/table";
import type { StageSetup } from "./config";

/** Keys the CDN never serves (docs/architecture.md §3): uploads in progress and operator files. */
export const PRIVATE_PREFIXES = ["staging/", "internal/"] as const;

// SST spells DynamoDB's enums its own way; these maps derive the SST table from the same
// definition the local stage creates its table from, so the two cannot drift apart.
const ATTRIBUTE_TYPE = { S: "string", N: "number", B: "binary" } as const;
const PROJECTION = { ALL: "all", KEYS_ONLY: "keys-only" } as const;
const STREAM_VIEW = {
  NEW_AND_OLD_IMAGES: "new-and-old-images",
  NEW_IMAGE: "new-image",
  OLD_IMAGE: "old-image",
  KEYS_ONLY: "keys-only",
} as const;

// The state table's definition lives apart from the publisher (whose native xz module SST's
// config bundler cannot load), so its keys are imported, not copied.
const STATE_KEYS = STATE_TABLE;

const packageFields = Object.fromEntries(
  Object.entries(PACKAGE_TABLE.attributes).map(([name, type]) => [name, ATTRIBUTE_TYPE[type]]),
);

/**
 * Runs first in the CDN's viewer-request function, before the Router picks the bucket.
 * The Router routes by path prefix and cannot exclude one, so the private prefixes are
 * answered here (404, without reaching S3); the bucket policy denies them to CloudFront as well,
 * which is the guarantee (this check sees the URI before S3 decodes it).
 * APT sends plain GETs without a query string. S3 would read a query as a sub-resource, and
 * with the s3:ListBucket grant below (for 404s) `/?list-type=2` would list the bucket: queries
 * are dropped, and `/` is the index page rather than a listing.
 */
export function viewerRequestInjection(): string {
  const prefixes = PRIVATE_PREFIXES.map((p) => p.replace(/\/$/, "")).join("|");
  return `
const method = event.request.method;
if (method !== "GET" && method !== "HEAD") {
  return { statusCode: 405, statusDescription: "Method Not Allowed", headers: { allow: { value: "GET, HEAD" } } };
}
event.request.querystring = {};
let key;
try { key = decodeURIComponent(event.request.uri); } catch (e) {
  return { statusCode: 400, statusDescription: "Bad Request" };
}
if (/^\\/(${prefixes})(\\/|$)/.test(key)) {
  return { statusCode: 404, statusDescription: "Not Found" };
}
if (event.request.uri === "/") event.request.uri = "/index.html";
`;
}

export function storage(stage: StageSetup) {
  const packages = new sst.aws.Dynamo("Packages", {
    fields: packageFields,
    primaryIndex: { hashKey: PACKAGE_TABLE.partitionKey },
    globalIndexes: {
      [PACKAGE_TABLE.gsi.name]: {
        hashKey: PACKAGE_TABLE.gsi.partitionKey,
        rangeKey: PACKAGE_TABLE.gsi.sortKey,
        projection: PROJECTION[PACKAGE_TABLE.gsi.projection],
      },
    },
    // The publisher needs the old image of a delete, or of a record that moved, to know which
    // indices it leaves.
    stream: STREAM_VIEW[PACKAGE_TABLE.stream],
    deletionProtection: stage.production,
    transform: {
      table: (args) => {
        // The table is the only copy of the truth: keep 35 days of point-in-time recovery.
        args.pointInTimeRecovery = { enabled: true };
      },
    },
  });

  // Derived data (generations, manifests, retired by-hash files): a rebuild recreates it.
  const state = new sst.aws.Dynamo("PublisherState", {
    fields: { [STATE_KEYS.partitionKey]: "string", [STATE_KEYS.sortKey]: "string" },
    primaryIndex: { hashKey: STATE_KEYS.partitionKey, rangeKey: STATE_KEYS.sortKey },
    deletionProtection: stage.production,
  });

  // The Router comes first: the bucket policy names its distribution, and the Router's
  // distribution does not depend on the bucket (routes live in its key-value store).
  const cdn = new sst.aws.Router("Cdn", {
    ...(stage.domain === undefined ? {} : { domain: stage.domain }),
    edge: { viewerRequest: { injection: viewerRequestInjection() } },
  });
  const distributionArn = cdn.nodes.cdn.nodes.distribution.arn;
  const fromOurCdn = [
    { test: "StringEquals", variable: "AWS:SourceArn", values: [distributionArn] },
  ];
  const cloudfront = [{ type: "service" as const, identifiers: ["cloudfront.amazonaws.com"] }];

  const bucket = new sst.aws.Bucket("Repository", {
    // Read through CloudFront only (Origin Access Control); no public ACL or policy ever.
    access: "cloudfront",
    // Browsers may read the repository from its own site only, and only read.
    cors: {
      allowOrigins: [new URL(stage.repoUrl).origin],
      allowMethods: ["GET", "HEAD"],
      allowHeaders: [],
      exposeHeaders: ["ETag"],
      maxAge: "1 hour",
    },
    policy: [
      // Without s3:ListBucket S3 answers 403 for a missing key, and apt treats a non-404 error
      // on InRelease as fatal (docs/architecture.md §3).
      {
        actions: ["s3:ListBucket"],
        principals: cloudfront,
        paths: [""],
        conditions: fromOurCdn,
      },
      // `access: "cloudfront"` grants s3:GetObject to CloudFront as a service; only our
      // distribution may use it.
      {
        effect: "deny",
        actions: ["s3:GetObject", "s3:ListBucket"],
        principals: cloudfront,
        conditions: [
          { test: "StringNotEquals", variable: "AWS:SourceArn", values: [distributionArn] },
        ],
      },
      {
        effect: "deny",
        actions: ["s3:GetObject"],
        principals: cloudfront,
        paths: PRIVATE_PREFIXES.map((p) => `${p}*`),
      },
    ],
    // The backstop behind the sources' own cleanup (packages/core/src/sources/staging.ts): an
    // ingestion lasts minutes, so a staging object a day old belongs to a crashed one.
    lifecycle: [{ id: "expire-staging", prefix: "staging/", expiresIn: "1 day" }],
    transform: {
      lifecycle: (args) => {
        // SST's rules cannot abort unfinished multipart uploads (a crashed upload's parts are
        // stored, and billed, but listed nowhere): one more rule, on the whole bucket.
        args.rules = $output(args.rules).apply((rules) => [
          ...(rules ?? []),
          {
            id: "abort-incomplete-multipart-uploads",
            status: "Enabled",
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
          },
        ]);
      },
    },
  });
  cdn.routeBucket("/", bucket);

  return { packages, state, bucket, cdn };
}

export type Storage = ReturnType<typeof storage>;
