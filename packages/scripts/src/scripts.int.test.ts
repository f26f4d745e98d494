// The literal commands: every `scripts/<name>.ts` is a relative symlink to the one copy of the
// script in packages/scripts/src, executable with a tsx shebang, and each `npm run shell --
// scripts/<name>.ts` line of the README runs as written (its --help, and a bad flag is exit 2).
import { spawnSync } from "node:child_process";
import { accessSync, constants, lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generateSigningKey } from "@app/core/signing";
import { scratch } from "@app/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "./cli";
import type { StackFile } from "./local/stack";

const SHEBANG = "#!/usr/bin/env -S npx tsx";

/** The script names the README's commands use, from its local-shell lines. */
function readmeScripts(): string[] {
  const readme = readFileSync(join(PROJECT_ROOT, "README.md"), "utf8");
  const names = [...readme.matchAll(/`npm run shell -- scripts\/([a-z0-9-]+)\.ts[^`]*`/g)].map(
    (m) => m[1] as string,
  );
  return [...new Set(names)].sort();
}

let dataDir: ReturnType<typeof scratch>;

beforeAll(async () => {
  // A stack description is all `npm run shell` reads; --help touches no server.
  dataDir = scratch("scripts-shell-");
  const keyFile = join(dataDir.dir, "signing-key.asc");
  const key = await generateSigningKey({ name: "Test", email: "test@example.org" });
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  const stack: StackFile = {
    stage: "local",
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    endpoints: {
      dynamodb: "http://127.0.0.1:1",
      s3: "http://127.0.0.1:1",
      lambda: "http://127.0.0.1:1",
    },
    tables: { packages: "p", publisherState: "s" },
    bucket: "b",
    rebuildFunction: "r",
    repoUrl: "http://127.0.0.1:1/b",
    publicKey: { gpg: join(dataDir.dir, "k.gpg"), asc: join(dataDir.dir, "k.asc") },
    signingKeyFile: keyFile,
    pid: process.pid,
  };
  await writeFile(join(dataDir.dir, "stack.json"), JSON.stringify(stack));
});

afterAll(() => dataDir?.cleanup());

function shell(args: readonly string[]) {
  return spawnSync("npm", ["run", "--silent", "shell", "--", ...args], {
    cwd: PROJECT_ROOT,
    encoding: "utf8",
    env: { ...process.env, KIRO_APT_DATA_DIR: dataDir.dir, LOG_FORMAT: "json" },
  });
}

describe("scripts/", () => {
  const names = readmeScripts();

  it("the README names scripts, and scripts/ holds exactly those, as links to the one copy", () => {
    expect(names.length).toBeGreaterThanOrEqual(3);
    const dir = join(PROJECT_ROOT, "scripts");
    const entries = readdirSync(dir).sort();
    expect(entries).toEqual(names.map((n) => `${n}.ts`));
    for (const entry of entries) {
      const path = join(dir, entry);
      expect(lstatSync(path).isSymbolicLink(), entry).toBe(true);
      expect(readlinkSync(path)).toBe(`../packages/scripts/src/${entry}`);
      const target = join(PROJECT_ROOT, "packages/scripts/src", entry);
      accessSync(target, constants.X_OK);
      expect(readFileSync(target, "utf8").split("\n")[0], entry).toBe(SHEBANG);
    }
  });

  it("build-kiro-repo refuses a --stage that is not the shell's", () => {
    const out = shell(["scripts/build-kiro-repo.ts", "--stage", "prod", "--dry-run"]);
    expect(out.status).toBe(2);
    expect(out.stderr).toContain("--stage prod is not the stage this shell points at (local)");
  });

  for (const name of names) {
    it(`npm run shell -- scripts/${name}.ts --help`, () => {
      const out = shell([`scripts/${name}.ts`, "--help"]);
      expect(out.stderr).toBe("");
      expect(out.status).toBe(0);
      expect(out.stdout).toMatch(/^Usage: /);
      expect(out.stdout).toContain(`sst shell --stage <stage> scripts/${name}.ts`);
      expect(out.stdout).toContain(`npm run shell -- scripts/${name}.ts`);
    });

    it(`npm run shell -- scripts/${name}.ts with an unknown flag exits 2 with the help`, () => {
      const out = shell([`scripts/${name}.ts`, "--no-such-flag"]);
      expect(out.status).toBe(2);
      expect(out.stderr).toContain("--no-such-flag");
      expect(out.stderr).toContain("Usage: ");
    });
  }
});
