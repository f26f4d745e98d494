import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { controlValueProblem } from "../record/schema";
import { runOk, scratch } from "../testing";
import { packageConfigArb, stageConfigArb } from "../testing/config-arbitraries";
import { type Mutation, packageMutations, stageMutations } from "../testing/config-mutations";
import {
  controlDescription,
  DEFAULT_BY_HASH_GRACE_DAYS,
  DEFAULT_MAX_SIZE_MB,
  DEFAULT_SCHEDULE,
  isScheduleExpression,
  packageConfigSchema,
  packageWarnings,
  stageConfigSchema,
  stageWarnings,
} from "./schema";

const parse = <S extends v.GenericSchema>(schema: S, input: unknown) =>
  v.safeParse(schema, input, { abortEarly: false });
const paths = (issues: readonly v.BaseIssue<unknown>[]) => issues.map((i) => v.getDotPath(i) ?? "");

/** Every mutation must fail, name its field, and name nothing unrelated. */
function checkMutation<T>(schema: v.GenericSchema, config: T, mutation: Mutation<T>) {
  const result = parse(schema, mutation.mutate(config));
  expect(result.success, mutation.label).toBe(false);
  if (result.success) return;
  const found = paths(result.issues);
  expect(found, mutation.label).toContain(mutation.path);
  const related = [mutation.path, ...(mutation.alsoAffects ?? [])];
  for (const path of found) {
    expect(
      related.some((r) => path === r || path.startsWith(`${r}.`)),
      `${mutation.label}: unexpected problem at ${path}`,
    ).toBe(true);
  }
}

describe("package config schema", () => {
  it("accepts every generated valid config", () => {
    fc.assert(
      fc.property(packageConfigArb(), (input) => {
        const result = parse(packageConfigSchema, input);
        if (!result.success)
          throw new Error(
            paths(result.issues).join(", ") + result.issues.map((i) => i.message).join("; "),
          );
        const out = result.output;
        expect(out.name).toBe(input.name);
        expect(out.architectures).toEqual(input.architectures);
        if (out.source.type === "upstream") expect(out.source.schedule).toBeTypeOf("string");
      }),
      { numRuns: 500 },
    );
  });

  it("rejects each broken field, naming exactly that field", () => {
    const arb = packageConfigArb().chain((config) => {
      const applicable = packageMutations.filter((m) => m.applies?.(config) ?? true);
      return fc.tuple(fc.constant(config), fc.constantFrom(...applicable));
    });
    const seen = new Set<string>();
    fc.assert(
      fc.property(arb, ([config, mutation]) => {
        seen.add(mutation.label);
        checkMutation(packageConfigSchema, config, mutation);
      }),
      { numRuns: 1500 },
    );
    // Every mutation was tried, so none of them is dead code.
    expect([...seen].sort()).toEqual(packageMutations.map((m) => m.label).sort());
  });

  it("reports every broken field at once", () => {
    fc.assert(
      fc.property(packageConfigArb(), (config) => {
        const broken = {
          ...config,
          name: "Bad_Name",
          priority: "urgent",
          homepage: "nope",
          extra_key: 1,
          architectures: ["all", "amd64"], // a cross-field rule, reported alongside the rest
          source: { type: "manual" },
        };
        const result = parse(packageConfigSchema, broken);
        expect(result.success).toBe(false);
        if (!result.success) {
          expect(new Set(paths(result.issues))).toEqual(
            new Set(["name", "priority", "homepage", "extra_key", "architectures"]),
          );
        }
      }),
      { numRuns: 200 },
    );
  });

  it("defaults the upstream schedule and keeps relations in control-file form", () => {
    const out = v.parse(packageConfigSchema, {
      name: "kiro",
      description: "IDE",
      maintainer: "Kiro Team <support@kiro.dev>",
      homepage: "https://kiro.dev",
      section: "devel",
      priority: "optional",
      architectures: ["amd64"],
      depends: ["libc6(>=2.28)", "libgtk-3-0 |  libgtk-4-1"],
      provides: "editor (= 1.0)",
      source: { type: "upstream", metadata_url: "https://example.com/feed.json" },
    });
    expect(out.source).toEqual({
      type: "upstream",
      metadata_url: "https://example.com/feed.json",
      schedule: DEFAULT_SCHEDULE,
      max_size_mb: DEFAULT_MAX_SIZE_MB,
      require_signature: false,
    });
    expect(out.depends).toBe("libc6 (>= 2.28), libgtk-3-0 | libgtk-4-1");
    expect(out.provides).toBe("editor (= 1.0)");
  });

  it("suggests the key a typo meant", () => {
    const result = parse(packageConfigSchema, {
      source: { type: "upstream", metadata_ulr: "https://x.org" },
    });
    expect(result.success).toBe(false);
    const issue = result.issues?.find((i) => v.getDotPath(i) === "source.metadata_ulr");
    expect(issue?.message).toMatch(/unknown key; did you mean metadata_url\?/);
    const missing = result.issues?.find((i) => v.getDotPath(i) === "source.metadata_url");
    expect(missing?.message).toBe("is required");
  });

  it("warns about a long synopsis and a deprecated priority, not about a good one", () => {
    fc.assert(
      fc.property(packageConfigArb(), (input) => {
        const pkg = v.parse(packageConfigSchema, input);
        const warned = packageWarnings(pkg).map((w) => w.path);
        expect(warned.includes("description")).toBe(
          pkg.description.length > 80 || pkg.description.toLowerCase().startsWith(`${pkg.name} `),
        );
        expect(warned.includes("priority")).toBe(pkg.priority === "extra");
      }),
      { numRuns: 300 },
    );
  });
});

