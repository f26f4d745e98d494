// docs/new-package.md's worked example on the local stage, as written: the local stack started as
// `npm start` starts it (free ports, its own data directory), then each `npm run shell -- …` line
// of the page's local block, in order (the .deb names taken as files the test builds), then apt in
// isolated amd64 and arm64 roots installs what the page promises. If the page's commands change,
// this test runs the new ones.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadConfig } from "@app/core/config";
import { type AptRoot, aptRoot, runAsync, scratch } from "@app/core/testing";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./cli";
import { testDeb } from "./integration/fake-upstream";
import { waitFor } from "./local/ports";
import { type StackFile, stackFileSchema } from "./local/stack";
import { freeStackPorts, startFlags } from "./local/testing";

const data = scratch("new-package-");
const debs = scratch("new-package-debs-");
const roots: AptRoot[] = [];
let child: ChildProcess | undefined;
let output = "";
let stack: StackFile;

/** The `npm run shell -- …` lines of the page's local-stage block, in order. */
function pageCommands(): string[][] {
  const page = readFileSync(join(PROJECT_ROOT, "docs/new-package.md"), "utf8");
  const section = page.slice(page.indexOf("## The same on the local stage"));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
  return block
    .split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line.startsWith("npm run shell -- "))
    .map((line) => line.slice("npm run shell -- ".length).split(/\s+/));
}

const files = {
  "kiro-cli_1.2.3_amd64.deb": testDeb("kiro-cli", "1.2.3", "amd64"),
  "kiro-cli_1.2.3_arm64.deb": testDeb("kiro-cli", "1.2.3", "arm64"),
} as const;

function shell(args: readonly string[]) {
  // A .deb named on the page is the file built here (npm runs from the repository root).
  const resolved = args.map((a) => (a in files ? join(debs.dir, a) : a));
  return runAsync("npm", ["run", "--silent", "shell", "--", ...resolved], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, KIRO_APT_DATA_DIR: data.dir, LOG_FORMAT: "json" },
  });
}

async function packagesIndex(arch: string): Promise<string> {
  const response = await fetch(`${stack.repoUrl}/dists/stable/main/binary-${arch}/Packages.gz`);
  expect(response.status).toBe(200);
  return gunzipSync(new Uint8Array(await response.arrayBuffer())).toString("utf8");
}

beforeAll(async () => {
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(debs.dir, name), bytes);
  const ports = await freeStackPorts();
  child = spawn(
    join(PROJECT_ROOT, "node_modules/.bin/tsx"),
    ["packages/scripts/src/local/start.ts", ...startFlags(ports, data.dir)],
    {
      cwd: PROJECT_ROOT,
      detached: true,
      env: { ...process.env, LOG_FORMAT: "json" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const collect = (c: Buffer) => {
    output += c.toString();
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const started = child;
  await waitFor(async () => output.includes("Local repository ready"), {
    timeoutMs: 180_000,
    what: "the local stack to start",
    abort: () => (started.exitCode !== null ? `it exited: ${output.slice(-2000)}` : undefined),
  });
  stack = v.parse(stackFileSchema, JSON.parse(readFileSync(join(data.dir, "stack.json"), "utf8")));
});

afterAll(async () => {
  for (const r of roots) r.cleanup();
  const c = child;
  if (c?.pid !== undefined && c.exitCode === null) {
    const exited = new Promise((r) => c.once("exit", r));
    c.kill("SIGTERM");
    const timeout = new Promise((r) => setTimeout(r, 30_000));
    await Promise.race([exited, timeout]);
    // Whatever did not stop (Java included): the group this test created.
    try {
      process.kill(-c.pid, "SIGKILL");
    } catch {}
  }
  data.cleanup();
  debs.cleanup();
});

describe("docs/new-package.md on the local stage", () => {
  it("the config file the page shows is the committed one, and it loads", async () => {
    const page = readFileSync(join(PROJECT_ROOT, "docs/new-package.md"), "utf8");
    const shown = /```yaml\n([\s\S]*?)```/.exec(page)?.[1];
    // The committed file, but for its explanatory comments (the schema line stays).
    const committed = readFileSync(join(PROJECT_ROOT, "config/packages/kiro-cli.yaml"), "utf8")
      .split("\n")
      .filter((line, i) => i === 0 || !line.startsWith("#"))
      .join("\n");
    expect(shown).toBe(committed);
    const config = await loadConfig(PROJECT_ROOT, "local");
    expect(config.packages.get("kiro-cli")?.source.type).toBe("manual");
  });

  it("dry run, import of amd64 + arm64 in one command with --wait, status: as the page runs them", async () => {
    const commands = pageCommands();
    expect(commands.map((c) => c.join(" "))).toEqual([
      "scripts/import-deb.ts kiro-cli_1.2.3_amd64.deb kiro-cli_1.2.3_arm64.deb --dry-run",
      "scripts/import-deb.ts kiro-cli_1.2.3_amd64.deb kiro-cli_1.2.3_arm64.deb --wait",
      "scripts/status.ts",
    ]);
    const [dryRun, importing, status] = commands as [string[], string[], string[]];

    const dry = await shell(dryRun);
    expect(dry.status, dry.stderr + dry.stdout).toBe(0);
    expect(await packagesIndex("amd64")).not.toContain("Package: kiro-cli");

    const imported = await shell(importing);
    expect(imported.status, imported.stderr + imported.stdout).toBe(0);
    // --wait returned: both are in the published indexes already.
    for (const arch of ["amd64", "arm64"]) {
      expect(await packagesIndex(arch)).toContain(
        `Package: kiro-cli\nVersion: 1.2.3\nArchitecture: ${arch}\n`,
      );
    }

    const report = await shell(status);
    expect(report.status, report.stderr + report.stdout).toBe(0);
    // Recorded in the table's order, published in the index's.
    expect(report.stdout).toMatch(
      /\n {2}kiro-cli\n {4}recorded: {2}1\.2\.3 \((amd64|arm64)\), 1\.2\.3 \((?!\1)(amd64|arm64)\)\n {4}published: 1\.2\.3 \(amd64\), 1\.2\.3 \(arm64\)\n/,
    );
    expect(report.stdout).toContain("OK: nothing wrong");
  });

  it("apt on amd64 and on arm64 sees kiro-cli 1.2.3 and downloads its own architecture's bytes", async () => {
    for (const arch of ["amd64", "arm64"] as const) {
      const apt = aptRoot(
        { url: stack.repoUrl, suite: "stable", components: ["main"], keyring: stack.publicKey.gpg },
        arch,
      );
      roots.push(apt);
      await apt.update();
      expect(await apt.versions("kiro-cli")).toEqual(["1.2.3"]);
      const dir = await apt.download("kiro-cli", "1.2.3");
      const name = `kiro-cli_1.2.3_${arch}.deb` as const;
      expect(readdirSync(dir)).toContain(name);
      const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
      expect(sha256(readFileSync(join(dir, name)))).toBe(sha256(files[name]));
    }
  });
});
