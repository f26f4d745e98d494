import { createHash } from "node:crypto";
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { run, runOk, scratch } from "../testing";
import { debSpec, materialize, tree } from "../testing/deb-arbitrary";
import { readAr, writeAr } from "./ar";
import { gzip } from "./compress";
import { getField, type Paragraph, parseParagraph } from "./control";
import {
  DEB_COMPRESSIONS,
  DEFAULT_DEB_MTIME,
  type DebDataFile,
  DebFormatError,
  type DebInfo,
  type DebSpec,
  DebSpecError,
  readDeb,
  writeDeb,
} from "./deb";
import { writeTar } from "./tar";

// Spawns Debian's tools many times: generous on a busy 2-core machine.
const ORACLE_TIMEOUT = 300_000;

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const bytesOf = (content: string | Uint8Array): Uint8Array =>
  typeof content === "string" ? utf8(content) : content;

/** Every data entry a spec implies: its files and symlinks, their parents and the root. */
function expectedDataFiles(spec: DebSpec): DebDataFile[] {
  const out = new Map<string, DebDataFile>();
  out.set("/", { path: "/", type: "directory", mode: 0o755, size: 0 });
  for (const file of spec.files) {
    const parts = file.path.split("/").slice(1);
    for (let depth = 1; depth < parts.length; depth++) {
      const dir = `/${parts.slice(0, depth).join("/")}`;
      out.set(dir, { path: dir, type: "directory", mode: 0o755, size: 0 });
    }
    out.set(
      file.path,
      "symlink" in file
        ? { path: file.path, type: "symlink", mode: 0o777, size: 0, linkTarget: file.symlink }
        : {
            path: file.path,
            type: "file",
            mode: file.mode ?? 0o644,
            size: bytesOf(file.content).length,
          },
    );
  }
  return [...out.values()].sort((a, b) => Buffer.compare(utf8(a.path), utf8(b.path)));
}

const sortedFiles = (files: readonly DebDataFile[]): DebDataFile[] =>
  [...files].sort((a, b) => Buffer.compare(utf8(a.path), utf8(b.path)));

const withoutInstalledSize = (p: Paragraph): Paragraph =>
  p.filter((f) => f.name !== "Installed-Size");

/** md5sums as dh_md5sums writes it: regular files but conffiles, byte order. */
function expectedMd5sums(spec: DebSpec): string | undefined {
  const lines = spec.files
    .filter((f) => "content" in f && !(spec.conffiles ?? []).includes(f.path))
    .map((f) => ("content" in f ? f : undefined))
    .filter((f) => f !== undefined)
    .sort((a, b) => Buffer.compare(utf8(a.path), utf8(b.path)))
    .map(
      (f) => `${createHash("md5").update(bytesOf(f.content)).digest("hex")}  ${f.path.slice(1)}\n`,
    );
  return lines.length === 0 ? undefined : lines.join("");
}

/** Asserts what readDeb says about writeDeb(spec). */
function expectMatchesSpec(info: DebInfo, spec: DebSpec): void {
  expect(withoutInstalledSize(info.control)).toEqual(spec.control);
  expect(getField(info.control, "Installed-Size")).toMatch(/^\d+$/);
  expect(info.scripts).toEqual(
    Object.fromEntries(Object.entries(spec.scripts ?? {}).filter(([, s]) => s !== undefined)),
  );
  expect(info.conffiles).toEqual(spec.conffiles ?? []);
  expect(info.md5sums).toEqual(expectedMd5sums(spec));
  expect(sortedFiles(info.dataFiles)).toEqual(expectedDataFiles(spec));
}

