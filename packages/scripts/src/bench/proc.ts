// Runs the other tools (aptly, reprepro) and times them. A failure names the command and
// quotes the end of what it wrote.
import { spawn } from "node:child_process";

export interface Ran {
  readonly ms: number;
  readonly stdout: string;
  readonly stderr: string;
}

const tail = (text: string, limit = 2000): string =>
  text.length > limit ? `…${text.slice(-limit)}` : text;

/** Runs `command args` to completion; rejects on a non-zero exit. Output is kept (tails). */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout = (stdout + chunk.toString("utf8")).slice(-20_000);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString("utf8")).slice(-20_000);
    });
    child.on("error", (error) => reject(new Error(`${command}: ${error.message}`)));
    child.on("close", (code, signal) => {
      const ms = performance.now() - start;
      if (code === 0) resolve({ ms, stdout, stderr });
      else {
        const shown = args.length > 8 ? [...args.slice(0, 8), `… (${args.length} args)`] : args;
        reject(
          new Error(
            `${command} ${shown.join(" ")} failed (${signal ?? `exit ${code}`}):\n${tail(stderr || stdout)}`,
          ),
        );
      }
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Milliseconds to one decimal. */
export const round = (ms: number): number => Math.round(ms * 10) / 10;

/** Progress on stderr, so stdout stays the report. */
export function progress(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[${t}] ${message}\n`);
}

const cleanups = new Set<() => Promise<void>>();
const running = new Set<Promise<void>>();

/**
 * Registers something to undo (a server to stop, a directory to remove) if the benchmark is
 * interrupted; the returned function runs it now and unregisters it.
 */
export function onCleanup(undo: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = (): Promise<void> => {
    cleanups.delete(once);
    if (done === undefined) {
      done = undo().catch((error: unknown) => {
        process.stderr.write(`cleanup failed: ${(error as Error).message}\n`);
      });
      const settled = done;
      running.add(settled);
      void settled.finally(() => running.delete(settled));
    }
    return done;
  };
  cleanups.add(once);
  return once;
}

/** Runs every registered cleanup, newest first, and waits for those already under way. */
export async function cleanupAll(): Promise<void> {
  for (const undo of [...cleanups].reverse()) await undo();
  await Promise.all([...running]);
}
