// fast-check generators and on-disk helpers shared by the tar and deb tests (test support only).
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import type { Paragraph } from "../debian/control";
import type { DebCompression, DebSpec, DebSpecFile, MaintainerScript } from "../debian/deb";
import type { TarInput } from "../debian/tar";

// Path components: ASCII that dpkg and tar pass through untouched, plus spaces and multi-byte
// UTF-8, long enough that whole paths regularly exceed tar's 100-byte name field.
const componentChar = fc.constantFrom(..."abcxyz019._-+~ @,=", "é", "日", "ß");
export const component = fc
  .array(componentChar, { minLength: 1, maxLength: 45 })
  .map((chars) => chars.join(""))
  .filter((c) => c !== "." && c !== "..");
const fileMode = fc.constantFrom(0o644, 0o755, 0o600, 0o700, 0o444, 0o640, 0o775);

type Kind = "file" | "directory" | "symlink";
export interface TreeEntry {
  readonly parts: string[];
  readonly kind: Kind;
  readonly mode: number;
  readonly data: Uint8Array;
  readonly target: string;
}

/** A consistent tree: no entry lies below a file or symlink. */
export const tree: fc.Arbitrary<TreeEntry[]> = fc
  .array(
    fc.record({
      parts: fc.array(component, { minLength: 1, maxLength: 4 }),
      kind: fc.constantFrom<Kind>("file", "file", "file", "directory", "symlink"),
      mode: fileMode,
      data: fc.uint8Array({ maxLength: 1500 }),
      target: fc
        .array(fc.oneof(component, fc.constantFrom("..", ".")), { minLength: 1, maxLength: 5 })
        .map((parts) => parts.join("/")),
    }),
    { maxLength: 12 },
  )
  .map((raw) => {
    const kept = new Map<string, TreeEntry>();
    for (const entry of [...raw].sort((a, b) => a.parts.length - b.parts.length)) {
      const key = entry.parts.join("/");
      const blocked = entry.parts.some((_, depth) => {
        const ancestor = kept.get(entry.parts.slice(0, depth).join("/"));
        return depth > 0 && ancestor !== undefined && ancestor.kind !== "directory";
      });
      if (!blocked && !kept.has(key)) kept.set(key, entry);
    }
    return [...kept.values()];
  });

export function toInputs(entries: readonly TreeEntry[]): TarInput[] {
  return entries.map((e): TarInput => {
    const path = `/${e.parts.join("/")}`;
    if (e.kind === "file") return { path, type: "file", data: e.data, mode: e.mode };
    if (e.kind === "directory") return { path, type: "directory", mode: e.mode | 0o700 };
    return { path, type: "symlink", target: e.target };
  });
}

/** Writes the tree on disk as dpkg-deb would find it. */
export function materialize(root: string, entries: readonly TreeEntry[]): void {
  mkdirSync(root);
  chmodSync(root, 0o755);
  for (const e of [...entries].sort((a, b) => a.parts.length - b.parts.length)) {
    for (let depth = 1; depth < e.parts.length; depth++) {
      const dir = join(root, ...e.parts.slice(0, depth));
      try {
        mkdirSync(dir);
        chmodSync(dir, 0o755);
      } catch {
        // already there
      }
    }
    const path = join(root, ...e.parts);
    if (e.kind === "file") {
      writeFileSync(path, e.data);
      chmodSync(path, e.mode);
    } else if (e.kind === "directory") {
      try {
        mkdirSync(path);
      } catch {
        // created as a parent before
      }
      chmodSync(path, e.mode | 0o700);
    } else {
      symlinkSync(e.target, path);
    }
  }
}

const word = fc.stringMatching(/^[a-z][a-z0-9]{0,9}$/);
const text = fc
  .array(fc.oneof(word, fc.constantFrom("(x)", "a.b", "C++", "é", "100%", "<tag>", "$HOME")), {
    minLength: 1,
    maxLength: 6,
  })
  .map((words) => words.join(" "));

