// The config files in the repository: they load, and kiro-repo's templates do what they say
// (apt reads the rendered source; the postinst removes only our own legacy kiro.list; the
// purge removes the source). Debian's own apt-get and dash are the oracles.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { run, runOk, scratch } from "../testing";
import { type LoadedConfig, loadConfig } from "./load";
import type { BuildSource } from "./schema";
import { renderTemplate, templateValues } from "./template";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const STAGES = readdirSync(join(ROOT, "config", "stages"))
  .filter((f) => [".yaml", ".yml", ".json"].includes(extname(f)))
  .map((f) => basename(f, extname(f)));

const tmp = scratch("kiro-repo-scripts-");
afterAll(tmp.cleanup);
let counter = 0;
const freshDir = () => {
  const dir = join(tmp.dir, String(counter++));
  mkdirSync(dir, { recursive: true });
  return dir;
};

const loaded = new Map<string, LoadedConfig>();
async function configFor(stage: string): Promise<LoadedConfig> {
  const cached = loaded.get(stage);
  if (cached) return cached;
  const config = await loadConfig(ROOT, stage);
  loaded.set(stage, config);
  return config;
}

function kiroRepo(config: LoadedConfig): BuildSource {
  const source = config.packages.get("kiro-repo")?.source;
  if (source?.type !== "build") throw new Error("kiro-repo must be a build package");
  return source;
}

/** kiro-repo's files for a stage, with every placeholder filled. */
function rendered(config: LoadedConfig) {
  const source = kiroRepo(config);
  const values = templateValues(config.stage, source);
  const render = (t: string | undefined) =>
    t === undefined ? undefined : renderTemplate(t, values);
  return {
    values,
    sources: renderTemplate(source.templates.sources, values),
    postinst: render(source.templates.postinst),
    prerm: render(source.templates.prerm),
    postrm: render(source.templates.postrm),
  };
}

