// `npm run bench`: how our publisher compares with aptly and reprepro on the same packages.
// A benchmark, not a test: it prints measurements and ratios, and fails only if it cannot run.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSigningKey, loadSigningKeys } from "@app/core/signing";
import * as v from "valibot";
import { type AptlyResult, benchAptly } from "./aptly";
import { debName, debOf, extraRecord, linkDebs, writeFixtureDebs } from "./fixtures";
import { benchOurs } from "./ours";
import { cleanupAll, onCleanup, progress, run } from "./proc";
import { type BenchResults, evaluateTargets, renderReport, writeResults } from "./report";
import { benchReprepro, type RepreproResult } from "./reprepro";

const HELP = `Usage: npm run bench -- [--quick] [--sizes 1000,10000,50000] [--tools-max N] [--out DIR]
       npm run bench -- --ingest [--size-mb 300] [--runs 5]   (streaming ingestion of one large .deb)

Measures, for each size N, our publisher on the local stack (DynamoDB Local + s3rver, started
and stopped here): loading N records, a full rebuild, a one-record publication (direct and end
to end through the stream poller) with its DynamoDB and S3 requests; and, on N generated .debs
with the same control fields, aptly (repo add + publish; then repo add 1 + publish update) and
reprepro (includedeb + export; then includedeb 1 + export). Prints a table, the ratios and
targets, and writes the results as JSON to DIR/results-<timestamp>.json.

  --sizes LIST    sizes to measure (default 1000,10000,50000)
  --quick         sizes 1000,10000 (2-3 minutes on 2 cores; the full run takes about 11)
  --tools-max N   run aptly and reprepro only up to N packages (default: every size)
  --out DIR       where the JSON goes (default .local/bench in the repository)
  --help          this text

Exits non-zero only if the benchmark could not run.
`;

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");

const sizeSchema = v.pipe(
  v.string(),
  v.regex(/^\d+$/, "must be a whole number"),
  v.transform(Number),
  v.number(),
  v.minValue(10, "must be at least 10"),
  v.maxValue(500_000, "must be at most 500000"),
);

const argsSchema = v.strictObject({
  sizes: v.optional(
    v.pipe(
      v.string(),
      v.transform((s) => s.split(",").map((x) => x.trim())),
      v.array(sizeSchema),
      v.minLength(1, "needs at least one size"),
    ),
  ),
  quick: v.optional(v.boolean()),
  toolsMax: v.optional(
    v.pipe(v.string(), v.regex(/^\d+$/, "must be a whole number"), v.transform(Number)),
  ),
  out: v.optional(v.pipe(v.string(), v.nonEmpty())),
});

type Args = v.InferOutput<typeof argsSchema>;

function parseArgs(argv: readonly string[]): Args | "help" {
  const raw: Record<string, string | boolean> = {};
  const valued: Record<string, string> = {
    "--sizes": "sizes",
    "--tools-max": "toolsMax",
    "--out": "out",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--quick") raw.quick = true;
    else if (valued[arg] !== undefined) {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      raw[valued[arg] as string] = value;
    } else throw new UsageError(`unknown argument ${arg}`);
  }
  const parsed = v.safeParse(argsSchema, raw);
  if (!parsed.success) {
    throw new UsageError(
      parsed.issues
        .map(
          (i) => `${v.getDotPath(i) ?? "arguments"}: ${i.message} (got ${JSON.stringify(i.input)})`,
        )
        .join("; "),
    );
  }
  return parsed.output;
}

class UsageError extends Error {}

async function toolVersion(command: string, args: string[]): Promise<string | undefined> {
  try {
    const out = await run(command, args);
    const text = (out.stdout || out.stderr).trim();
    return /\d+\.\d+[\w.+~-]*/.exec(text)?.[0] ?? text.split("\n")[0];
  } catch {
    return undefined;
  }
}

