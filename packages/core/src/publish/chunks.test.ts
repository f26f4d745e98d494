import { gunzipSync } from "node:zlib";
import { xz as lzma } from "@napi-rs/lzma";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packageId } from "../record/schema";
import { packageNameArb, versionArb } from "../testing/record-arbitrary";
import {
  buildIndex,
  type Changes,
  compareKeys,
  type Entry,
  parseEntries,
  updateIndex,
} from "./chunks";

const entryArb = fc
  .record({
    name: fc.oneof(packageNameArb, fc.constantFrom("kiro", "kiro-cli", "kiro-repo")),
    version: versionArb,
    architecture: fc.constantFrom("amd64", "all"),
    text: fc.stringMatching(/^[a-z ]{0,40}$/),
  })
  .map(
    ({ name, version, architecture, text }): Entry => ({
      id: packageId(name, version, architecture),
      name,
      version,
      architecture,
      stanza: `Package: ${name}\nVersion: ${version}\nArchitecture: ${architecture}\nDescription: x${text}\n`,
    }),
  );

const entriesArb = fc.uniqueArray(entryArb, { selector: (e) => e.id, maxLength: 400, size: "max" });

function apply(entries: readonly Entry[], changes: Changes): Entry[] {
  const byId = new Map(entries.map((e) => [e.id, e]));
  for (const [id, e] of changes) {
    if (e === null) byId.delete(id);
    else byId.set(id, e);
  }
  return [...byId.values()];
}

const text = (entries: readonly Entry[]) =>
  [...entries]
    .sort(compareKeys)
    .map((e) => `${e.stanza}\n`)
    .join("");

describe("chunked index", () => {
  it("compresses to the sorted stanzas, readable as gzip and xz", async () => {
    await fc.assert(
      fc.asyncProperty(entriesArb, async (entries) => {
        const files = await buildIndex(entries);
        const expected = text(entries);
        expect(gunzipSync(files.gz).toString()).toBe(expected);
        expect(lzma.decompressSync(files.xz).toString()).toBe(expected);
        expect(parseEntries(expected).map((e) => e.id)).toEqual(
          [...entries].sort(compareKeys).map((e) => e.id),
        );
      }),
      { numRuns: 60 },
    );
  });

  it("an incremental update gives the bytes of a full rebuild", async () => {
    await fc.assert(
      fc.asyncProperty(
        entriesArb,
        fc.array(fc.tuple(fc.nat(), fc.option(entryArb, { nil: null }), fc.boolean()), {
          maxLength: 12,
        }),
        async (entries, ops) => {
          const previous = await buildIndex(entries);
          const changes = new Map<string, Entry | null>();
          for (const [n, entry, remove] of ops) {
            const existing = entries[n % Math.max(entries.length, 1)];
            if (remove && existing) changes.set(existing.id, null);
            else if (entry) changes.set(entry.id, entry);
            else if (existing) {
              changes.set(existing.id, {
                ...existing,
                stanza: `${existing.stanza}X-Changed: yes\n`,
              });
            }
          }
          const after = apply(entries, changes);
          const full = await buildIndex(after);
          const incremental = await updateIndex(previous, changes);
          if (incremental === undefined) {
            expect(text(after)).toBe(text(entries));
          } else {
            expect(Buffer.from(incremental.gz).equals(Buffer.from(full.gz))).toBe(true);
            expect(Buffer.from(incremental.xz).equals(Buffer.from(full.xz))).toBe(true);
            expect(incremental.manifest).toEqual(full.manifest);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("recompresses only the chunks a change touches", async () => {
    const entries = Array.from({ length: 2000 }, (_, i): Entry => {
      const name = `pkg${String(i).padStart(5, "0")}`;
      return {
        id: `${name}#1.0#amd64`,
        name,
        version: "1.0",
        architecture: "amd64",
        stanza: `Package: ${name}\nVersion: 1.0\nArchitecture: amd64\n`,
      };
    });
    const previous = await buildIndex(entries);
    const target = entries[1000] as Entry;
    const next = await updateIndex(
      previous,
      new Map([[target.id, { ...target, stanza: `${target.stanza}X-New: 1\n` }]]),
    );
    expect(next).toBeDefined();
    if (!next) return;
    // All but at most two chunks keep their exact compressed bytes.
    const kept = next.manifest.chunks.filter((c, i) => {
      const before = previous.manifest.chunks[i];
      return before !== undefined && before.gz === c.gz && before.first.join() === c.first.join();
    });
    expect(kept.length).toBeGreaterThanOrEqual(previous.manifest.chunks.length - 2);
    expect(previous.manifest.chunks.length).toBeGreaterThan(10);
  });

  it("an empty index is a valid empty gzip and xz file", async () => {
    const files = await buildIndex([]);
    expect(gunzipSync(files.gz).length).toBe(0);
    expect(lzma.decompressSync(files.xz).length).toBe(0);
    expect(await updateIndex(files, new Map([["a#1#amd64", null]]))).toBeUndefined();
  });
});