describe("controlDescription", () => {
  it("renders a control value dpkg reads back unchanged", () => {
    const { dir, cleanup } = scratch();
    try {
      const rendered: string[] = [];
      fc.assert(
        fc.property(packageConfigArb(), (input) => {
          const value = controlDescription(v.parse(packageConfigSchema, input));
          expect(controlValueProblem(value)).toBeUndefined();
          const lines = value.split("\n");
          expect(lines[0]).toBe(input.description);
          rendered.push(value);
        }),
        { numRuns: 300 },
      );
      // One status file, one dpkg-query: every stanza must parse and print its Description as is.
      const status = rendered
        .map(
          (d, i) =>
            `Package: p${i}\nStatus: install ok installed\nVersion: 1\nArchitecture: all\nMaintainer: A <a@b.c>\nDescription: ${d}\n`,
        )
        .join("\n");
      mkdirSync(join(dir, "updates"));
      mkdirSync(join(dir, "info"));
      writeFileSync(join(dir, "status"), status);
      const out = runOk("dpkg-query", [
        `--admindir=${dir}`,
        "-W",
        "-f",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's format, not a template
        "${Package}\\n${Description}\\n@@END@@\\n",
      ]).stdout;
      const byPackage = new Map(
        out
          .split("@@END@@\n")
          .filter(Boolean)
          .map((chunk) => {
            const nl = chunk.indexOf("\n");
            return [chunk.slice(0, nl), chunk.slice(nl + 1, -1)] as const;
          }),
      );
      rendered.forEach((d, i) => {
        expect(byPackage.get(`p${i}`)).toBe(d);
      });
    } finally {
      cleanup();
    }
  });

  it("writes empty lines as ` .` and keeps indentation", () => {
    expect(controlDescription({ description: "s", long_description: "a\n\n  verbatim" })).toBe(
      "s\n a\n .\n   verbatim",
    );
    expect(controlDescription({ description: "s", long_description: undefined })).toBe("s");
  });
});