export const packageName = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{1,20}$/);
export const debVersion = fc
  .tuple(
    fc.option(fc.nat({ max: 5 }), { nil: undefined }),
    fc.stringMatching(/^[0-9][A-Za-z0-9.+~]{0,8}$/),
    fc.option(fc.stringMatching(/^[A-Za-z0-9.+~]{1,5}$/), { nil: undefined }),
  )
  .map(
    ([epoch, upstream, revision]) =>
      `${epoch === undefined ? "" : `${epoch}:`}${upstream}${revision === undefined ? "" : `-${revision}`}`,
  );

/** A control paragraph of the fields a real package has, in dpkg's order. */
export const controlParagraph: fc.Arbitrary<Paragraph> = fc
  .record({
    name: packageName,
    version: debVersion,
    architecture: fc.constantFrom("all", "amd64", "arm64"),
    maintainer: fc.tuple(word, word).map(([a, b]) => `${a} ${b} <${a}@example.org>`),
    depends: fc.option(fc.constantFrom("libc6 (>= 2.17)", "bash | dash, curl", "x11-common"), {
      nil: undefined,
    }),
    section: fc.option(fc.constantFrom("misc", "devel", "editors", "non-free/net"), {
      nil: undefined,
    }),
    priority: fc.option(fc.constantFrom("optional", "extra"), { nil: undefined }),
    homepage: fc.option(
      word.map((w) => `https://${w}.example.org/`),
      { nil: undefined },
    ),
    extra: fc.option(text, { nil: undefined }),
    synopsis: text,
    extended: fc.array(fc.oneof(text, fc.constant(".")), { maxLength: 4 }),
  })
  .map((c) => {
    const fields: { name: string; value: string }[] = [
      { name: "Package", value: c.name },
      { name: "Version", value: c.version },
      { name: "Architecture", value: c.architecture },
      { name: "Maintainer", value: c.maintainer },
    ];
    if (c.depends) fields.push({ name: "Depends", value: c.depends });
    if (c.section) fields.push({ name: "Section", value: c.section });
    if (c.priority) fields.push({ name: "Priority", value: c.priority });
    if (c.homepage) fields.push({ name: "Homepage", value: c.homepage });
    if (c.extra) fields.push({ name: "X-Custom-Field", value: c.extra });
    fields.push({
      name: "Description",
      value: [c.synopsis, ...c.extended.map((line) => ` ${line}`)].join("\n"),
    });
    return fields;
  });

/** Harmless scripts: whatever the generated text, it is a comment. */
export const scriptText = text.map((t) => `#!/bin/sh\nset -e\n# ${t}\nexit 0\n`);

export const debSpec: fc.Arbitrary<DebSpec> = fc
  .record({
    control: controlParagraph,
    tree,
    etc: fc.uniqueArray(fc.tuple(word, fc.string({ maxLength: 60 }), fc.boolean()), {
      selector: ([name]) => name,
      maxLength: 3,
    }),
    scripts: fc.record(
      {
        preinst: scriptText,
        postinst: scriptText,
        prerm: scriptText,
        postrm: scriptText,
        config: scriptText,
      } satisfies Record<MaintainerScript, fc.Arbitrary<string>>,
      { requiredKeys: [] },
    ),
    mtime: fc.integer({ min: 315_532_800, max: 1_700_000_000 }),
    compression: fc.constantFrom<DebCompression>("xz", "gzip", "zstd", "none"),
    stringContent: fc.boolean(),
  })
  .map((g) => {
    // The tree lives under /usr/share so it never collides with the /etc files.
    const files: DebSpecFile[] = g.tree.flatMap((e): DebSpecFile[] => {
      const path = `/usr/share/${e.parts.join("/")}`;
      if (e.kind === "symlink") return [{ path, symlink: e.target }];
      if (e.kind === "directory") return [];
      return [{ path, content: e.data, mode: e.mode }];
    });
    const conffiles: string[] = [];
    for (const [name, content, isConffile] of g.etc) {
      const path = `/etc/${name}.conf`;
      files.push(g.stringContent ? { path, content } : { path, content, mode: 0o644 });
      if (isConffile) conffiles.push(path);
    }
    return {
      control: g.control,
      scripts: g.scripts,
      conffiles,
      files,
      mtime: g.mtime,
      compression: g.compression,
    };
  });