/** Parses `tar -tv --numeric-owner --quoting-style=literal` lines. */
function parseListing(listing: string): DebDataFile[] {
  const types: Record<string, DebDataFile["type"]> = {
    "-": "file",
    d: "directory",
    l: "symlink",
    h: "hardlink",
    c: "chardev",
    b: "blockdev",
    p: "fifo",
  };
  return listing
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const match = /^(.)(.{9}) (\S+) +(\d+) \S+ \S+ (.*)$/.exec(line);
      if (!match) throw new Error(`cannot parse tar listing line ${JSON.stringify(line)}`);
      const [, typeChar = "", perms = "", , size = "", rest = ""] = match;
      let mode = 0;
      for (const [i, c] of [...perms].entries()) if (c !== "-") mode |= 1 << (8 - i);
      const type = types[typeChar] ?? "file";
      const absolute = (p: string): string => `/${p.replace(/^\.?\/+/, "").replace(/\/+$/, "")}`;
      if (type === "symlink") {
        const [path = "", target = ""] = rest.split(" -> ");
        return { path: absolute(path), type, mode, size: 0, linkTarget: target };
      }
      if (type === "hardlink") {
        const [path = "", target = ""] = rest.split(" link to ");
        return { path: absolute(path), type, mode, size: 0, linkTarget: absolute(target) };
      }
      return { path: absolute(rest), type, mode, size: type === "file" ? Number(size) : 0 };
    });
}

/** Files below `root` as [relative path, kind, mode, content or target]. */
function walk(root: string, prefix = ""): [string, string, number, string][] {
  const out: [string, string, number, string][] = [];
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const rel = prefix === "" ? name : `${prefix}/${name}`;
    const path = join(root, rel);
    const stat = lstatSync(path);
    const mode = stat.mode & 0o7777;
    if (stat.isSymbolicLink()) out.push([rel, "symlink", 0o777, readlinkSync(path)]);
    else if (stat.isDirectory()) {
      out.push([rel, "directory", mode, ""]);
      out.push(...walk(root, rel));
    } else out.push([rel, "file", mode, readFileSync(path).toString("hex")]);
  }
  return out;
}

