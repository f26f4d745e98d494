// Readable lines on a terminal, JSON lines otherwise: a child logs through createLogger, once
// under a pseudo-terminal (util-linux `script`) and once into a pipe.
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { run } from "../testing/exec";

const root = join(import.meta.dirname, "../../../..");
const program = `import { createLogger } from ${JSON.stringify(join(import.meta.dirname, "index.ts"))};
const log = createLogger("local");
log.info({ port: 8080 }, "servers started");
log.warn({ secretAccessKey: "S3CR3T" }, "careful");`;
const node = [
  join(root, "node_modules/.bin/node"),
  "--import",
  "tsx",
  "--input-type=module",
  "-e",
  program,
];
const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

describe("createLogger", () => {
  it("writes readable lines to a terminal", () => {
    const result = run("script", ["-qec", node.map(quote).join(" "), "/dev/null"], {
      cwd: root,
      env: { ...process.env, LOG_FORMAT: "", LOG_LEVEL: "info" },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/INFO.*\(local\).*servers started/);
    expect(result.stdout).toMatch(/WARN.*careful/);
    expect(result.stdout).not.toContain('{"level"');
    expect(result.stdout).not.toContain("S3CR3T");
  });

  it("writes JSON lines to a pipe", () => {
    const [command = "", ...args] = node;
    const result = run(command, args, {
      cwd: root,
      env: { ...process.env, LOG_FORMAT: "", LOG_LEVEL: "info" },
    });
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.msg)).toEqual(["servers started", "careful"]);
    expect(lines[0]).toMatchObject({ name: "local", port: 8080, level: 30 });
    expect(result.stdout).not.toContain("S3CR3T");
  });
});
