// What the operator scripts share: numbered steps that name themselves when they fail, the
// project root, the stage from SST's links, and the exit-code convention (0 ok, 1 a step
// failed, 2 bad usage).
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { Logger } from "@app/core/log";
import { Resource } from "sst";

/** The repository root (config/ lives there), independent of the working directory. */
export const PROJECT_ROOT = resolve(import.meta.dirname, "../../..");

/**
 * Whether the module at `url` is the program being run. Compared through realpath: run as
 * `scripts/<name>.ts` (a symlink), argv[1] names the link while import.meta.url names the target.
 */
export function isMain(url: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(url));
  } catch {
    return false;
  }
}

/** A step that failed: `step` is its name, as logged when it started. */
export class StepError extends Error {
  constructor(
    readonly step: string,
    cause: unknown,
  ) {
    super(`step "${step}" failed: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = "StepError";
  }
}

/** Bad command-line usage (exit code 2, help shown). */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Runs named steps in order, logging "step i/n: name"; a throw becomes a StepError. */
export function stepper(logger: Logger, names: readonly string[]) {
  return async function step<T>(name: string, run: () => Promise<T> | T): Promise<T> {
    const index = names.indexOf(name);
    if (index < 0) throw new Error(`unknown step ${name}`);
    logger.info(`step ${index + 1}/${names.length}: ${name}`);
    try {
      return await run();
    } catch (error) {
      throw error instanceof StepError ? error : new StepError(name, error);
    }
  };
}

/** node:util parseArgs, strict, with its errors as UsageError. */
export function parseCommandLine<O extends NonNullable<ParseArgsConfig["options"]>>(
  argv: readonly string[],
  options: O,
) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** The stage: --stage, else the one SST's links name (sst shell and the local wrapper set it). */
export function stageOf(explicit: string | undefined): string {
  if (explicit !== undefined) return explicit;
  if ("App" in Resource) return Resource.App.stage;
  throw new UsageError("no stage: run through `sst shell` (or `npm run shell`) or pass --stage");
}

/**
 * Runs a script's main and exits: 0 on success, 2 on bad usage (with the help text), 1 for a
 * failed step (named) or anything else.
 */
export function runScript(
  help: string,
  main: (argv: readonly string[]) => Promise<number>,
  argv: readonly string[] = process.argv.slice(2),
): void {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(help);
    process.exit(0);
  }
  main(argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        process.stderr.write(`${error.message}\n\n${help}`);
        process.exit(2);
      }
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}

/** A bytes value as the summary a person reads: its length, never its content. */
export function describeContent(content: string | Uint8Array): string {
  const size = typeof content === "string" ? Buffer.byteLength(content) : content.length;
  return `${size} bytes`;
}

/** What a long loop reports to: one tick per item done. */
export interface Progress {
  tick(count?: number): void;
  /** The final line (the bar's last state, or a last log line). */
  done(): void;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** How a count reads: items as they are, bytes in MiB. */
export type ProgressUnit = "items" | "bytes";

const MIB = 1024 * 1024;
const amount = (n: number, unit: ProgressUnit) =>
  unit === "bytes" ? (n / MIB).toFixed(1) : `${n}`;
const ofUnit = (unit: ProgressUnit) => (unit === "bytes" ? " MiB" : "");

/** `label [#####-----] 12/40 30% 2.1/s ETA 13s`: the bar a terminal shows (width in columns). */
export function progressBar(
  label: string,
  done: number,
  total: number,
  elapsedMs: number,
  width = 24,
  unit: ProgressUnit = "items",
): string {
  const ratio = total === 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? Math.max(0, total - done) / rate : Number.POSITIVE_INFINITY;
  const perSecond = unit === "bytes" ? (rate / MIB).toFixed(1) : rate.toFixed(1);
  return `${label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${amount(done, unit)}/${amount(total, unit)}${ofUnit(unit)} ${Math.round(ratio * 100)}% ${perSecond}${ofUnit(unit)}/s${done < total ? ` ETA ${formatSeconds(eta)}` : ` in ${formatSeconds(elapsedMs / 1000)}`}`;
}

/**
 * Progress of `total` items: a bar redrawn in place on a terminal (on stderr: stdout carries
 * the logs and results), plain log lines with counts and rate otherwise, every `every` items or
 * `intervalMs`, whichever comes first, and once at the end.
 */
export function progress(
  logger: Logger,
  label: string,
  total: number,
  options: {
    readonly stream?: NodeJS.WriteStream;
    readonly every?: number;
    readonly intervalMs?: number;
    readonly now?: () => number;
    /** "bytes": counts shown in MiB (default "items"). */
    readonly unit?: ProgressUnit;
  } = {},
): Progress {
  const unit = options.unit ?? "items";
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true;
  const every = options.every ?? Math.max(1, Math.ceil(total / 20));
  const intervalMs = options.intervalMs ?? 10_000;
  const start = now();
  let done = 0;
  let lastLine = start;
  let lastDrawn = -1;
  let lastCount = 0;
  const draw = () => {
    // Return to the line's start after drawing: a log line then overwrites the bar.
    stream.write(`\r\x1b[K${progressBar(label, done, total, now() - start, 24, unit)}\r`);
    lastDrawn = now();
  };
  const line = () => {
    const elapsed = now() - start;
    const rate = elapsed > 0 ? done / (elapsed / 1000) : 0;
    logger.info(
      { progress: label, done, total, unit, perSecond: Number(rate.toFixed(2)) },
      `${label}: ${amount(done, unit)}/${amount(total, unit)}${ofUnit(unit)} (${total === 0 ? 100 : Math.min(100, Math.round((done / total) * 100))}%), ${unit === "bytes" ? (rate / MIB).toFixed(1) : rate.toFixed(1)}${ofUnit(unit)}/s`,
    );
    lastLine = now();
    lastCount = done;
  };
  return {
    tick(count = 1) {
      done += count;
      if (tty) {
        if (now() - lastDrawn >= 100 || done >= total) draw();
      } else if (done - lastCount >= every || now() - lastLine >= intervalMs) {
        line();
      }
    },
    done() {
      if (tty) {
        draw();
        stream.write("\n");
      } else if (done !== lastCount || done === 0) {
        line();
      }
    },
  };
}