/** An APT root of its own (never the machine's), reading sources from `root`/etc/apt. */
function aptRoot(root: string): NodeJS.ProcessEnv {
  for (const d of [
    "etc/apt/sources.list.d",
    "etc/apt/apt.conf.d",
    "etc/apt/preferences.d",
    "var/lib/apt/lists/partial",
    "var/cache/apt/archives/partial",
    "var/lib/dpkg",
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  writeFileSync(join(root, "var/lib/dpkg/status"), "");
  const conf = join(root, "apt.conf");
  writeFileSync(
    conf,
    `Dir "${root}/";\nDir::State::status "${root}/var/lib/dpkg/status";\nAPT::Architecture "amd64";\nAPT::Architectures { "amd64"; };\n`,
  );
  return { ...process.env, APT_CONFIG: conf };
}

describe("committed config", () => {
  it("has the three stages", () => {
    expect(STAGES.sort()).toEqual(["dev", "local", "prod"]);
  });

  it.each(STAGES)("loads for stage %s with every package", async (stage) => {
    const config = await configFor(stage);
    expect(config.stage.stage).toBe(stage);
    expect([...config.packages.keys()].sort()).toEqual(["kiro", "kiro-cli", "kiro-repo"]);
    const kiro = config.packages.get("kiro");
    expect(kiro?.source).toMatchObject({
      type: "upstream",
      metadata_url:
        "https://prod.download.desktop.kiro.dev/stable/metadata-linux-x64-deb-stable.json",
    });
    expect(kiro?.architectures).toEqual(["amd64"]);
    expect(config.packages.get("kiro-cli")?.source.type).toBe("manual");
    expect(config.packages.get("kiro-repo")?.architectures).toEqual(["all"]);
    expect(config.stage).toMatchObject({
      suite: "stable",
      components: ["main"],
      origin: "Kiro",
      label: "Kiro",
    });
    expect(config.stage.architectures).toEqual(["amd64", "arm64"]);
    // Only the placeholders of dev and prod are warned about; local has none.
    expect(config.warnings.every((w) => w.startsWith(`config/stages/${stage}.yaml: `))).toBe(true);
    expect(config.warnings.length).toBe(stage === "local" ? 0 : 2);
  });

  it("local serves plain http on the loopback address and generates its key", async () => {
    const { stage } = await configFor("local");
    expect(stage.repo_url).toBe("http://127.0.0.1:8080/kiro-apt-local");
    expect(stage.signing.key_ids).toEqual([]);
  });
});

describe("kiro-repo templates", () => {
  it.each(STAGES)(
    "render for %s into scripts dash parses and a source apt reads",
    async (stage) => {
      const config = await configFor(stage);
      const files = rendered(config);
      for (const script of [files.postinst, files.prerm, files.postrm]) {
        if (script === undefined) continue;
        expect(script).not.toMatch(/\{\{/);
        runOk("dash", ["-n"], { input: script });
      }
      expect(files.sources).toBe(
        [
          "Types: deb",
          `URIs: ${config.stage.repo_url}`,
          "Suites: stable",
          "Components: main",
          "Signed-By: /usr/share/keyrings/kiro-archive-keyring.gpg",
          "",
        ].join("\n"),
      );
      const root = freshDir();
      const env = aptRoot(root);
      writeFileSync(join(root, "etc/apt/sources.list.d/kiro.sources"), files.sources);
      const out = run("apt-get", ["update", "--print-uris"], { env });
      expect(out.stderr).toBe("");
      expect(out.status).toBe(0);
      expect(out.stdout).toContain(`'${config.stage.repo_url}/dists/stable/InRelease'`);
      expect(out.stdout).toContain(`/dists/stable/main/binary-amd64/Packages`);
    },
  );

  it("the postinst clears the legacy kiro.list that made apt refuse the source", async () => {
    const config = await configFor("local");
    const files = rendered(config);
    const root = freshDir();
    const env = aptRoot(root);
    writeFileSync(join(root, "etc/apt/sources.list.d/kiro.sources"), files.sources);
    writeFileSync(
      join(root, "etc/apt/sources.list.d/kiro.list"),
      `deb [trusted=yes] ${config.stage.repo_url}/ stable main\n`,
    );
    const before = run("apt-get", ["update", "--print-uris"], { env });
    expect(before.stderr).toMatch(/Conflicting values set for option/);
    runOk("dash", ["-s", "configure", "1.0"], {
      input: files.postinst,
      env: { ...env, DPKG_ROOT: root },
    });
    const after = run("apt-get", ["update", "--print-uris"], { env });
    expect(after.stderr).toBe("");
    expect(after.status).toBe(0);
  });

  it("the postinst removes kiro.list exactly when every entry in it is ours", async () => {
    const configs = await Promise.all(STAGES.map(configFor));
    const withoutScheme = (u: string) => u.replace(/^[a-z]+:\/\//, "");

    const oursLine = fc
      .record({
        options: fc.constantFrom(
          "",
          " [trusted=yes]",
          " [ trusted=yes ]",
          " [arch=amd64 trusted=yes]",
          " [signed-by=/x.gpg]",
        ),
        scheme: fc.constantFrom("http://", "https://"),
        slash: fc.constantFrom("", "/", "//"),
        rest: fc.constantFrom(
          " stable main",
          " stable main contrib",
          "\tstable  main",
          " stable main # kiro",
        ),
        indent: fc.constantFrom("", " ", "\t"),
      })
      .map(
        (l) => (url: string) =>
          `${l.indent}deb${l.options} ${l.scheme}${withoutScheme(url)}${l.slash}${l.rest}`,
      );
    const noise = fc.constantFrom(
      "",
      "# Kiro repository",
      "   ",
      "#deb http://elsewhere.example.org stable main",
    );
    const foreignLine = fc.constantFrom(
      (url: string) => `deb-src ${url} stable main`,
      (url: string) => `deb ${url}-mirror stable main`,
      (url: string) => `deb ${url}/sub stable main`,
      (url: string) =>
        `deb [trusted=yes] https://elsewhere.example.org${withoutScheme(url).replace(/^[^/]*/, "")} stable main`,
      () => "deb [trusted=yes]",
      () => "deb https://packages.example.org/kiro stable main",
      () => "something else",
    );
    const listArb = fc.record({
      stage: fc.nat({ max: configs.length - 1 }),
      lines: fc.array(
        fc.oneof(
          oursLine.map((f) => ({ ours: true, f })),
          noise.map((n) => ({ ours: true, f: () => n })),
        ),
        {
          maxLength: 5,
        },
      ),
      foreign: fc.option(fc.tuple(foreignLine, fc.nat()), { nil: undefined }),
      finalNewline: fc.boolean(),
    });

    const cases = fc.sample(listArb, 200).map((c, i) => {
      const config = configs[c.stage] as LoadedConfig;
      const url = config.stage.repo_url;
      const lines = c.lines.map((l) => l.f(url));
      if (c.foreign) lines.splice(c.foreign[1] % (lines.length + 1), 0, c.foreign[0](url));
      const text = lines.join("\n") + (c.finalNewline ? "\n" : "");
      const hasEntry = lines.some((l) => l.replace(/#.*/, "").trim() !== "");
      return { i, config, text, expectRemoved: c.foreign === undefined && hasEntry };
    });
    // Both outcomes occur, or the property would prove nothing.
    expect(cases.some((c) => c.expectRemoved)).toBe(true);
    expect(cases.some((c) => !c.expectRemoved)).toBe(true);

    // One root per case; one shell runs every postinst (per stage) against its root.
    const base = freshDir();
    const scripts: string[] = [];
    for (const c of cases) {
      const root = join(base, String(c.i));
      mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
      writeFileSync(join(root, "etc/apt/sources.list.d/kiro.list"), c.text);
      writeFileSync(
        join(root, "etc/apt/sources.list.d/other.list"),
        "deb https://deb.debian.org/debian stable main\n",
      );
      const script = join(base, `postinst-${c.config.stage.stage}`);
      if (!existsSync(script)) writeFileSync(script, rendered(c.config).postinst ?? "");
      scripts.push(`DPKG_ROOT='${root}' dash '${script}' configure 1.0 || echo "failed ${c.i}"`);
    }
    const out = runOk("dash", ["-c", scripts.join("\n")]);
    expect(out.stdout).toBe("");
    for (const c of cases) {
      const dir = join(base, String(c.i), "etc/apt/sources.list.d");
      expect(existsSync(join(dir, "kiro.list")), `${c.config.stage.stage}:\n${c.text}`).toBe(
        !c.expectRemoved,
      );
      expect(readFileSync(join(dir, "other.list"), "utf8")).toMatch(/deb\.debian\.org/);
    }
  });

  it("the postinst touches nothing but on configure, and copes with no legacy file", async () => {
    const config = await configFor("prod");
    const { postinst } = rendered(config);
    const root = freshDir();
    mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
    runOk("dash", ["-s", "configure", "1.0"], {
      input: postinst,
      env: { ...process.env, DPKG_ROOT: root },
    });
    const legacy = join(root, "etc/apt/sources.list.d/kiro.list");
    writeFileSync(legacy, `deb [trusted=yes] ${config.stage.repo_url} stable main\n`);
    for (const action of ["abort-upgrade", "abort-remove", "triggered"]) {
      runOk("dash", ["-s", action], { input: postinst, env: { ...process.env, DPKG_ROOT: root } });
      expect(existsSync(legacy)).toBe(true);
    }
    runOk("dash", ["-s", "configure", "1.0"], {
      input: postinst,
      env: { ...process.env, DPKG_ROOT: root },
    });
    expect(existsSync(legacy)).toBe(false);
  });

  it("the postrm removes the source on purge only", async () => {
    const config = await configFor("dev");
    const files = rendered(config);
    const root = freshDir();
    const sources = join(root, files.values.sources_path);
    mkdirSync(join(root, "etc/apt/sources.list.d"), { recursive: true });
    writeFileSync(sources, files.sources);
    const env = { ...process.env, DPKG_ROOT: root };
    for (const action of ["remove", "upgrade", "failed-upgrade", "abort-install"]) {
      runOk("dash", ["-s", action], { input: files.postrm, env });
      expect(existsSync(sources), action).toBe(true);
    }
    runOk("dash", ["-s", "purge"], { input: files.postrm, env });
    expect(existsSync(sources)).toBe(false);
    runOk("dash", ["-s", "purge"], { input: files.postrm, env }); // idempotent
  });
});
