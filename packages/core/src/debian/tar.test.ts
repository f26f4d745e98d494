import { chmodSync, linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";
import { runOk, scratch } from "../testing";
import { materialize, toInputs, tree } from "../testing/deb-arbitrary";
import { DebFormatError, DebSpecError } from "./format-error";
import { compareComponents, pathComponents, readTar, type TarInput, writeTar } from "./tar";

// Spawns Debian's tools many times: generous on a busy 2-core machine.
const ORACLE_TIMEOUT = 300_000;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("writeTar", () => {
  it(
    "is byte-identical to the data.tar of dpkg-deb --build --root-owner-group -Znone",
    () => {
      // mtimes in the past: dpkg-deb clamps the (newer) files' times to SOURCE_DATE_EPOCH.
      const cases = fc.sample(fc.tuple(tree, fc.integer({ min: 0, max: 1_700_000_000 })), {
        numRuns: 25,
        seed: 11,
      });
      const { dir, cleanup } = scratch();
      try {
        const script = ["set -e"];
        cases.forEach(([entries, mtime], i) => {
          const root = join(dir, `t${i}`);
          materialize(root, entries);
          mkdirSync(join(root, "DEBIAN"), { mode: 0o755 });
          writeFileSync(
            join(root, "DEBIAN", "control"),
            `Package: t${i}\nVersion: 1\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: t\n`,
          );
          script.push(
            `SOURCE_DATE_EPOCH=${mtime} dpkg-deb --root-owner-group -Znone --build ${root} ${dir}/t${i}.deb >/dev/null`,
            `cd ${dir} && ar p t${i}.deb data.tar > t${i}.tar`,
          );
        });
        runOk("bash", ["-c", script.join("\n")]);
        cases.forEach(([entries, mtime], i) => {
          const expected = new Uint8Array(readFileSync(join(dir, `t${i}.tar`)));
          const mine = writeTar(toInputs(entries), { mtime });
          if (!Buffer.from(mine).equals(expected)) {
            // Show the listings: far easier to read than a byte diff.
            expect(readTar(mine).map((e) => [e.path, e.type, e.mode])).toEqual(
              readTar(expected).map((e) => [e.path, e.type, e.mode]),
            );
          }
          expect(Buffer.from(mine).equals(expected)).toBe(true);
        });
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );

  it("round-trips through readTar with parents added, ./ names and fixed owner and mtime", () => {
    fc.assert(
      fc.property(tree, fc.nat({ max: 8 ** 11 - 1 }), (entries, mtime) => {
        const read = readTar(writeTar(toInputs(entries), { mtime }));
        const byPath = new Map(read.map((e) => [e.path, e]));
        expect(byPath.size).toBe(read.length);
        expect(read[0]?.path).toBe("./");
        for (const e of read) {
          expect([e.uid, e.gid, e.uname, e.gname, e.mtime]).toEqual([0, 0, "root", "root", mtime]);
          expect(e.path.startsWith("./")).toBe(true);
          if (e.type === "directory") expect(e.path.endsWith("/")).toBe(true);
        }
        for (const e of entries) {
          const name = `./${e.parts.join("/")}${e.kind === "directory" ? "/" : ""}`;
          const got = byPath.get(name);
          expect(got?.type).toBe(e.kind);
          if (e.kind === "file") {
            expect([got?.mode, got?.size, got?.data]).toEqual([e.mode, e.data.length, e.data]);
          } else if (e.kind === "symlink") {
            expect([got?.mode, got?.linkTarget]).toEqual([0o777, e.target]);
          } else {
            expect(got?.mode).toBe(e.mode | 0o700);
          }
          // Every ancestor is present as a directory.
          for (let depth = 0; depth < e.parts.length; depth++) {
            const parent = depth === 0 ? "./" : `./${e.parts.slice(0, depth).join("/")}/`;
            expect(byPath.get(parent)?.type).toBe("directory");
          }
        }
        // Parents come before children, siblings in byte order, symlinks after everything else.
        const links = read.map((e) => e.type === "symlink");
        expect(links).toEqual([...links].sort((a, b) => Number(a) - Number(b)));
        for (let i = 1; i < read.length; i++) {
          if (links[i - 1] !== links[i]) continue;
          const [a, b] = [read[i - 1]?.path ?? "", read[i]?.path ?? ""].map(pathComponents);
          expect(compareComponents(a ?? [], b ?? [])).toBeLessThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("is read identically by tar-stream, an independent reader", async () => {
    const cases = fc.sample(tree, { numRuns: 40, seed: 3 });
    for (const entries of cases) {
      const bytes = writeTar(toInputs(entries), { mtime: 1_700_000_000 });
      const seen: [string, string, number, string | null, Uint8Array][] = [];
      const ex = extract();
      ex.on("entry", (header, stream, next) => {
        const chunks: Uint8Array[] = [];
        stream.on("data", (chunk: unknown) => {
          if (chunk instanceof Uint8Array) chunks.push(chunk);
        });
        stream.on("end", () => {
          const content = new Uint8Array(Buffer.concat(chunks));
          seen.push([
            header.name,
            header.type ?? "",
            header.mode ?? -1,
            header.linkname ?? null,
            content,
          ]);
          next();
        });
      });
      await new Promise<void>((resolve, reject) => {
        ex.on("finish", resolve);
        ex.on("error", reject);
        Readable.from([Buffer.from(bytes)]).pipe(ex);
      });
      const typeName = { file: "file", directory: "directory", symlink: "symlink" } as const;
      expect(seen).toEqual(
        readTar(bytes).map((e) => [
          e.path,
          typeName[e.type as keyof typeof typeName],
          e.mode,
          e.linkTarget ?? null,
          new Uint8Array(e.data),
        ]),
      );
    }
  });

  it("refuses paths and entries that cannot make a valid package tree", () => {
    const file = (path: string): TarInput => ({ path, type: "file", data: text("") });
    const bad: [TarInput[], RegExp][] = [
      [[file("/a/../b")], /empty, '\.' or '\.\.' component/],
      [[file("/a//b")], /empty, '\.' or '\.\.' component/],
      [[file("/a/./b")], /empty, '\.' or '\.\.' component/],
      [[file("/a\nb")], /control character/],
      [[file("/a\0b")], /control character/],
      [[file("/a"), file("a")], /duplicate path/],
      [[file("/a"), file("/a/b")], /"\/a" is a file but also the parent of "\/a\/b"/],
      [[{ path: "/l", type: "symlink", target: "x" }, file("/l/b")], /is a symlink/],
      [[file("/")], /root .* must be a directory/],
      [[{ path: "/a", type: "file", data: text(""), mode: 0o10000 }], /mode/],
      [[{ path: "/a", type: "symlink", target: "" }], /target/],
    ];
    for (const [inputs, message] of bad) {
      expect(() => writeTar(inputs)).toThrow(DebSpecError);
      expect(() => writeTar(inputs)).toThrow(message);
    }
    expect(() => writeTar([], { mtime: -1 })).toThrow(/mtime/);
  });

  it("accepts the root as a directory with its own mode", () => {
    const read = readTar(writeTar([{ path: "/", type: "directory", mode: 0o700 }]));
    expect(read.map((e) => [e.path, e.mode])).toEqual([["./", 0o700]]);
  });
});

describe("readTar", () => {
  it(
    "reads what GNU tar writes in gnu, pax, ustar and v7 formats, hard links included",
    () => {
      const { dir, cleanup } = scratch();
      try {
        const root = join(dir, "root");
        const deep = ["d", "a".repeat(70), "b".repeat(70)];
        mkdirSync(join(root, ...deep), { recursive: true });
        writeFileSync(join(root, ...deep, "f"), "long\n");
        writeFileSync(join(root, "plain"), "x".repeat(1300));
        chmodSync(join(root, "plain"), 0o750);
        linkSync(join(root, "plain"), join(root, "zlink"));
        symlinkSync(`../${"t".repeat(120)}`, join(root, "longlink"));
        symlinkSync("plain", join(root, "short"));
        mkdirSync(join(root, "empty"));
        const formats = ["gnu", "pax", "ustar", "v7"] as const;
        for (const format of formats) {
          // v7 holds at most 99-byte names, ustar splits long names but has no long link targets.
          const short = ["./plain", "./zlink", "./short", "./empty"];
          const names = format === "v7" ? short : format === "ustar" ? [...short, "./d"] : ["."];
          runOk("tar", [
            `--format=${format}`,
            "-C",
            root,
            "--owner=0",
            "--group=0",
            "--sort=name",
            "-cf",
            join(dir, `${format}.tar`),
            ...names,
          ]);
        }
        for (const format of formats) {
          const entries = readTar(readFileSync(join(dir, `${format}.tar`)), `${format}.tar`);
          const by = new Map(entries.map((e) => [e.path.replace(/\/$/, ""), e]));
          const plain = by.get("./plain");
          expect(plain?.type).toBe("file");
          expect(plain?.mode).toBe(0o750);
          expect(new TextDecoder().decode(plain?.data)).toBe("x".repeat(1300));
          // tar stores the second name of a hard-linked file as a link to the first.
          expect(by.get("./zlink")?.type).toBe("hardlink");
          expect(by.get("./zlink")?.linkTarget).toBe("./plain");
          expect(by.get("./short")?.linkTarget).toBe("plain");
          expect(by.get("./empty")?.type).toBe("directory");
          if (format !== "v7") {
            const long = by.get(`./${deep.join("/")}/f`);
            expect(new TextDecoder().decode(long?.data)).toBe("long\n");
          }
          if (format === "gnu" || format === "pax") {
            expect(by.get("./longlink")?.linkTarget).toBe(`../${"t".repeat(120)}`);
          }
        }
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );

  const sample = writeTar(
    [
      { path: "/a", type: "file", data: text("hello") },
      { path: `/${"n".repeat(150)}`, type: "file", data: text("x") },
    ],
    { mtime: 5 },
  );
  const fail = (bytes: Uint8Array, message: RegExp): void => {
    expect(() => readTar(bytes, "data.tar")).toThrow(DebFormatError);
    expect(() => readTar(bytes, "data.tar")).toThrow(message);
  };

  it("names what is wrong and where", () => {
    fail(sample.subarray(0, 700), /^data\.tar: truncated tar header at offset 512/);
    fail(sample.subarray(0, 1024 + 3), /entry data \(5 bytes\) goes beyond the end/);
    const flipped = sample.slice();
    flipped[520] = 0x41;
    fail(flipped, /tar header at offset 512: bad header checksum/);
    fail(text("not a tar file at all").slice(0, 21), /truncated tar header at offset 0/);
    fail(new Uint8Array(512).fill(0x41), /checksum: not an octal number/);
    // A long-name record with nothing after it.
    const dangling = writeTar([{ path: `/${"n".repeat(150)}`, type: "file", data: text("") }]);
    fail(dangling.slice(0, 1536), /long-name or pax header at the end/);
  });

  it("refuses entry types that do not belong in a package", () => {
    const bytes = sample.slice();
    bytes[512 + 156] = "S".charCodeAt(0); // GNU sparse file
    fixChecksum(bytes, 512);
    fail(bytes, /unsupported tar entry type "S"/);
  });

  it("either reads or throws DebFormatError on any truncation or bit flip", () => {
    fc.assert(
      fc.property(
        tree.chain((entries) => {
          const bytes = writeTar(toInputs(entries));
          return fc.oneof(
            fc.nat({ max: bytes.length - 1 }).map((n) => bytes.subarray(0, n)),
            fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.nat({ max: 7 })).map(([at, bit]) => {
              const copy = bytes.slice();
              copy[at] = (copy[at] ?? 0) ^ (1 << bit);
              return copy;
            }),
          );
        }),
        (bytes) => {
          try {
            readTar(bytes, "damaged");
          } catch (error) {
            expect(error).toBeInstanceOf(DebFormatError);
          }
        },
      ),
      { numRuns: 1500 },
    );
  });
});

describe("pathComponents", () => {
  it("treats /x, x and ./x alike and the root as no components", () => {
    expect(pathComponents("/usr/bin/")).toEqual(["usr", "bin"]);
    expect(pathComponents("./usr/bin")).toEqual(["usr", "bin"]);
    expect(pathComponents("usr/bin")).toEqual(["usr", "bin"]);
    for (const root of ["/", "./", ".", ""]) expect(pathComponents(root)).toEqual([]);
  });
});

function fixChecksum(bytes: Uint8Array, at: number): void {
  bytes.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += bytes[i] ?? 0;
  bytes.set(text(`${sum.toString(8).padStart(6, "0")}\0 `), at + 148);
}