function specTree(spec: DebSpec): [string, string, number, string][] {
  return expectedDataFiles(spec)
    .filter((f) => f.path !== "/")
    .map((f): [string, string, number, string] => {
      const file = spec.files.find((s) => s.path === f.path);
      const content =
        file === undefined
          ? ""
          : "symlink" in file
            ? file.symlink
            : Buffer.from(bytesOf(file.content)).toString("hex");
      return [f.path.slice(1), f.type, f.mode, content];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

const byName = (rows: [string, string, number, string][]) =>
  [...rows].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const GENCONTROL_CONTROL =
  "Source: t\nMaintainer: T <t@example.org>\n\nPackage: t\nArchitecture: all\nDescription: t\n";
const GENCONTROL_CHANGELOG =
  "t (1.0) unstable; urgency=low\n\n  * x\n\n -- T <t@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n";

const GENCONTROL_RUNS = 10;
const INSTALL_RUNS = 15;

describe("writeDeb, checked by dpkg-deb, dpkg and dpkg-gencontrol", () => {
  it(
    "builds generated packages that dpkg-deb reads and dpkg installs and verifies",
    () => {
      const specs = fc.sample(debSpec, { numRuns: 30, seed: 2024 });
      const { dir, cleanup } = scratch();
      try {
        mkdirSync(join(dir, "gencontrol", "debian"), { recursive: true });
        writeFileSync(join(dir, "gencontrol", "debian", "control"), GENCONTROL_CONTROL);
        writeFileSync(join(dir, "gencontrol", "debian", "changelog"), GENCONTROL_CHANGELOG);
        const script = ["set -e"];
        specs.forEach((spec, i) => {
          writeFileSync(join(dir, `d${i}.deb`), writeDeb(spec));
          const name = getField(spec.control, "Package");
          const dpkg = `dpkg --root=${dir}/root${i} --force-script-chrootless --force-depends --force-architecture`;
          script.push(
            `cd ${dir}`,
            `dpkg-deb --info d${i}.deb > info${i}.txt`,
            `dpkg-deb -f d${i}.deb > fields${i}.txt`,
            `dpkg-deb --contents d${i}.deb > contents${i}.txt`,
            `mkdir ctrl${i} fsys${i}`,
            `dpkg-deb --ctrl-tarfile d${i}.deb | tar -x -C ctrl${i}`,
            `dpkg-deb --fsys-tarfile d${i}.deb | tar -x -C fsys${i}`,
          );
          // The slower oracles (about half a second each) on a part of the sample.
          if (i < GENCONTROL_RUNS) {
            script.push(
              `(cd gencontrol && dpkg-gencontrol -pt -P../fsys${i} -O) > gencontrol${i}.txt`,
            );
          }
          if (i < INSTALL_RUNS) {
            script.push(
              `mkdir -p root${i}/var/lib/dpkg/info root${i}/var/lib/dpkg/updates`,
              `touch root${i}/var/lib/dpkg/status`,
              `${dpkg} -i d${i}.deb > install${i}.log 2>&1 || { cat install${i}.log; exit 1; }`,
              `${dpkg} --verify ${name} > verify${i}.txt`,
            );
          }
        });
        runOk("bash", ["-c", script.join("\n")]);
        specs.forEach((spec, i) => {
          const info = readDeb(readFileSync(join(dir, `d${i}.deb`)), `d${i}.deb`);
          expectMatchesSpec(info, spec);
          const fields = readFileSync(join(dir, `fields${i}.txt`), "utf8");
          expect(parseParagraph(fields)).toEqual(info.control);
          expect(
            readFileSync(join(dir, `contents${i}.txt`), "utf8")
              .trim()
              .split("\n"),
          ).toHaveLength(info.dataFiles.length);
          // Installed-Size as dpkg-gencontrol computes it on the unpacked tree.
          if (i < GENCONTROL_RUNS) {
            const gencontrol = parseParagraph(
              readFileSync(join(dir, `gencontrol${i}.txt`), "utf8"),
            );
            expect(getField(info.control, "Installed-Size")).toBe(
              getField(gencontrol, "Installed-Size"),
            );
          }
          // Control members as extracted by tar from dpkg-deb --ctrl-tarfile.
          const ctrl = Object.fromEntries(
            walk(join(dir, `ctrl${i}`)).map(([name, , mode, hex]) => [
              name,
              [mode, Buffer.from(hex, "hex").toString("utf8")],
            ]),
          );
          const expectedCtrl: Record<string, [number, string]> = {
            control: [0o644, info.controlText],
          };
          for (const [name, text] of Object.entries(spec.scripts ?? {})) {
            if (text !== undefined) expectedCtrl[name] = [0o755, text];
          }
          if ((spec.conffiles ?? []).length > 0) {
            expectedCtrl.conffiles = [0o644, (spec.conffiles ?? []).map((c) => `${c}\n`).join("")];
          }
          const md5sums = expectedMd5sums(spec);
          if (md5sums !== undefined) expectedCtrl.md5sums = [0o644, md5sums];
          expect(ctrl).toEqual(expectedCtrl);
          // The data tree as extracted by tar, and as installed by dpkg's own unpacker.
          expect(byName(walk(join(dir, `fsys${i}`)))).toEqual(specTree(spec));
          if (i >= INSTALL_RUNS) return;
          for (const [path, kind, mode, content] of specTree(spec)) {
            const installed = join(dir, `root${i}`, path);
            const stat = lstatSync(installed);
            if (kind === "symlink") expect(readlinkSync(installed)).toBe(content);
            else if (kind === "file") {
              expect([stat.mode & 0o7777, readFileSync(installed).toString("hex")]).toEqual([
                mode,
                content,
              ]);
            } else expect(stat.isDirectory()).toBe(true);
          }
          // dpkg --verify checks the installed files against md5sums: no complaint.
          expect(readFileSync(join(dir, `verify${i}.txt`), "utf8")).toBe("");
        });
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );

  it(
    "is byte-identical to dpkg-deb --build -Znone of its own unpacked tree (mtime 0)",
    () => {
      const specs = fc
        .sample(debSpec, { numRuns: 12, seed: 99 })
        .map((spec): DebSpec => ({ ...spec, mtime: 0, compression: "none" }));
      const { dir, cleanup } = scratch();
      try {
        const script = ["set -e"];
        specs.forEach((spec, i) => {
          writeFileSync(join(dir, `d${i}.deb`), writeDeb(spec));
          script.push(
            `cd ${dir} && dpkg-deb -R d${i}.deb t${i}`,
            `SOURCE_DATE_EPOCH=0 dpkg-deb --root-owner-group -Znone --build t${i} r${i}.deb >/dev/null`,
          );
        });
        runOk("bash", ["-c", script.join("\n")]);
        specs.forEach((spec, i) => {
          const mine = Buffer.from(writeDeb(spec));
          expect(mine.equals(readFileSync(join(dir, `r${i}.deb`)))).toBe(true);
        });
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );

  it(
    "builds a realistic package that lintian accepts without errors",
    () => {
      const changelog =
        "hello-deb (1.0.2) unstable; urgency=medium\n\n  * Initial release. (Closes: #123456)\n\n" +
        " -- Hello Team <team@example.org>  Mon, 01 Jan 2024 00:00:00 +0000\n";
      const spec: DebSpec = {
        control: [
          { name: "Package", value: "hello-deb" },
          { name: "Version", value: "1.0.2" },
          { name: "Architecture", value: "all" },
          { name: "Maintainer", value: "Hello Team <team@example.org>" },
          { name: "Section", value: "misc" },
          { name: "Priority", value: "optional" },
          { name: "Homepage", value: "https://example.org/hello-deb" },
          {
            name: "Description",
            value:
              "greets the world from a reproducible package\n This package is built by writeDeb and checked by lintian. It installs\n a default configuration file and a small data file.",
          },
        ],
        scripts: {
          postinst:
            '#!/bin/sh\nset -e\n\nif [ "$1" = configure ]; then\n  echo "hello-deb configured" >&2\nfi\n\nexit 0\n',
        },
        conffiles: ["/etc/default/hello-deb"],
        files: [
          { path: "/etc/default/hello-deb", content: "# Options for hello-deb\nGREETING=hello\n" },
          { path: "/usr/share/hello-deb/greeting.txt", content: "Hello, world!\n" },
          {
            path: "/usr/share/doc/hello-deb/copyright",
            content:
              "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n" +
              "Upstream-Name: hello-deb\n\nFiles: *\nCopyright: 2024 Hello Team\nLicense: MIT\n" +
              " Permission is hereby granted, free of charge, to any person obtaining a copy\n" +
              " of this software, to deal in the Software without restriction.\n",
          },
          { path: "/usr/share/doc/hello-deb/changelog.gz", content: gzip(utf8(changelog)) },
        ],
      };
      const { dir, cleanup } = scratch();
      try {
        // Both formats lintian knows (it calls zstd and uncompressed members malformed), one run.
        const paths = (["xz", "gzip"] as const).map((compression) => {
          const path = join(dir, `hello-deb_${compression}.deb`);
          writeFileSync(path, writeDeb({ ...spec, compression }));
          return path;
        });
        // Tags go to stdout; exit status 1 means error tags (--fail-on error, the default).
        const lintian = run("lintian", ["--tag-display-limit", "0", ...paths]);
        const report = `${lintian.stdout}${lintian.stderr}`;
        expect(
          lintian.stdout.split("\n").filter((line) => line.startsWith("E:")),
          report,
        ).toEqual([]);
        expect(lintian.status, report).toBe(0);
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );
});

describe("readDeb on packages built by dpkg-deb", () => {
  it(
    "reports what dpkg-deb -f, --info and the data tar listing report, for every compression",
    () => {
      const trees = fc.sample(tree, { numRuns: 6, seed: 5 });
      const compressions = ["gzip", "xz", "zstd", "none"] as const;
      const { dir, cleanup } = scratch();
      try {
        const script = ["set -e"];
        trees.forEach((entries, i) => {
          const root = join(dir, `t${i}`);
          materialize(root, entries);
          // A conffile, a hard link, maintainer scripts, a triggers file and md5sums.
          mkdirSync(join(root, "etc"), { mode: 0o755 });
          writeFileSync(join(root, "etc", `t${i}.conf`), `setting=${i}\n`);
          writeFileSync(join(root, "hl-source"), "linked\n");
          linkSync(join(root, "hl-source"), join(root, "hl-target"));
          mkdirSync(join(root, "DEBIAN"), { mode: 0o755 });
          chmodSync(join(root, "DEBIAN"), 0o755);
          writeFileSync(
            join(root, "DEBIAN", "control"),
            `Package: t${i}\nVersion: 1:2.${i}-1\nArchitecture: all\nMaintainer: T <t@example.org>\nDepends: libc6\nDescription: tree ${i}\n long\n .\n description\n`,
          );
          writeFileSync(join(root, "DEBIAN", "conffiles"), `/etc/t${i}.conf\n`);
          writeFileSync(join(root, "DEBIAN", "triggers"), "interest-noawait /usr/share/t\n");
          for (const s of ["postinst", "prerm"]) {
            writeFileSync(join(root, "DEBIAN", s), `#!/bin/sh\nset -e\n# ${s} ${i}\n`);
            chmodSync(join(root, "DEBIAN", s), 0o755);
          }
          script.push(
            `cd ${root} && find . -path ./DEBIAN -prune -o -type f -printf '%P\\0' | LC_ALL=C sort -z | xargs -0r md5sum -- > DEBIAN/md5sums`,
            ...compressions.map(
              (z) =>
                `cd ${dir} && dpkg-deb --root-owner-group -Z${z} --build t${i} t${i}-${z}.deb >/dev/null && ` +
                `dpkg-deb -f t${i}-${z}.deb > t${i}-${z}.fields && dpkg-deb --info t${i}-${z}.deb > t${i}-${z}.info && ` +
                `dpkg-deb --fsys-tarfile t${i}-${z}.deb | tar -tv --numeric-owner --quoting-style=literal > t${i}-${z}.list`,
            ),
          );
        });
        runOk("bash", ["-c", script.join("\n")]);
        trees.forEach((_, i) => {
          for (const z of compressions) {
            const base = join(dir, `t${i}-${z}`);
            const deb = readFileSync(`${base}.deb`);
            const names = readAr(deb).map((m) => m.name);
            const ext = { gzip: ".gz", xz: ".xz", zstd: ".zst", none: "" }[z];
            expect(names).toEqual(["debian-binary", `control.tar${ext}`, `data.tar${ext}`]);
            const info = readDeb(deb, `t${i}-${z}.deb`);
            expect(info.control).toEqual(parseParagraph(readFileSync(`${base}.fields`, "utf8")));
            expect(info.conffiles).toEqual([`/etc/t${i}.conf`]);
            expect(Object.keys(info.scripts).sort()).toEqual(["postinst", "prerm", "triggers"]);
            expect(info.scripts.postinst).toBe(`#!/bin/sh\nset -e\n# postinst ${i}\n`);
            // --info lists each control member with its size in bytes.
            const listed = [
              ...readFileSync(`${base}.info`, "utf8").matchAll(
                /^ +(\d+) bytes, +\d+ lines +\*? +(\S+)/gm,
              ),
            ].map((m) => [m[2], Number(m[1])]);
            const sizes: [string, number][] = [
              ["conffiles", info.conffiles.join("\n").length + 1],
              ["control", utf8(info.controlText).length],
              ["md5sums", utf8(info.md5sums ?? "").length],
              ...Object.entries(info.scripts).map(([k, s]): [string, number] => [
                k,
                utf8(s).length,
              ]),
            ];
            expect(listed.sort()).toEqual(sizes.sort());
            const listing = parseListing(readFileSync(`${base}.list`, "utf8"));
            expect(info.dataFiles).toEqual(listing);
            expect(info.dataFiles.find((f) => f.path === "/hl-target")).toEqual({
              path: "/hl-target",
              type: "hardlink",
              mode: 0o644,
              size: 0,
              linkTarget: "/hl-source",
            });
          }
        });
      } finally {
        cleanup();
      }
    },
    ORACLE_TIMEOUT,
  );
});

describe("writeDeb/readDeb", () => {
  it("round-trips generated specs: fields, scripts, conffiles, md5sums and files", () => {
    fc.assert(
      fc.property(debSpec, (spec) => {
        expectMatchesSpec(readDeb(writeDeb(spec), "generated.deb"), spec);
      }),
      { numRuns: 300 },
    );
  });

  it("is reproducible: same spec, same bytes, and every compression holds the same package", () => {
    fc.assert(
      fc.property(debSpec, (spec) => {
        const copy = structuredClone(spec);
        const infos = DEB_COMPRESSIONS.map((compression) => {
          const first = writeDeb({ ...spec, compression });
          expect(Buffer.from(writeDeb({ ...copy, compression })).equals(first)).toBe(true);
          return readDeb(first);
        });
        for (const info of infos) expect(info).toEqual(infos[0]);
      }),
      { numRuns: 100 },
    );
  });

  it("keeps a given Installed-Size and puts a computed one after the identity fields", () => {
    const base: DebSpec = {
      control: [
        { name: "Package", value: "pkg" },
        { name: "Version", value: "1.0" },
        { name: "Architecture", value: "all" },
        { name: "Maintainer", value: "M <m@example.org>" },
        { name: "Depends", value: "libc6" },
        { name: "Description", value: "d" },
      ],
      files: [{ path: "/usr/share/pkg/f", content: "x".repeat(2049) }],
    };
    const computed = readDeb(writeDeb(base)).control;
    // root, /usr, /usr/share, /usr/share/pkg: 4 KiB; 2049 bytes: 3 KiB.
    expect(computed.map((f) => f.name)).toEqual([
      "Package",
      "Version",
      "Architecture",
      "Maintainer",
      "Installed-Size",
      "Depends",
      "Description",
    ]);
    expect(getField(computed, "Installed-Size")).toBe("7");
    const given = readDeb(
      writeDeb({ ...base, control: [...base.control, { name: "Installed-Size", value: "99" }] }),
    ).control;
    expect(getField(given, "Installed-Size")).toBe("99");
    expect(given.at(-1)?.name).toBe("Installed-Size");
  });

  it("defaults to xz, fixed file times after 1975 and ar times of 0", () => {
    const deb = writeDeb({
      control: [
        { name: "Package", value: "pkg" },
        { name: "Version", value: "1.0" },
        { name: "Architecture", value: "all" },
        { name: "Maintainer", value: "M <m@example.org>" },
        { name: "Description", value: "d" },
      ],
      files: [{ path: "/usr/bin/tool", content: "#!/bin/sh\n", mode: 0o755 }],
    });
    const members = readAr(deb);
    expect(members.map((m) => [m.name, m.mtime, m.uid, m.gid, m.mode])).toEqual([
      ["debian-binary", 0, 0, 0, 0o100644],
      ["control.tar.xz", 0, 0, 0, 0o100644],
      ["data.tar.xz", 0, 0, 0, 0o100644],
    ]);
    expect(new TextDecoder().decode(members[0]?.data)).toBe("2.0\n");
    expect(readDeb(deb).dataFiles.find((f) => f.path === "/usr/bin/tool")?.mode).toBe(0o755);
    expect(DEFAULT_DEB_MTIME).toBeGreaterThan(Date.UTC(1975, 0, 1) / 1000);
  });
});

describe("writeDeb refuses specs that cannot make a valid package", () => {
  const control: Paragraph = [
    { name: "Package", value: "pkg" },
    { name: "Version", value: "1.0" },
    { name: "Architecture", value: "all" },
    { name: "Maintainer", value: "M <m@example.org>" },
    { name: "Description", value: "d" },
  ];
  const ok: DebSpec = { control, files: [{ path: "/etc/pkg.conf", content: "x" }] };
  const setField = (name: string, value: string): Paragraph =>
    control.map((f) => (f.name === name ? { name, value } : f));
  const cases: [string, unknown, RegExp][] = [
    [
      "missing fields",
      { ...ok, control: control.slice(0, 2) },
      /lacks required field\(s\): Architecture, Maintainer, Description/,
    ],
    [
      "bad package name",
      { ...ok, control: setField("Package", "Pkg_1") },
      /Package "Pkg_1" is not a Debian package name/,
    ],
    [
      "bad version",
      { ...ok, control: setField("Version", "one") },
      /Version "one" is not a Debian version/,
    ],
    ["bad architecture", { ...ok, control: setField("Architecture", "x86 64") }, /Architecture/],
    [
      "bad Installed-Size",
      { ...ok, control: [...control, { name: "Installed-Size", value: "1k" }] },
      /Installed-Size "1k"/,
    ],
    [
      "unrenderable value",
      { ...ok, control: setField("Description", "a\nb") },
      /control: .*must start with a space/,
    ],
    ["relative path", { ...ok, files: [{ path: "etc/x", content: "" }] }, /must be absolute/],
    ["dot-dot", { ...ok, files: [{ path: "/etc/../x", content: "" }] }, /'\.\.' component/],
    ["NUL", { ...ok, files: [{ path: "/etc/x\0", content: "" }] }, /control character/],
    ["newline", { ...ok, files: [{ path: "/etc/x\ny", content: "" }] }, /control character/],
    ["root", { ...ok, files: [{ path: "/", content: "" }] }, /must not end with/],
    [
      "duplicate",
      { ...ok, files: [...ok.files, { path: "/etc/pkg.conf", symlink: "x" }] },
      /duplicate path/,
    ],
    [
      "file as a parent",
      { ...ok, files: [...ok.files, { path: "/etc/pkg.conf/x", content: "" }] },
      /is a file but also the parent/,
    ],
    ["conffile outside /etc", { ...ok, conffiles: ["/usr/x"] }, /under \/etc\//],
    ["missing conffile", { ...ok, conffiles: ["/etc/other"] }, /not a regular file in the package/],
    [
      "symlink conffile",
      { ...ok, files: [{ path: "/etc/l", symlink: "x" }], conffiles: ["/etc/l"] },
      /not a regular file/,
    ],
    [
      "duplicate conffile",
      { ...ok, conffiles: ["/etc/pkg.conf", "/etc/pkg.conf"] },
      /duplicate conffile/,
    ],
    [
      "script without #!",
      { ...ok, scripts: { postinst: "set -e\n" } },
      /postinst script must start with "#!"/,
    ],
    ["unknown script", { ...ok, scripts: { install: "#!/bin/sh\n" } }, /invalid \.deb spec/],
    [
      "bad mode",
      { ...ok, files: [{ path: "/x", content: "", mode: 0o10000 }] },
      /invalid \.deb spec/,
    ],
    [
      "file with both content and symlink",
      { ...ok, files: [{ path: "/x", content: "", symlink: "y" }] },
      /invalid \.deb spec/,
    ],
    ["bad compression", { ...ok, compression: "bzip2" }, /invalid \.deb spec/],
    ["bad mtime", { ...ok, mtime: -1 }, /invalid \.deb spec/],
  ];
  it.each(cases)("%s", (_, spec, message) => {
    expect(() => writeDeb(spec as DebSpec)).toThrow(DebSpecError);
    expect(() => writeDeb(spec as DebSpec)).toThrow(message);
  });
});

describe("readDeb errors", () => {
  const spec: DebSpec = {
    control: [
      { name: "Package", value: "pkg" },
      { name: "Version", value: "1.0" },
      { name: "Architecture", value: "all" },
      { name: "Maintainer", value: "M <m@example.org>" },
      { name: "Description", value: "d" },
    ],
    scripts: { postinst: "#!/bin/sh\nexit 0\n" },
    conffiles: ["/etc/pkg.conf"],
    files: [
      { path: "/etc/pkg.conf", content: "x=1\n" },
      { path: "/usr/share/pkg/data", content: "d".repeat(3000) },
      { path: "/usr/share/pkg/link", symlink: "data" },
    ],
  };
  const members = (compression: DebSpec["compression"]) =>
    readAr(writeDeb({ ...spec, compression })).map((m) => ({ name: m.name, data: m.data }));
  const none = members("none");
  const [debianBinary, controlTar, dataTar] = none as [
    { name: string; data: Uint8Array },
    { name: string; data: Uint8Array },
    { name: string; data: Uint8Array },
  ];
  const fail = (bytes: Uint8Array, message: RegExp): void => {
    expect(() => readDeb(bytes, "x.deb")).toThrow(DebFormatError);
    expect(() => readDeb(bytes, "x.deb")).toThrow(message);
  };
  const tarOf = (files: Record<string, string>): Uint8Array =>
    writeTar(
      Object.entries(files).map(([path, text]) => ({ path, type: "file", data: utf8(text) })),
    );

  it("names the source and what is wrong", () => {
    fail(utf8("PK\x03\x04 a zip file"), /^x\.deb: not an ar archive/);
    fail(writeAr([]), /first ar member is missing, expected debian-binary/);
    fail(writeAr([controlTar, dataTar]), /first ar member is "control\.tar"/);
    fail(
      writeAr([{ name: "debian-binary", data: utf8("3.0\n") }, controlTar, dataTar]),
      /debian-binary is "3\.0\\n", expected "2\.0\\n"/,
    );
    fail(writeAr([debianBinary, dataTar]), /found ar member "data\.tar" where control\.tar/);
    fail(writeAr([debianBinary, controlTar]), /data\.tar member is missing/);
    fail(
      writeAr([debianBinary, controlTar, { name: "data.tar.lz4", data: dataTar.data }]),
      /found ar member "data\.tar\.lz4" where data\.tar/,
    );
    fail(
      writeAr([debianBinary, controlTar, { name: "data.tar.bz2", data: dataTar.data }]),
      /x\.deb: data\.tar\.bz2: bzip2-compressed members are not supported/,
    );
    fail(
      writeAr([debianBinary, controlTar, { name: "data.tar.xz", data: dataTar.data }]),
      /x\.deb: data\.tar\.xz: cannot decompress \(xz\)/,
    );
    fail(
      writeAr([debianBinary, { name: "control.tar.gz", data: utf8("garbage") }, dataTar]),
      /x\.deb: control\.tar\.gz: cannot decompress \(gzip\)/,
    );
    fail(
      writeAr([debianBinary, { name: "control.tar.zst", data: utf8("garbage") }, dataTar]),
      /cannot decompress \(zstd\)/,
    );
    fail(
      writeAr([
        debianBinary,
        { name: "control.tar", data: tarOf({ postinst: "#!/bin/sh\n" }) },
        dataTar,
      ]),
      /control\.tar: no control file in the control archive/,
    );
    fail(
      writeAr([
        debianBinary,
        { name: "control.tar", data: tarOf({ control: "Package pkg\n" }) },
        dataTar,
      ]),
      /control\.tar: bad control file: .*line without a colon/,
    );
    const latin1 = writeTar([
      { path: "control", type: "file", data: Uint8Array.of(0x50, 0x3a, 0x20, 0xe9, 0x0a) },
    ]);
    fail(
      writeAr([debianBinary, { name: "control.tar", data: latin1 }, dataTar]),
      /control file is not valid UTF-8/,
    );
    fail(
      writeAr([
        debianBinary,
        controlTar,
        { name: "data.tar", data: dataTar.data.subarray(0, 700) },
      ]),
      /x\.deb: data\.tar: truncated tar header at offset 512/,
    );
  });

  it("reads data.tar compressed by the xz tool, in xz and legacy lzma formats", () => {
    const { dir, cleanup } = scratch();
    try {
      writeFileSync(join(dir, "data.tar"), dataTar.data);
      runOk("bash", [
        "-c",
        `cd ${dir} && xz -9e -k -C crc64 data.tar && xz -k --format=lzma data.tar`,
      ]);
      const expected = readDeb(writeAr(none));
      for (const name of ["data.tar.xz", "data.tar.lzma"]) {
        const member = { name, data: new Uint8Array(readFileSync(join(dir, name))) };
        expect(readDeb(writeAr([debianBinary, controlTar, member]))).toEqual(expected);
      }
    } finally {
      cleanup();
    }
  });

  it("skips _-members and ignores members after data.tar, as dpkg does", () => {
    const extra = (name: string) => ({ name, data: utf8("x") });
    const info = readDeb(
      writeAr([debianBinary, extra("_a"), controlTar, extra("_b"), dataTar, extra("zzz")]),
    );
    expect(info).toEqual(readDeb(writeAr(none)));
  });

  it.each(DEB_COMPRESSIONS)(
    "either reads or throws DebFormatError on any damage (%s)",
    (compression) => {
      const deb = writeDeb({ ...spec, compression });
      fc.assert(
        fc.property(
          fc.oneof(
            fc.nat({ max: deb.length - 1 }).map((n) => deb.subarray(0, n)),
            fc.tuple(fc.nat({ max: deb.length - 1 }), fc.nat({ max: 7 })).map(([at, bit]) => {
              const copy = deb.slice();
              copy[at] = (copy[at] ?? 0) ^ (1 << bit);
              return copy;
            }),
          ),
          (bytes) => {
            try {
              readDeb(bytes, "damaged.deb");
            } catch (error) {
              expect(error).toBeInstanceOf(DebFormatError);
            }
          },
        ),
        { numRuns: 600 },
      );
    },
  );

  it("either reads or throws DebFormatError on any truncation or bit flip of generated packages", () => {
    fc.assert(
      fc.property(
        debSpec.chain((generated) => {
          const deb = writeDeb(generated);
          return fc.oneof(
            fc.nat({ max: deb.length - 1 }).map((n) => deb.subarray(0, n)),
            fc.tuple(fc.nat({ max: deb.length - 1 }), fc.nat({ max: 7 })).map(([at, bit]) => {
              const copy = deb.slice();
              copy[at] = (copy[at] ?? 0) ^ (1 << bit);
              return copy;
            }),
          );
        }),
        (bytes) => {
          try {
            readDeb(bytes, "damaged.deb");
          } catch (error) {
            expect(error).toBeInstanceOf(DebFormatError);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
