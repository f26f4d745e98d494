import { writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runOk, scratch } from "../testing";
import { debHashes } from "./hashes";

describe("debHashes", () => {
  it("matches coreutils' md5sum, sha1sum, sha256sum, sha512sum and stat on generated files", () => {
    const samples = fc.sample(fc.uint8Array({ maxLength: 5000 }), { numRuns: 100, seed: 42 });
    samples.push(new Uint8Array(0), new TextEncoder().encode("abc"));
    const { dir, cleanup } = scratch();
    try {
      const names = samples.map((bytes, i) => {
        const name = join(dir, `s${i}`);
        writeFileSync(name, bytes);
        return name;
      });
      const digests = (tool: string): string[] =>
        runOk(tool, names)
          .stdout.trim()
          .split("\n")
          .map((line) => line.split(" ")[0] ?? "");
      const md5 = digests("md5sum");
      const sha1 = digests("sha1sum");
      const sha256 = digests("sha256sum");
      const sha512 = digests("sha512sum");
      const sizes = runOk("stat", ["-c", "%s", ...names])
        .stdout.trim()
        .split("\n")
        .map(Number);
      samples.forEach((bytes, i) => {
        expect(debHashes(bytes)).toEqual({
          size: sizes[i],
          md5: md5[i],
          sha1: sha1[i],
          sha256: sha256[i],
          sha512: sha512[i],
        });
      });
    } finally {
      cleanup();
    }
  });

  it("gives the well-known digests of 'abc'", () => {
    const h = debHashes(new TextEncoder().encode("abc"));
    expect(h.md5).toBe("900150983cd24fb0d6963f7d28e17f72");
    expect(h.sha256).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
