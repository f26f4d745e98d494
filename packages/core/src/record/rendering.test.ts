import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { renderStanza } from "../debian/stanza";
import { recordArb } from "../testing/record-arbitrary";
import { recordControl } from "./control";
import { type PackageRecordInput, parseRecord, RecordError, toRecord } from "./schema";

/** Whether renderStanza accepts the record's stanza, as the publisher renders it. */
function renders(record: PackageRecordInput): boolean {
  try {
    renderStanza({
      control: recordControl(record),
      filename: record.filename as string,
      size: record.file_size as number,
      md5: record.md5_hash as string,
      sha1: record.sha1_hash as string,
      sha256: record.sha256_hash as string,
      sha512: record.sha512_hash as string,
    });
    return true;
  } catch {
    return false;
  }
}

const caseOf = (name: string) =>
  fc
    .array(fc.boolean(), { minLength: name.length, maxLength: name.length })
    .map((upper) =>
      [...name].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(""),
    );

/** Field names that collide (built-in, index, each other by case) or are invalid, and plain ones. */
const fieldNameArb = fc.oneof(
  fc
    .constantFrom(
      "Package",
      "Version",
      "Architecture",
      "Description",
      "Maintainer",
      "Depends",
      "Section",
      "Installed-Size",
      "Filename",
      "Size",
      "MD5sum",
      "SHA1",
      "SHA256",
      "SHA512",
      "X-Kiro",
      "Source",
    )
    .chain(caseOf),
  fc.stringMatching(/^X-[A-Za-z0-9]{1,3}$/),
  fc.constantFrom("-X", "#X", "A B", "Naïve", "A:B", ""),
);

/** Values renderers accept and refuse: edges, control characters, blank or unindented lines. */
const fieldValueArb = fc.oneof(
  fc.constantFrom(
    "x",
    "",
    " x",
    "x ",
    "x\t",
    "x\n",
    "x\n ",
    "x\n .",
    "x\n y ",
    "x\ny",
    "\n y",
    "x\u0001",
    "x\u007f",
    "a\tb",
    "x\r",
    "x\r\n y",
    "x\u00a0",
    "\u00a0x",
    "x\n \u00a0",
    "ü",
  ),
  // biome-ignore lint/suspicious/noControlCharactersInRegex: generating them is the point
  fc.stringMatching(/^[ -~\t\n\u00a0\u0001]{0,12}$/),
);

const poisonArb = fc.record(
  {
    extra: fc.dictionary(fieldNameArb, fieldValueArb, { maxKeys: 4 }),
    depends: fieldValueArb,
    description: fieldValueArb,
    size: fc.constantFrom(2 ** 53, 2 ** 60, 1.5, -1),
  },
  { requiredKeys: [] },
);

function poisoned(
  base: PackageRecordInput,
  p: { extra?: Record<string, string>; depends?: string; description?: string; size?: number },
): PackageRecordInput {
  const record: PackageRecordInput = { ...base };
  if (p.extra !== undefined) record.control_extra = { ...base.control_extra, ...p.extra };
  if (p.depends !== undefined) record.depends = p.depends;
  if (p.description !== undefined) record.description = p.description;
  if (p.size !== undefined) record.file_size = p.size;
  return record;
}

describe("record validation = rendering", () => {
  it("a record validates if and only if its stanza renders", () => {
    fc.assert(
      fc.property(recordArb, poisonArb, (base, poison) => {
        const record = poisoned(base, poison);
        const result = parseRecord(record);
        expect(result.ok, JSON.stringify(result.ok ? record : result.issues)).toBe(renders(record));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    ["Size", "1"],
    ["size", "1"],
    ["SHA256", "0".repeat(64)],
    ["Filename", "pool/x.deb"],
    ["Package", "other"],
    ["version", "2.0"],
    ["DESCRIPTION", "another"],
  ])("refuses control_extra %s, naming the item's key and the field", (key, value) => {
    const base = fc.sample(recordArb, { numRuns: 1, seed: 7 })[0] as PackageRecordInput;
    const record = { ...base, control_extra: { [key]: value } };
    expect(renders(record)).toBe(false);
    const result = parseRecord(record);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.key).toBe(JSON.stringify(base.package_id));
    expect(result.issues.map((i) => i.field)).toContain(`control_extra.${key}`);
    expect(() => toRecord(record)).toThrow(RecordError);
    expect(() => toRecord(record)).toThrow(`control_extra.${key}: cannot be rendered`);
  });

  it("reports two control_extra keys that differ only in case", () => {
    const base = fc.sample(recordArb, { numRuns: 1, seed: 8 })[0] as PackageRecordInput;
    const result = parseRecord({ ...base, control_extra: { "X-A": "1", "x-a": "2" } });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues[0]?.message).toMatch(/duplicate field/);
  });
});