async function main(argv: readonly string[]): Promise<number> {
  // The ingestion benchmark is its own run (see ingest.ts).
  if (argv[0] === "--ingest") {
    const option = (name: string, fallback: number): number => {
      const at = argv.indexOf(name);
      if (at < 0) return fallback;
      const value = Number(argv[at + 1]);
      if (!Number.isInteger(value) || value < 1)
        throw new UsageError(`${name} needs a whole number`);
      return value;
    };
    const unknown = argv
      .slice(1)
      .filter(
        (a, i, all) =>
          a.startsWith("--") &&
          a !== "--size-mb" &&
          a !== "--runs" &&
          !["--size-mb", "--runs"].includes(all[i - 1] ?? ""),
      );
    if (unknown.length > 0) throw new UsageError(`unknown argument ${unknown[0]}`);
    return (await import("./ingest")).benchIngest(option("--size-mb", 300), option("--runs", 5));
  }
  let args: Args | "help";
  try {
    args = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${HELP}`);
    return 2;
  }
  if (args === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  const sizes = [
    ...new Set(args.sizes ?? (args.quick ? [1000, 10_000] : [1000, 10_000, 50_000])),
  ].sort((a, b) => a - b);
  const aptlyVersion = await toolVersion("aptly", ["version"]);
  const repreproVersion = await toolVersion("reprepro", ["--version"]);
  const notes: string[] = [];
  const toolsMax = args.toolsMax ?? Math.max(...sizes);
  const toolSizes = sizes.filter((n) => n <= toolsMax);
  if (toolSizes.length < sizes.length) {
    notes.push(
      `aptly and reprepro ran up to ${toolsMax.toLocaleString("en-US")} packages only (--tools-max)`,
    );
  }
  if (aptlyVersion === undefined) notes.push("aptly is not installed: its columns are empty");
  if (repreproVersion === undefined) notes.push("reprepro is not installed: its columns are empty");
  notes.push(
    "fixtures: one version per package (reprepro 5.3 keeps one version per name and architecture); 10% Architecture: all; stanzas of ~0.9-1.1 KB; the one-record change is a new package sorting into the middle of the index",
    "ours writes Packages.gz and Packages.xz (+ by-hash) and signs; aptly runs with -skip-signing -skip-contents -acquire-by-hash and writes Packages, .gz, .bz2 (no .xz by default); reprepro writes Packages, .gz, .xz, unsigned",
    "ours runs against DynamoDB Local and s3rver on this machine: request latencies are local ones (DynamoDB Local is a Java/SQLite emulator, slower per request than DynamoDB; s3rver writes to the local disk)",
    "our one-record samples start at least 1.1 s after the previous publication: the publisher does not write an InRelease within the second of the current one (S3's Last-Modified granularity, writer.ts nextSecondAfter), so a change right after another waits up to 1 s (shown as back-to-back)",
    "DynamoDB counts are requests per operation (one per command sent, retries not counted separately) and items returned; capacity units are DynamoDB Local's ConsumedCapacity, where it returns one",
  );

  const startedAt = new Date().toISOString();
  const results: BenchResults = {
    startedAt,
    environment: {
      cpus: cpus().length,
      cpu: cpus()[0]?.model.trim() ?? "?",
      node: process.version,
      aptly: aptlyVersion ?? "missing",
      reprepro: repreproVersion ?? "missing",
      "load average at start": loadavg()[0]?.toFixed(2) ?? "?",
    },
    options: { sizes, toolSizes, quick: args.quick === true },
    ours: [],
    aptly: [],
    reprepro: [],
    notes,
  };
  const outDir = args.out ? resolve(args.out) : join(REPO_ROOT, ".local", "bench");
  const save = async (): Promise<string> => {
    results.targets = evaluateTargets(results);
    return writeResults(outDir, results);
  };

  const work = await mkdtemp(join(tmpdir(), "bench-"));
  const removeWork = onCleanup(() => rm(work, { recursive: true, force: true }));
  try {
    progress(`sizes ${sizes.join(", ")}; aptly/reprepro at ${toolSizes.join(", ") || "none"}`);
    const key = await generateSigningKey({ name: "Bench Repository", email: "bench@example.org" });
    const keys = await loadSigningKeys(key.privateKeyArmored);

    const debCount = toolSizes.length > 0 ? Math.max(...toolSizes) : 0;
    const debDir = join(work, "debs");
    let debNames: string[] = [];
    if (debCount > 0) {
      progress(`building ${debCount.toLocaleString("en-US")} .debs for aptly and reprepro`);
      const start = performance.now();
      debNames = await writeFixtureDebs(debDir, 0, debCount, (done) => {
        if (done % 5000 === 0) progress(`  ${done}/${debCount} .debs`);
      });
      const ms = performance.now() - start;
      results.debs = { count: debCount, ms: Math.round(ms), perDebMs: ms / debCount };
      progress(`  built in ${(ms / 1000).toFixed(1)} s`);
    }

    for (const n of sizes) {
      progress(`N = ${n.toLocaleString("en-US")}: ours`);
      results.ours.push(await benchOurs(n, keys));
      if (toolSizes.includes(n)) {
        const sizeDir = join(work, `n${n}`);
        await mkdir(sizeDir, { recursive: true });
        const extraDebs: string[] = [];
        for (let k = 0; k < 3; k++) {
          const record = extraRecord(n, k);
          const path = join(sizeDir, debName(record));
          await writeFile(path, debOf(record));
          extraDebs.push(path);
        }
        const names = debNames.slice(0, n);
        if (aptlyVersion !== undefined) {
          progress(`N = ${n.toLocaleString("en-US")}: aptly`);
          const set = join(sizeDir, "set");
          await linkDebs(debDir, names, set);
          const a: AptlyResult = await benchAptly({ n, work: sizeDir, debDir: set, extraDebs });
          results.aptly.push(a);
          progress(
            `  aptly: add ${(a.repoAddMs / 1000).toFixed(1)} s, publish ${(a.publishMs / 1000).toFixed(1)} s, one more ${a.oneRecord.totalMs.toFixed(0)} ms`,
          );
        }
        if (repreproVersion !== undefined) {
          progress(`N = ${n.toLocaleString("en-US")}: reprepro`);
          const r: RepreproResult = await benchReprepro({
            n,
            work: sizeDir,
            debs: names.map((name) => join(debDir, name)),
            extraDebs,
          });
          results.reprepro.push(r);
          progress(
            `  reprepro: includedeb ${(r.includeMs / 1000).toFixed(1)} s, export ${(r.exportMs / 1000).toFixed(1)} s, one more ${r.oneRecord.totalMs.toFixed(0)} ms`,
          );
        }
        await rm(sizeDir, { recursive: true, force: true });
      }
      await save(); // partial results survive a later failure
    }
    results.finishedAt = new Date().toISOString();
    results.environment["load average at end"] = loadavg()[0]?.toFixed(2) ?? "?";
    const file = await save();
    process.stdout.write(`${renderReport(results)}\n\nResults: ${file}\n`);
    return 0;
  } finally {
    await removeWork();
    await cleanupAll();
  }
}

// `on`, not `once`: tsx relays a signal it got itself to this process a second time, and its
// own hidden handler exits at once when no listener is left, before the cleanup is done.
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    progress(`${signal}: stopping the servers and removing temporary files`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  async (error: unknown) => {
    await cleanupAll();
    if (interrupted) return; // the signal handler exits once cleaned up
    process.stderr.write(`bench: could not run: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
