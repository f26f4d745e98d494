// `sst deploy --stage prod` loads its config through stacks/config.ts: the committed prod file's
// placeholders stop the deploy, naming the file, the field and the line to change; real values
// pass; other cloud stages only warn.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "@app/core/config";
import { scratch } from "@app/core/testing";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadStage } from "../../../stacks/config";
import { PROJECT_ROOT } from "./cli";

const dirs: { cleanup: () => void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
  vi.restoreAllMocks();
});

/** A copy of config/ whose prod file is edited by `edit`. */
function withProd(edit: (text: string) => string): string {
  const d = scratch("deploy-config-");
  dirs.push(d);
  cpSync(join(PROJECT_ROOT, "config"), join(d.dir, "config"), { recursive: true });
  const file = join(d.dir, "config/stages/prod.yaml");
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  return d.dir;
}

describe("stacks/config.ts loadStage", () => {
  it("refuses the committed prod placeholders, naming each line to change", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const error = await loadStage("prod", PROJECT_ROOT).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    const text = readFileSync(join(PROJECT_ROOT, "config/stages/prod.yaml"), "utf8").split("\n");
    expect(problems.map((p) => p.path)).toEqual(["repo_url", "signing.key_ids.0"]);
    for (const p of problems) {
      expect(p.file).toBe("config/stages/prod.yaml");
      expect(p.line).toBeDefined();
      const line = text[(p.line as number) - 1] as string;
      expect(p.message).toContain(`the line to change reads: ${line.trim()}`);
    }
    expect(text[(problems[0]?.line as number) - 1]).toMatch(/^repo_url: /);
    expect(text[(problems[1]?.line as number) - 1]).toMatch(/0{40}/);
  });

  it("accepts prod with real values", async () => {
    const root = withProd((t) =>
      t
        .replace("https://apt.kiro.example", "https://apt.kiro.dev")
        .replace("0".repeat(40), "0123456789abcdef0123456789abcdef01234567"),
    );
    const stage = await loadStage("prod", root);
    expect(stage.repoUrl).toBe("https://apt.kiro.dev");
    expect(stage.settings.keyIds).toEqual(["0123456789abcdef0123456789abcdef01234567"]);
  });

  it("names only what is left: a real host with the placeholder key", async () => {
    vi.spyOn(console, "warn").mockImplementation(() => {});
    const root = withProd((t) => t.replace("https://apt.kiro.example", "https://apt.kiro.dev"));
    const error = (await loadStage("prod", root).catch((e: unknown) => e)) as ConfigError;
    expect(error.problems.map((p) => p.path)).toEqual(["signing.key_ids.0"]);
    expect(error.message).toContain("config/stages/prod.yaml: signing.key_ids.0:");
  });

  it("other cloud stages only warn about placeholders", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const stage = await loadStage("dev", PROJECT_ROOT);
    expect(stage.name).toBe("dev");
    expect(warn.mock.calls.flat().join("\n")).toContain("placeholder");
  });
});