describe("schedule expressions", () => {
  it("accepts rate() with the right plural and cron() with six fields", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom("minute", "hour", "day"),
        (n, unit) => {
          expect(isScheduleExpression(`rate(${n} ${unit}${n === 1 ? "" : "s"})`)).toBe(true);
          expect(isScheduleExpression(`rate(${n} ${unit}${n === 1 ? "s" : ""})`)).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
    for (const bad of [
      "rate(0 minutes)",
      "rate(1 week)",
      "rate(01 hours)",
      "cron(* * * * * *)",
      "cron(0 12 * * ? *) ",
      "hourly",
    ]) {
      expect(isScheduleExpression(bad), bad).toBe(false);
    }
    expect(isScheduleExpression("cron(0 12 * * ? *)")).toBe(true);
  });
});

describe("stage config schema", () => {
  it("accepts every generated valid stage and fills the defaults", () => {
    fc.assert(
      fc.property(stageConfigArb, (input) => {
        const result = parse(stageConfigSchema, input);
        if (!result.success)
          throw new Error(result.issues.map((i) => `${v.getDotPath(i)}: ${i.message}`).join("; "));
        const out = result.output;
        expect(out.repo_url.endsWith("/")).toBe(false);
        expect(out.components).toEqual(input.components ?? ["main"]);
        expect(out.default_suite).toBe(input.default_suite ?? input.suite);
        expect(out.default_component).toBe(input.default_component ?? out.components[0]);
        expect(out.by_hash_grace_days).toBe(input.by_hash_grace_days ?? DEFAULT_BY_HASH_GRACE_DAYS);
        expect(out.signing.key_ids).toEqual(
          input.signing.key_ids?.map((k) => k.toLowerCase()) ?? [],
        );
      }),
      { numRuns: 500 },
    );
  });

  it("rejects each broken field, naming exactly that field", () => {
    const arb = stageConfigArb.chain((config) => {
      const applicable = stageMutations.filter((m) => m.applies?.(config) ?? true);
      return fc.tuple(fc.constant(config), fc.constantFrom(...applicable));
    });
    const seen = new Set<string>();
    fc.assert(
      fc.property(arb, ([config, mutation]) => {
        seen.add(mutation.label);
        checkMutation(stageConfigSchema, config, mutation);
      }),
      { numRuns: 1500 },
    );
    expect([...seen].sort()).toEqual(stageMutations.map((m) => m.label).sort());
  });

  it("allows plain http only for the local stage on the loopback address", () => {
    const base = {
      suite: "stable",
      architectures: ["amd64"],
      origin: "Kiro",
      label: "Kiro",
      description: "d",
      signing: { key_ids: ["a".repeat(40)] },
    };
    const ok = (stage: string, repo_url: string) =>
      parse(stageConfigSchema, { ...base, stage, repo_url }).success;
    expect(ok("local", "http://127.0.0.1:8080/kiro-apt-local")).toBe(true);
    expect(ok("local", "http://localhost:9000")).toBe(true);
    expect(ok("local", "http://[::1]:9000/")).toBe(true);
    expect(ok("local", "http://192.168.1.2:8080")).toBe(false);
    expect(ok("dev", "http://127.0.0.1:8080/kiro-apt-local")).toBe(false);
    expect(ok("prod", "https://apt.kiro.dev")).toBe(true);
    expect(ok("local", "https://apt.kiro.dev")).toBe(true);
  });

  it("warns about placeholder hosts and fingerprints only", () => {
    const stage = (repo_url: string, key: string) =>
      v.parse(stageConfigSchema, {
        stage: "prod",
        repo_url,
        suite: "stable",
        architectures: ["amd64"],
        origin: "Kiro",
        label: "Kiro",
        description: "d",
        signing: { key_ids: [key] },
      });
    expect(
      stageWarnings(stage("https://apt.kiro.example", "0".repeat(40))).map((w) => w.path),
    ).toEqual(["repo_url", "signing.key_ids.0"]);
    expect(stageWarnings(stage("https://apt.kiro.dev", "a".repeat(40)))).toEqual([]);
  });
});
