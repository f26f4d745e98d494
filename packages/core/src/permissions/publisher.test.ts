// The publisher's IAM statements, evaluated as IAM would (allow-list, `*`/`?` globs, the
// ForAllValues condition on the updated attributes): exactly the operations the code performs.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { poolPath } from "../record/pool";
import { FILE_ATTRIBUTES } from "../store/store";
import { PIN_ATTRIBUTES, publisherStatements, type Statement } from "./publisher";

const PACKAGES = "arn:aws:dynamodb:eu-west-1:1:table/packages";
const STATE = "arn:aws:dynamodb:eu-west-1:1:table/state";
const BUCKET = "arn:aws:s3:::repo";
const ROOT_FILES = [
  "index.html",
  "kiro-archive-keyring.gpg",
  "kiro-archive-keyring.asc",
  "kiro-repo.deb",
];

const statements = publisherStatements(
  { packagesTable: PACKAGES, stateTable: STATE, bucket: BUCKET, sub: (arn, s) => `${arn}${s}` },
  { rootFiles: ROOT_FILES, buildPackages: ["kiro-repo"], components: ["main", "extra"] },
);

const glob = (pattern: string): RegExp =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
  );

/** IAM's answer for one request: allowed only by an allow statement whose conditions hold. */
function allowed(
  list: readonly Statement<string>[],
  action: string,
  resource: string,
  context: Record<string, readonly string[]> = {},
): boolean {
  const matches = (s: Statement<string>) =>
    s.actions.some((a) => glob(a).test(action)) && s.resources.some((r) => glob(r).test(resource));
  const holds = (s: Statement<string>) =>
    (s.conditions ?? []).every((c) => {
      expect(c.test).toBe("ForAllValues:StringEquals");
      return (context[c.variable] ?? []).every((v) => c.values.includes(v));
    });
  if (list.some((s) => s.effect === "deny" && matches(s))) return false;
  return list.some((s) => s.effect === "allow" && matches(s) && holds(s));
}

const object = (key: string) => `${BUCKET}/${key}`;
const byHash = `dists/stable/main/binary-amd64/by-hash/SHA512/${"a".repeat(128)}`;

describe("the publisher's permissions", () => {
  it("never grants a wildcard action", () => {
    for (const s of statements) for (const a of s.actions) expect(a).not.toContain("*");
  });

  it("reads the package table and updates only the pin attributes of a record", () => {
    for (const action of ["GetItem", "BatchGetItem", "Query", "Scan"])
      expect(allowed(statements, `dynamodb:${action}`, PACKAGES), action).toBe(true);
    expect(allowed(statements, "dynamodb:Query", `${PACKAGES}/index/by-name`)).toBe(true);
    const pin = { "dynamodb:Attributes": PIN_ATTRIBUTES };
    expect(allowed(statements, "dynamodb:UpdateItem", PACKAGES, pin)).toBe(true);
    for (const attribute of ["version", "description", "control_extra", "source"]) {
      const context = { "dynamodb:Attributes": [...PIN_ATTRIBUTES, attribute] };
      expect(allowed(statements, "dynamodb:UpdateItem", PACKAGES, context), attribute).toBe(false);
    }
    for (const action of ["PutItem", "DeleteItem", "BatchWriteItem", "DeleteTable", "UpdateTable"])
      expect(allowed(statements, `dynamodb:${action}`, PACKAGES), action).toBe(false);
  });

  it("pins exactly the attributes store.pinFile sets", () => {
    expect([...PIN_ATTRIBUTES]).toEqual(["package_id", ...FILE_ATTRIBUTES]);
  });

  it("reads and writes its state table's items, never the table itself", () => {
    for (const action of [
      "GetItem",
      "PutItem",
      "UpdateItem",
      "DeleteItem",
      "Query",
      "BatchWriteItem",
      "ConditionCheckItem",
    ])
      expect(allowed(statements, `dynamodb:${action}`, STATE), action).toBe(true);
    for (const action of ["DeleteTable", "UpdateTable", "UpdateTimeToLive"])
      expect(allowed(statements, `dynamodb:${action}`, STATE), action).toBe(false);
  });

  it("writes dists/, the root files and the build packages' pool files; deletes only by-hash and pool files", () => {
    const keyArb = fc.oneof(
      fc.constantFrom(
        "dists/stable/InRelease",
        "dists/stable/main/binary-amd64/Packages.gz",
        byHash,
        ...ROOT_FILES,
        "index.htm",
        "kiro-repo.deb.bak",
        "uploads/x.deb",
        "pool/main/k/kiro-repo-evil/x.deb",
        "pool/main/k/kiro/kiro_1.0_amd64.deb",
      ),
      fc
        .tuple(
          fc.constantFrom("main", "extra", "contrib"),
          fc.constantFrom("kiro-repo", "kiro", "libkiro"),
          fc.constantFrom("1.0", "2:3.4-5"),
        )
        .map(([c, n, v]) => poolPath(c, n, v, "all")),
      fc.stringMatching(/^[a-z/._-]{1,20}$/),
    );
    fc.assert(
      fc.property(keyArb, (key) => {
        const expected =
          key.startsWith("dists/") ||
          ROOT_FILES.includes(key) ||
          /^pool\/(main|extra)\/k\/kiro-repo\//.test(key);
        expect(allowed(statements, "s3:PutObject", object(key))).toBe(expected);
        // Deleting: only by-hash objects and pool files (the grace-period sweep).
        expect(allowed(statements, "s3:DeleteObject", object(key))).toBe(
          /^dists\/.*\/by-hash\//.test(key) || key.startsWith("pool/"),
        );
        expect(allowed(statements, "s3:GetObject", object(key))).toBe(true);
      }),
      { numRuns: 500 },
    );
    expect(allowed(statements, "s3:DeleteObject", object(byHash))).toBe(true);
    expect(allowed(statements, "s3:DeleteObject", object("pool/main/k/kiro/kiro_1_all.deb"))).toBe(
      true,
    );
    for (const key of ["dists/stable/InRelease", "dists/stable/Release", ...ROOT_FILES, "x.deb"])
      expect(allowed(statements, "s3:DeleteObject", object(key)), key).toBe(false);
    expect(allowed(statements, "s3:ListBucket", BUCKET)).toBe(true);
    for (const action of [
      "s3:DeleteBucket",
      "s3:PutBucketPolicy",
      "s3:PutObjectAcl",
      "s3:PutLifecycleConfiguration",
    ])
      expect(
        allowed(statements, action, BUCKET) || allowed(statements, action, object("x")),
        action,
      ).toBe(false);
  });
});
