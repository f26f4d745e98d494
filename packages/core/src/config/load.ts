// Loads and validates the config files. Every problem in every file is collected before
// anything is thrown, so one run shows the operator all there is to fix; each names the file,
// the field (dotted path) and the rule.
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, isAbsolute, join, relative } from "node:path";
import * as v from "valibot";
import { LineCounter, parseDocument } from "yaml";
import { isValidPackageName } from "../record/policy";
import { jsonErrorOffset } from "./json-position";
import {
  type PackageConfig,
  packageConfigSchema,
  packageWarnings,
  type StageConfig,
  stageConfigSchema,
  stageNameSchema,
  stageWarnings,
} from "./schema";

export const CONFIG_EXTENSIONS = [".yaml", ".yml", ".json"] as const;

export interface ConfigProblem {
  /** The file, relative to the base directory when inside it. */
  readonly file: string;
  /** Dotted field path (`source.metadata_url`), absent for the file as a whole. */
  readonly path?: string;
  /** 1-based line (and column) in the file, when known. */
  readonly line?: number;
  readonly column?: number;
  readonly message: string;
}

/** `file: path: message (line n)`: the file and field first, so it greps well. */
export function formatProblem(p: ConfigProblem): string {
  const where = p.path === undefined ? p.file : `${p.file}: ${p.path}`;
  const at =
    p.line === undefined
      ? ""
      : ` (line ${p.line}${p.column === undefined ? "" : `, column ${p.column}`})`;
  return `${where}: ${p.message}${at}`;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    const n = problems.length;
    super(
      `invalid config (${n} problem${n === 1 ? "" : "s"}):\n${problems.map((p) => `  ${formatProblem(p)}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

export interface LoadOptions {
  /** File names in problems are shown relative to this directory (default: the working directory). */
  readonly base?: string;
  /** Called with each warning (allowed but discouraged, e.g. a long synopsis). */
  readonly warn?: (message: string) => void;
}

export interface LoadedConfig {
  readonly stage: StageConfig;
  readonly packages: Map<string, PackageConfig>;
  readonly warnings: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Reading one file

export interface ParsedFile {
  readonly data: unknown;
  /** The line of a dotted path's node, for messages. */
  readonly lineOf: (path: readonly PropertyKey[]) => number | undefined;
}

export type ParseResult = { ok: true; file: ParsedFile } | { ok: false; problems: ConfigProblem[] };

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/** Parses YAML or JSON text; syntax errors name file and line. */
export function parseConfigText(text: string, file: string, extension: string): ParseResult {
  const counter = new LineCounter();
  // YAML 1.2 (core schema): `yes`/`no` stay strings. Duplicate keys are errors in both formats.
  const doc = parseDocument(text, {
    lineCounter: counter,
    prettyErrors: false,
    uniqueKeys: true,
    version: "1.2",
  });
  const problems: ConfigProblem[] = [];
  let data: unknown;
  if (extension === ".json") {
    try {
      data = JSON.parse(text);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const offset = jsonErrorOffset(text);
      problems.push({
        file,
        message: `JSON syntax: ${message.replace(/ in JSON at position.*$/, "").replace(/, ".*" is not valid JSON$/s, "")}`,
        ...(offset === undefined ? {} : lineAndColumn(text, offset)),
      });
      return { ok: false, problems };
    }
    for (const e of doc.errors) {
      if (e.code === "DUPLICATE_KEY") {
        const { line, col } = counter.linePos(e.pos[0]);
        problems.push({ file, line, column: col, message: `JSON: ${e.message.split("\n")[0]}` });
      }
    }
  } else {
    for (const e of [...doc.errors, ...doc.warnings]) {
      const { line, col } = counter.linePos(e.pos[0]);
      problems.push({
        file,
        line,
        column: col,
        message: `YAML syntax: ${e.message.split("\n")[0]}`,
      });
    }
    if (problems.length === 0) data = doc.toJS({ maxAliasCount: 100 });
  }
  if (problems.length > 0) return { ok: false, problems };
  const lineOf = (path: readonly PropertyKey[]) => {
    // The deepest node that exists on the path: a missing key points at its parent.
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as unknown[], true) as
        | { range?: [number, number, number] }
        | undefined;
      if (node && typeof node === "object" && node.range)
        return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { ok: true, file: { data, lineOf } };
}

// YAML turns `version: 1.10` into the number 1.1: say how to keep the text.
function typeHint(issue: v.BaseIssue<unknown>, extension: string): string {
  if (extension === ".json" || issue.expected !== "string") return "";
  return typeof issue.input === "number" || typeof issue.input === "boolean"
    ? ' (quote it in YAML: "…")'
    : "";
}

function validate<const TSchema extends v.GenericSchema>(
  schema: TSchema,
  parsed: ParsedFile,
  file: string,
  extension: string,
): { ok: true; value: v.InferOutput<TSchema> } | { ok: false; problems: ConfigProblem[] } {
  const result = v.safeParse(schema, parsed.data, { abortEarly: false });
  if (result.success) return { ok: true, value: result.output };
  const problems = result.issues.map((issue): ConfigProblem => {
    const path = v.getDotPath(issue) ?? undefined;
    const keys = issue.path?.map((item) => item.key as PropertyKey) ?? [];
    const line = parsed.lineOf(keys);
    return {
      file,
      ...(path !== undefined ? { path } : {}),
      ...(line !== undefined ? { line } : {}),
      message: `${issue.message}${typeHint(issue, extension)}`,
    };
  });
  return { ok: false, problems };
}

// ---------------------------------------------------------------------------------------------
// Directories

function display(path: string, base: string): string {
  const rel = relative(base, path);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? path : rel;
}

async function configFiles(
  dir: string,
  shown: string,
): Promise<{ files: string[]; problems: ConfigProblem[] }> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return {
      files: [],
      problems: [
        { file: shown, message: `cannot read the config directory (${code ?? String(error)})` },
      ],
    };
  }
  const files: string[] = [];
  for (const entry of entries.sort()) {
    if (entry.startsWith(".") || !(CONFIG_EXTENSIONS as readonly string[]).includes(extname(entry)))
      continue;
    if ((await stat(join(dir, entry))).isFile()) files.push(join(dir, entry));
  }
  return { files, problems: [] };
}

interface Collected<T> {
  readonly value?: T;
  readonly problems: ConfigProblem[];
  readonly warnings: string[];
}

async function collectPackages(
  dir: string,
  base: string,
): Promise<Collected<Map<string, PackageConfig>>> {
  const { files, problems } = await configFiles(dir, display(dir, base));
  const warnings: string[] = [];
  const packages = new Map<string, PackageConfig>();
  const byName = new Map<string, string[]>();
  for (const path of files) {
    const ext = extname(path);
    const name = basename(path, ext);
    byName.set(name, [...(byName.get(name) ?? []), display(path, base)]);
  }
  for (const [name, shown] of byName) {
    if (shown.length > 1) {
      for (const file of shown) {
        problems.push({
          file,
          message: `package ${name} is defined more than once (${shown.join(", ")}); keep one file`,
        });
      }
    }
  }
  for (const path of files) {
    const ext = extname(path);
    const name = basename(path, ext);
    const file = display(path, base);
    if (!isValidPackageName(name)) {
      problems.push({
        file,
        message: `file name must be <package name>${ext}, and ${JSON.stringify(name)} is not a Debian package name`,
      });
    }
    const parsed = parseConfigText(await readFile(path, "utf8"), file, ext);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const data = parsed.file.data;
    const declared =
      typeof data === "object" && data !== null ? (data as { name?: unknown }).name : undefined;
    if (typeof declared === "string" && declared !== name) {
      const line = parsed.file.lineOf(["name"]);
      problems.push({
        file,
        path: "name",
        ...(line !== undefined ? { line } : {}),
        message: `must equal the file's base name (${JSON.stringify(name)}), is ${JSON.stringify(declared)}`,
      });
    }
    const result = validate(packageConfigSchema, parsed.file, file, ext);
    if (!result.ok) {
      problems.push(...result.problems);
      continue;
    }
    for (const w of packageWarnings(result.value))
      warnings.push(formatProblem({ file, path: w.path, message: w.message }));
    if (!packages.has(name) && result.value.name === name) packages.set(name, result.value);
  }
  return problems.length > 0 ? { problems, warnings } : { value: packages, problems, warnings };
}

async function collectStage(
  dir: string,
  stage: string,
  base: string,
): Promise<Collected<StageConfig>> {
  const shownDir = display(dir, base);
  if (!v.is(stageNameSchema, stage)) {
    return {
      problems: [
        {
          file: shownDir,
          message: `stage ${JSON.stringify(stage)} is not a stage name (lowercase letters, digits, -)`,
        },
      ],
      warnings: [],
    };
  }
  const { files, problems } = await configFiles(dir, shownDir);
  if (problems.length > 0) return { problems, warnings: [] };
  const matching = files.filter((f) => basename(f, extname(f)) === stage);
  if (matching.length !== 1) {
    const known = [...new Set(files.map((f) => basename(f, extname(f))))].join(", ") || "none";
    const message =
      matching.length === 0
        ? `no config for stage ${JSON.stringify(stage)} (known stages: ${known})`
        : `stage ${stage} is defined more than once (${matching.map((f) => display(f, base)).join(", ")}); keep one file`;
    return { problems: [{ file: shownDir, message }], warnings: [] };
  }
  const path = matching[0] as string;
  const ext = extname(path);
  const file = display(path, base);
  const parsed = parseConfigText(await readFile(path, "utf8"), file, ext);
  if (!parsed.ok) return { problems: parsed.problems, warnings: [] };
  const stageProblems: ConfigProblem[] = [];
  const declared = (parsed.file.data as { stage?: unknown } | null)?.stage;
  if (typeof declared === "string" && declared !== stage) {
    const line = parsed.file.lineOf(["stage"]);
    stageProblems.push({
      file,
      path: "stage",
      ...(line !== undefined ? { line } : {}),
      message: `must equal the file's base name (${JSON.stringify(stage)}), is ${JSON.stringify(declared)}`,
    });
  }
  const result = validate(stageConfigSchema, parsed.file, file, ext);
  if (!result.ok) return { problems: [...stageProblems, ...result.problems], warnings: [] };
  if (stageProblems.length > 0) return { problems: stageProblems, warnings: [] };
  const warnings = stageWarnings(result.value).map((w) =>
    formatProblem({ file, path: w.path, message: w.message }),
  );
  return { value: result.value, problems: [], warnings };
}

// ---------------------------------------------------------------------------------------------
// Public loaders

/** Every `<name>.{yaml,yml,json}` in `dir`, keyed by package name. Throws a ConfigError. */
export async function loadPackageConfigs(
  dir: string,
  options: LoadOptions = {},
): Promise<Map<string, PackageConfig>> {
  const collected = await collectPackages(dir, options.base ?? process.cwd());
  for (const w of collected.warnings) options.warn?.(w);
  if (!collected.value) throw new ConfigError(collected.problems);
  return collected.value;
}

/** `dir/<stage>.{yaml,yml,json}`. Throws a ConfigError. */
export async function loadStageConfig(
  dir: string,
  stage: string,
  options: LoadOptions = {},
): Promise<StageConfig> {
  const collected = await collectStage(dir, stage, options.base ?? process.cwd());
  for (const w of collected.warnings) options.warn?.(w);
  if (!collected.value) throw new ConfigError(collected.problems);
  return collected.value;
}

/**
 * The stage and every package, from `<rootDir>/config/{stages,packages}` (rootDir is the
 * project root; files are named relative to it). Problems of both are thrown together.
 */
export async function loadConfig(
  rootDir: string,
  stage: string,
  options: Omit<LoadOptions, "base"> = {},
): Promise<LoadedConfig> {
  const [stageResult, packageResult] = await Promise.all([
    collectStage(join(rootDir, "config", "stages"), stage, rootDir),
    collectPackages(join(rootDir, "config", "packages"), rootDir),
  ]);
  const warnings = [...stageResult.warnings, ...packageResult.warnings];
  for (const w of warnings) options.warn?.(w);
  if (!stageResult.value || !packageResult.value) {
    throw new ConfigError([...stageResult.problems, ...packageResult.problems]);
  }
  return { stage: stageResult.value, packages: packageResult.value, warnings };
}
