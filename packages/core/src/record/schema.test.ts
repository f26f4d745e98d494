import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { recordArb } from "../testing/record-arbitrary";
import { itemToRecord, recordToItem } from "./dynamo";
import { type PackageRecordInput, packageId, parseRecord, RecordError, toRecord } from "./schema";

const kiro: PackageRecordInput = {
  package_id: "kiro#0.7.45#amd64",
  package_name: "kiro",
  version: "0.7.45",
  architecture: "amd64",
  source: "upstream",
  filename: "pool/main/k/kiro/kiro_0.7.45_amd64.deb",
  file_size: 123456,
  md5_hash: "0".repeat(32),
  sha1_hash: "1".repeat(40),
  sha256_hash: "2".repeat(64),
  sha512_hash: "3".repeat(128),
  maintainer: "Kiro Team <support@kiro.dev>",
  description: "The Kiro IDE\n An agentic IDE.\n .\n More text.",
  section: "devel",
  priority: "optional",
  homepage: "https://kiro.dev",
  depends: "libc6 (>= 2.31),\n libgtk-3-0",
  installed_size: 400000,
  deb_url:
    "https://prod.download.desktop.kiro.dev/releases/stable/linux-x64/signed/0.7.45/deb/kiro-ide-0.7.45-stable-linux-x64.deb",
  processed_timestamp: "2026-11-24T12:00:00.000Z",
};

function fieldsOf(item: unknown): string[] {
  const result = parseRecord(item);
  if (result.ok) return [];
  return result.issues.map((i) => i.field).sort();
}

describe("package record", () => {
  it("accepts a complete upstream record", () => {
    const result = parseRecord(kiro);
    expect(result.ok).toBe(true);
  });

  it("derives package_id from its parts", () => {
    expect(packageId("kiro-repo", "2.0.0", "all")).toBe("kiro-repo#2.0.0#all");
    expect(fieldsOf({ ...kiro, package_id: "kiro#0.7.46#amd64" })).toEqual(["package_id"]);
  });

  it("requires the name field (the original system's record-name property)", () => {
    const { package_name: _, ...rest } = kiro;
    expect(fieldsOf(rest)).toContain("package_name");
  });

  it("reports every failed field at once, with the item's key", () => {
    const result = parseRecord({
      ...kiro,
      version: "not a version",
      architecture: "sparc99",
      filename: "pool/../../etc/passwd.deb",
      sha256_hash: "XYZ",
      surprise: 1,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.key).toBe(JSON.stringify(kiro.package_id));
    const fields = result.issues.map((i) => i.field);
    for (const f of ["version", "architecture", "filename", "sha256_hash", "surprise"]) {
      expect(fields).toContain(f);
    }
  });

  it("rejects pool paths that escape the pool, whatever their form", () => {
    for (const filename of [
      "../kiro.deb",
      "/pool/main/k/kiro/kiro.deb",
      "pool/main/k/kiro/../../../x.deb",
      "pool//kiro.deb",
      "pool/main/k/kiro/kiro\n.deb",
      "pool/main/k/kiro/kiro_1:2_amd64.deb",
      "pool/main/k/kiro/kiro%2f.deb",
      "dists/stable/InRelease.deb",
    ]) {
      expect(fieldsOf({ ...kiro, filename }), filename).toEqual(["filename"]);
    }
  });

  it("lets only a build record omit its file, and only a build record carry contents", () => {
    const {
      filename: _f,
      file_size: _s,
      md5_hash: _m,
      sha1_hash: _1,
      sha256_hash: _h,
      sha512_hash: _5,
      ...noFile
    } = kiro;
    expect(fieldsOf(noFile)).toEqual([
      "file_size",
      "filename",
      "md5_hash",
      "sha1_hash",
      "sha256_hash",
      "sha512_hash",
    ]);
    const build = {
      ...noFile,
      package_id: "kiro-repo#2.0.0#all",
      package_name: "kiro-repo",
      version: "2.0.0",
      architecture: "all",
      source: "build",
      contents: [{ path: "/etc/apt/sources.list.d/kiro.sources", content: "Types: deb\n" }],
      scripts: { postinst: "#!/bin/sh\nset -e\n" },
      conffiles: ["/etc/apt/sources.list.d/kiro.sources"],
    };
    expect(fieldsOf(build)).toEqual([]);
    expect(fieldsOf({ ...build, contents: undefined })).toEqual(["contents"]);
    expect(fieldsOf({ ...kiro, contents: build.contents })).toEqual(["contents"]);
    expect(fieldsOf({ ...build, contents: [{ path: "/usr/../etc/shadow", content: "" }] })).toEqual(
      ["contents.0.path"],
    );
  });

  it("rejects control values that could not be rendered back", () => {
    for (const description of ["", " leading", "x\nno indent", "x\n   ", "x\r\n y"]) {
      expect(fieldsOf({ ...kiro, description }), JSON.stringify(description)).toEqual([
        "description",
      ]);
    }
    expect(fieldsOf({ ...kiro, control_extra: { "Bad:Name": "x" } })).toEqual([
      "control_extra.Bad:Name",
    ]);
  });

  it("throws a RecordError naming the key and the fields", () => {
    expect(() => toRecord({ ...kiro, version: "" })).toThrow(RecordError);
    expect(() => toRecord({ ...kiro, version: "" })).toThrow(/kiro#0\.7\.45#amd64.*version/);
  });

  it("accepts every generated valid record and survives the DynamoDB round trip", () => {
    fc.assert(
      fc.property(recordArb, (input) => {
        const parsed = toRecord(input);
        const item = recordToItem(parsed);
        // Optional attributes are stored when present and omitted when absent.
        for (const [key, value] of Object.entries(input)) {
          expect(key in item).toBe(value !== undefined);
        }
        const back = itemToRecord(item);
        expect(back).toEqual({ ok: true, record: input });
      }),
      { numRuns: 500 },
    );
  });

  it("names exactly the field that a mutation breaks", () => {
    const breakers: Record<string, unknown[]> = {
      package_name: ["Kiro", "k", "-kiro", "ki_ro", "ki/ro", 7],
      version: ["", "a1.0", "1.0 ", "1:", ":1.0", "1.0-", "1_0", 1],
      architecture: ["x86_64", "", "amd64 ", "../all"],
      source: ["ftp", ""],
      file_size: [-1, 1.5, "12"],
      sha256_hash: ["0".repeat(63), "G".repeat(64)],
      maintainer: ["", " x"],
      processed_timestamp: ["yesterday", "2026-11-24"],
    };
    const cases = Object.entries(breakers).flatMap(([field, values]) =>
      values.map((value) => [field, value] as const),
    );
    fc.assert(
      fc.property(recordArb, fc.constantFrom(...cases), (input, [field, value]) => {
        const mutated = { ...input, [field]: value };
        const fields = fieldsOf(mutated);
        // A broken part of the id also breaks the id; nothing else may be reported.
        expect(fields).toContain(field);
        expect(fields.filter((f) => f !== field && f !== "package_id")).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
