import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import * as v from "valibot";
import { afterAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { scratch } from "../testing";
import { packageConfigArb, packageNameArb, stageConfigArb } from "../testing/config-arbitraries";
import { packageMutations, stageMutations } from "../testing/config-mutations";
import {
  ConfigError,
  type ConfigProblem,
  formatProblem,
  loadConfig,
  loadPackageConfigs,
  loadStageConfig,
  parseConfigText,
} from "./load";
import { packageConfigSchema, stageConfigSchema } from "./schema";

const root = scratch("kiro-config-");
afterAll(root.cleanup);
let counter = 0;
/** A fresh directory under the scratch root. */
function freshDir(): string {
  const dir = join(root.dir, String(counter++));
  mkdirSync(dir, { recursive: true });
  return dir;
}

const EXTENSIONS = [".yaml", ".yml", ".json"] as const;
type Ext = (typeof EXTENSIONS)[number];
const extArb = fc.constantFrom(...EXTENSIONS);

const serialize = (data: unknown, ext: Ext) =>
  ext === ".json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data);

function write(dir: string, file: string, data: unknown, ext: Ext): void {
  writeFileSync(join(dir, `${file}${ext}`), serialize(data, ext));
}

async function problemsOf(promise: Promise<unknown>): Promise<readonly ConfigProblem[]> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

// Several packages with distinct names, each with the format it is written in.
const packageSetArb = fc
  .uniqueArray(packageNameArb, { minLength: 1, maxLength: 4 })
  .chain((names) => fc.tuple(...names.map((name) => fc.tuple(packageConfigArb(name), extArb))));

describe("loadPackageConfigs", () => {
  it("loads every valid file, in any format, as the schema parses it", async () => {
    await fc.assert(
      fc.asyncProperty(packageSetArb, async (set) => {
        const dir = freshDir();
        for (const [config, ext] of set) write(dir, config.name, config, ext);
        const loaded = await loadPackageConfigs(dir);
        expect([...loaded.keys()].sort()).toEqual(set.map(([c]) => c.name).sort());
        for (const [config] of set) {
          expect(loaded.get(config.name)).toEqual(v.parse(packageConfigSchema, config));
        }
      }),
      { numRuns: 150 },
    );
  });

  it("reads the same config from JSON and YAML alike", async () => {
    await fc.assert(
      fc.asyncProperty(packageConfigArb(), async (config) => {
        const [json, yaml, yml] = [freshDir(), freshDir(), freshDir()];
        write(json, config.name, config, ".json");
        write(yaml, config.name, config, ".yaml");
        write(yml, config.name, config, ".yml");
        const fromJson = await loadPackageConfigs(json);
        expect(await loadPackageConfigs(yaml)).toEqual(fromJson);
        expect(await loadPackageConfigs(yml)).toEqual(fromJson);
      }),
      { numRuns: 100 },
    );
  });

  it("names the file and the field of a broken value, and only that file", async () => {
    const arb = packageSetArb.chain((set) =>
      fc.tuple(
        fc.constant(set),
        fc.nat({ max: set.length - 1 }),
        fc.constantFrom(...packageMutations),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([set, index, mutation]) => {
        const dir = freshDir();
        const [target, targetExt] = set[index] as (typeof set)[number];
        if (!(mutation.applies?.(target) ?? true)) return;
        for (const [config, ext] of set) {
          write(dir, config.name, config === target ? mutation.mutate(config) : config, ext);
        }
        const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
        const file = `${target.name}${targetExt}`;
        expect(problems.every((p) => p.file === file)).toBe(true);
        const named = problems.find((p) => p.path === mutation.path);
        expect(named, `${mutation.label}: ${problems.map(formatProblem).join("; ")}`).toBeDefined();
        if (named)
          expect(formatProblem(named).startsWith(`${file}: ${mutation.path}: `)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("collects the problems of every broken file before throwing", async () => {
    const arb = packageSetArb.chain((set) =>
      fc.tuple(
        fc.constant(set),
        fc.array(fc.boolean(), { minLength: set.length, maxLength: set.length }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([set, broken]) => {
        const dir = freshDir();
        set.forEach(([config, ext], i) => {
          write(
            dir,
            config.name,
            broken[i] ? { ...config, priority: "urgent", homepage: "nope" } : config,
            ext,
          );
        });
        const expected = set.filter((_, i) => broken[i]).map(([c, ext]) => `${c.name}${ext}`);
        if (expected.length === 0) {
          await expect(loadPackageConfigs(dir)).resolves.toBeInstanceOf(Map);
          return;
        }
        const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
        const found = problems.map((p) => `${p.file} ${p.path}`).sort();
        expect(found).toEqual(expected.flatMap((f) => [`${f} homepage`, `${f} priority`]).sort());
      }),
      { numRuns: 150 },
    );
  });

  it("refuses a package defined twice, naming both files", async () => {
    await fc.assert(
      fc.asyncProperty(
        packageConfigArb(),
        fc.uniqueArray(extArb, { minLength: 2, maxLength: 3 }),
        async (config, exts) => {
          const dir = freshDir();
          for (const ext of exts) write(dir, config.name, config, ext);
          const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
          expect(problems.map((p) => p.file).sort()).toEqual(
            exts.map((e) => `${config.name}${e}`).sort(),
          );
          for (const p of problems) expect(p.message).toMatch(/defined more than once/);
        },
      ),
      { numRuns: 50 },
    );
  });

  it("requires the name to be the file's base name", async () => {
    const dir = freshDir();
    const [config] = fc.sample(packageConfigArb("kiro"), 1) as [
      v.InferInput<typeof packageConfigSchema>,
    ];
    write(dir, "kiro-cli", config, ".yaml");
    const problems = await problemsOf(loadPackageConfigs(join(dir), { base: dir }));
    expect(problems.map(formatProblem)).toEqual([
      'kiro-cli.yaml: name: must equal the file\'s base name ("kiro-cli"), is "kiro" (line 1)',
    ]);
  });

  it("names the line of a YAML syntax error", async () => {
    await fc.assert(
      fc.asyncProperty(packageConfigArb(), fc.nat(), async (config, at) => {
        const lines = stringify(config).split("\n");
        // Between top-level entries, never inside a block scalar.
        const boundaries = lines.flatMap((l, i) => (i === 0 || /^[a-z]/.test(l) ? [i] : []));
        const line = boundaries[at % boundaries.length] as number;
        lines.splice(line, 0, "oops: @reserved");
        const dir = freshDir();
        writeFileSync(join(dir, `${config.name}.yaml`), lines.join("\n"));
        const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
        expect(problems).toContainEqual(
          expect.objectContaining({ file: `${config.name}.yaml`, line: line + 1 }),
        );
        expect(problems[0]?.message).toMatch(/^YAML syntax: /);
      }),
      { numRuns: 100 },
    );
  });

  it("names the line of a JSON syntax error", async () => {
    await fc.assert(
      fc.asyncProperty(packageConfigArb(), fc.nat(), async (config, at) => {
        const lines = JSON.stringify(config, null, 2).split("\n");
        const line = 1 + (at % lines.length);
        lines.splice(line, 0, "@");
        const dir = freshDir();
        writeFileSync(join(dir, `${config.name}.json`), lines.join("\n"));
        const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
        expect(problems).toEqual([
          expect.objectContaining({ file: `${config.name}.json`, line: line + 1, column: 1 }),
        ]);
        expect(problems[0]?.message).toMatch(/^JSON syntax: /);
      }),
      { numRuns: 100 },
    );
  });

  it("refuses duplicate keys in both formats", () => {
    const yaml = parseConfigText("name: a\nname: b\n", "x.yaml", ".yaml");
    expect(yaml.ok ? [] : yaml.problems.map(formatProblem)).toEqual([
      "x.yaml: YAML syntax: Map keys must be unique (line 2, column 1)",
    ]);
    const json = parseConfigText('{\n  "name": "a",\n  "name": "b"\n}', "x.json", ".json");
    expect(json.ok ? [] : json.problems.map(formatProblem)).toEqual([
      "x.json: JSON: Map keys must be unique (line 3, column 3)",
    ]);
  });

  it("points at the line of a bad field and says to quote YAML numbers", async () => {
    const dir = freshDir();
    writeFileSync(
      join(dir, "kiro-repo.yaml"),
      [
        "name: kiro-repo",
        "description: setup",
        "maintainer: Kiro Team <support@kiro.dev>",
        "homepage: https://kiro.dev",
        "section: admin",
        "priority: optional",
        "architectures: [all]",
        "source:",
        "  type: build",
        "  version: 1.10",
        "  keyring_name: kiro-archive-keyring",
        "  sources_name: kiro",
        "  templates:",
        "    sources: 'URIs: {{repo_url}} {{keyring_path}}'",
        "    postinst: echo",
        "",
      ].join("\n"),
    );
    const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
    expect(problems.map(formatProblem)).toEqual([
      'kiro-repo.yaml: source.version: must be a string (quote it in YAML: "…") (line 10)',
      "kiro-repo.yaml: source.templates.postinst: must start with #! (an interpreter line) (line 15)",
    ]);
  });

  it("ignores other files, and fails on a missing directory", async () => {
    const dir = freshDir();
    const [config] = fc.sample(packageConfigArb("kiro"), 1) as [
      v.InferInput<typeof packageConfigSchema>,
    ];
    write(dir, "kiro", config, ".yaml");
    writeFileSync(join(dir, "README.md"), "# packages");
    writeFileSync(join(dir, ".draft.yaml"), "not: [valid");
    writeFileSync(join(dir, "kiro.yaml.orig"), "not: [valid");
    expect([...(await loadPackageConfigs(dir)).keys()]).toEqual(["kiro"]);
    const problems = await problemsOf(loadPackageConfigs(join(dir, "nope"), { base: dir }));
    expect(problems.map(formatProblem)).toEqual([
      "nope: cannot read the config directory (ENOENT)",
    ]);
  });

  it("refuses a file name that is no package name", async () => {
    const dir = freshDir();
    const [config] = fc.sample(packageConfigArb("kiro"), 1) as [
      v.InferInput<typeof packageConfigSchema>,
    ];
    write(dir, "Kiro", { ...config, name: "Kiro" }, ".json");
    const problems = await problemsOf(loadPackageConfigs(dir, { base: dir }));
    expect(
      problems.some((p) => p.path === undefined && /not a Debian package name/.test(p.message)),
    ).toBe(true);
    expect(problems.some((p) => p.path === "name")).toBe(true);
  });

  it("reports warnings without failing", async () => {
    const dir = freshDir();
    const [config] = fc.sample(packageConfigArb("kiro"), 1) as [
      v.InferInput<typeof packageConfigSchema>,
    ];
    write(dir, "kiro", { ...config, description: "x".repeat(81), priority: "extra" }, ".yaml");
    const warnings: string[] = [];
    await loadPackageConfigs(dir, { base: dir, warn: (w) => warnings.push(w) });
    expect(warnings).toEqual([
      "kiro.yaml: description: is 81 characters; Debian recommends at most 80 for the synopsis",
      "kiro.yaml: priority: extra is deprecated; use optional",
    ]);
  });
});

describe("loadStageConfig", () => {
  it("loads a valid stage from any format, and names the field of a broken one", async () => {
    const arb = stageConfigArb.chain((stage) =>
      fc.tuple(
        fc.constant(stage),
        extArb,
        fc.option(fc.constantFrom(...stageMutations), { nil: undefined }),
      ),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([stage, ext, mutation]) => {
        const dir = freshDir();
        if (mutation === undefined || !(mutation.applies?.(stage) ?? true)) {
          write(dir, stage.stage, stage, ext);
          expect(await loadStageConfig(dir, stage.stage)).toEqual(
            v.parse(stageConfigSchema, stage),
          );
          return;
        }
        write(dir, stage.stage, mutation.mutate(stage), ext);
        const problems = await problemsOf(loadStageConfig(dir, stage.stage, { base: dir }));
        expect(problems.every((p) => p.file === `${stage.stage}${ext}`)).toBe(true);
        expect(
          problems.map((p) => p.path),
          mutation.label,
        ).toContain(mutation.path);
      }),
      { numRuns: 300 },
    );
  });

  it("says which stages exist when the one asked for does not", async () => {
    const dir = freshDir();
    const [stage] = fc.sample(stageConfigArb, 1) as [v.InferInput<typeof stageConfigSchema>];
    write(dir, "dev", { ...stage, stage: "dev" }, ".yaml");
    write(dir, "prod", { ...stage, stage: "prod" }, ".json");
    const problems = await problemsOf(loadStageConfig(dir, "staging", { base: root.dir }));
    expect(problems.map((p) => p.message)).toEqual([
      'no config for stage "staging" (known stages: dev, prod)',
    ]);
    expect((await problemsOf(loadStageConfig(dir, "../dev")))[0]?.message).toMatch(
      /is not a stage name/,
    );
  });

  it("refuses a stage defined twice or named differently inside", async () => {
    const dir = freshDir();
    const [stage] = fc.sample(stageConfigArb, 1) as [v.InferInput<typeof stageConfigSchema>];
    write(dir, "dev", { ...stage, stage: "dev" }, ".yaml");
    write(dir, "dev", { ...stage, stage: "dev" }, ".json");
    expect((await problemsOf(loadStageConfig(dir, "dev")))[0]?.message).toMatch(
      /defined more than once/,
    );
    const other = freshDir();
    write(other, "dev", { ...stage, stage: "prod" }, ".yaml");
    const problems = await problemsOf(loadStageConfig(other, "dev", { base: other }));
    expect(problems.find((p) => p.path === "stage")?.message).toBe(
      'must equal the file\'s base name ("dev"), is "prod"',
    );
  });
});

describe("loadConfig", () => {
  it("reports stage and package problems together, named from the project root", async () => {
    const dir = freshDir();
    mkdirSync(join(dir, "config", "packages"), { recursive: true });
    mkdirSync(join(dir, "config", "stages"), { recursive: true });
    const [stage] = fc.sample(stageConfigArb, 1) as [v.InferInput<typeof stageConfigSchema>];
    const [pkg] = fc.sample(packageConfigArb("kiro"), 1) as [
      v.InferInput<typeof packageConfigSchema>,
    ];
    write(
      join(dir, "config", "stages"),
      "prod",
      {
        ...stage,
        stage: "prod",
        repo_url: "http://apt.kiro.dev",
        signing: { key_ids: ["f".repeat(40)] },
      },
      ".yaml",
    );
    write(
      join(dir, "config", "packages"),
      "kiro",
      { ...pkg, source: { type: "upstream", metadata_url: "http://x.org/feed.json" } },
      ".yaml",
    );
    const problems = await problemsOf(loadConfig(dir, "prod"));
    expect(problems.map(formatProblem)).toEqual([
      expect.stringMatching(
        /^config\/stages\/prod\.yaml: repo_url: must be an https URL \(line \d+\)$/,
      ),
      expect.stringMatching(
        /^config\/packages\/kiro\.yaml: source\.metadata_url: must be an https URL \(line \d+\)$/,
      ),
    ]);
    const error = await loadConfig(dir, "prod").catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(
      /^invalid config \(2 problems\):\n {2}config\/stages\/prod\.yaml: repo_url/,
    );
  });
});
