// Test support shared by every package's tests: running Debian's tools as oracles and
// scratch directories. Oracle tests never skip: a missing tool is a failure (CI installs them).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RunResult {
  readonly status: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion; throws if it cannot be started (e.g. not installed). */
export function run(
  command: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): RunResult {
  const result = spawnSync(command, args, {
    input: options.input,
    cwd: options.cwd,
    env: options.env ?? process.env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) {
    throw new Error(`cannot run ${command}: ${result.error.message} (is it installed?)`);
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Runs a program and throws with its output unless it exits 0. */
export function runOk(
  command: string,
  args: readonly string[],
  options: Parameters<typeof run>[2] = {},
): RunResult {
  const result = run(command, args, options);
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.status}\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

/** A fresh temporary directory and a function that removes it. */
export function scratch(prefix = "kiro-apt-"): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Like run, but without blocking the event loop: needed whenever the program talks to a server
 * running in this process (s3rver in tests), which a blocked loop could not answer.
 */
export function runAsync(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    child.on("error", (error) =>
      reject(new Error(`cannot run ${command}: ${error.message} (is it installed?)`)),
    );
    child.on("close", (code) => resolvePromise({ status: code ?? -1, stdout, stderr }));
  });
}
