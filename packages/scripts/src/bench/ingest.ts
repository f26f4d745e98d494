// `npm run bench -- --ingest [--size-mb N] [--runs N]`: streaming ingestion of one large .deb
// (default 300 MB, random content, built by dpkg-deb) into the local components, compared with
// `sha256sum` plus a local `cp` of the same file on the same disk, in the same run.
//
// What production looks like, and so what is measured: the S3 server (s3rver with our atomic
// store) runs in a process of its own and DynamoDB Local in its JVM, so neither one's memory or
// CPU is counted as the ingester's; the ingester is the import path bundled by esbuild and run
// by plain `node` (as a Lambda runs its bundle), in a fresh process per run, whose peak RSS is
// its own `maxRSS`. Runs alternate with the baseline so both see the same load; medians are
// reported. Targets: peak RSS under 150 MB, time within 2x of the baseline.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { ensureTable } from "@app/core/store";
import { scratch } from "@app/core/testing";
import { DeleteItemCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from "../local/dynamodb-local";
import { freePort } from "../local/ports";
import { LOCAL_S3_ENV, localS3ClientConfig } from "../local/s3-local";
import { median, onCleanup, progress } from "./proc";

const ROOT = resolve(import.meta.dirname, "../../../..");
const NODE = join(ROOT, "node_modules/.bin/node");
const RSS_TARGET_MB = 150;
const RATIO_TARGET = 2;
const BUCKET = "repo";
const TABLE = "packages";

export interface ChildResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly maxRssKb: number;
  readonly outcome: string;
  /** Seconds from the start to the end of the upload to staging (upload mode). */
  readonly uploadedAt?: number;
}

/** Wall and CPU (user + system) seconds of one command, timed by bash. */
function timed(command: string, args: string[]): { seconds: number; cpu: number } {
  const started = performance.now();
  const out = execFileSync(
    "bash",
    ["-c", 'TIMEFORMAT="%U %S"; { time "$@" > /dev/null; } 2>&1', "timed", command, ...args],
    { encoding: "utf8" },
  );
  const seconds = (performance.now() - started) / 1000;
  const [user = 0, system = 0] = out.trim().split("\n").pop()?.split(" ").map(Number) ?? [];
  return { seconds, cpu: user + system };
}

/** CPU seconds (user + system) a process has used so far (Linux). */
function cpuOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function child(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<ChildResult> {
  return new Promise((done, fail) => {
    const proc = spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    proc.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    proc.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    proc.on("close", (code) => {
      if (code !== 0) fail(new Error(`ingest child failed (${code}): ${err}`));
      else done(JSON.parse(out.trim().split("\n").pop() ?? "{}") as ChildResult);
    });
  });
}

/** The S3 server in its own process; resolves once it listens. */
async function startS3Process(
  directory: string,
): Promise<{ endpoint: string; pid: number; stop: () => Promise<void> }> {
  const port = await freePort();
  const proc: ChildProcess = spawn(
    NODE,
    ["--import", "tsx", "packages/scripts/src/bench/s3-server.ts", String(port), directory, BUCKET],
    { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const stop = async () => {
    if (proc.exitCode === null) {
      proc.stdin?.end();
      proc.kill("SIGTERM");
    }
    await exited;
  };
  const endpoint = await new Promise<string>((done, fail) => {
    const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => done((JSON.parse(line) as { endpoint: string }).endpoint));
    proc.once("exit", (code) => fail(new Error(`the S3 server exited (${code}) before listening`)));
  });
  return { endpoint, pid: proc.pid as number, stop };
}

/** The ingester as production runs it: one esbuild bundle, plain node. */
function bundleIngester(outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, "ingest-child.mjs");
  execFileSync(
    join(ROOT, "node_modules/esbuild/bin/esbuild"),
    [
      "packages/scripts/src/bench/ingest-child.ts",
      "--bundle",
      "--platform=node",
      "--format=esm",
      "--target=node22",
      // A native module: loaded from node_modules at run time, as in a Lambda layer.
      "--external:@napi-rs/lzma",
      `--outfile=${out}`,
      "--log-level=warning",
      "--banner:js=import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);",
    ],
    { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
  );
  return out;
}

function buildDeb(dir: string, sizeMb: number): string {
  const tree = join(dir, "tree");
  mkdirSync(join(tree, "DEBIAN"), { recursive: true });
  mkdirSync(join(tree, "usr/share/kiro"), { recursive: true });
  writeFileSync(
    join(tree, "DEBIAN/control"),
    [
      "Package: kiro",
      "Version: 99.0.0",
      "Architecture: amd64",
      "Maintainer: Kiro Team <support@kiro.dev>",
      "Description: benchmark package",
      " Random bytes, as incompressible as an IDE.",
      "",
    ].join("\n"),
  );
  execFileSync("sh", [
    "-c",
    `head -c ${sizeMb}M /dev/urandom > "${join(tree, "usr/share/kiro/blob")}"`,
  ]);
  const deb = join(dir, "kiro_99.0.0_amd64.deb");
  execFileSync("dpkg-deb", ["--root-owner-group", "-Znone", "--build", tree, deb], {
    stdio: "ignore",
  });
  rmSync(tree, { recursive: true, force: true });
  return deb;
}

const mb = (kb: number) => `${(kb / 1024).toFixed(0)} MB`;
const s = (x: number) => `${x.toFixed(2)} s`;
const range = (xs: readonly number[], f: (x: number) => string) =>
  `${f(Math.min(...xs))}–${f(Math.max(...xs))}`;

export async function benchIngest(sizeMb: number, runs = 5): Promise<number> {
  const work = scratch("bench-ingest-");
  const undoWork = onCleanup(async () => work.cleanup());
  try {
    const deb = buildDeb(work.dir, sizeMb);
    const bytes = statSync(deb).size;
    progress(`ingest bench: ${(bytes / 1e6).toFixed(0)} MB .deb built`);
    const ddb = await startDynamoDbLocal({ port: await freePort() });
    const undoDdb = onCleanup(() => ddb.stop());
    const s3dir = join(work.dir, "s3");
    mkdirSync(s3dir);
    const s3server = await startS3Process(s3dir);
    const undoS3 = onCleanup(() => s3server.stop());
    try {
      const dynamo = new DynamoDBClient({
        endpoint: ddb.endpoint,
        region: LOCAL_REGION,
        credentials: LOCAL_CREDENTIALS,
      });
      const s3 = new S3Client(localS3ClientConfig(s3server.endpoint));
      await ensureTable(dynamo, TABLE);
      // Inside the repository, so the bundle's one external (a native module) resolves.
      const ingester = bundleIngester(join(ROOT, ".local/bench"));
      const env = {
        ...process.env,
        AWS_ENDPOINT_URL_DYNAMODB: ddb.endpoint,
        AWS_ENDPOINT_URL_S3: s3server.endpoint,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        AWS_REGION: LOCAL_REGION,
        ...LOCAL_S3_ENV,
      };
      const ours = (mode: string) => child(NODE, [ingester, ROOT, deb, TABLE, BUCKET, mode], env);
      const load = [loadavg()[0] as number];
      const idle = await ours("idle");
      const tsxIdle = await child(
        NODE,
        [
          "--import",
          "tsx",
          "packages/scripts/src/bench/ingest-child.ts",
          ROOT,
          deb,
          TABLE,
          BUCKET,
          "idle",
        ],
        env,
      );
      const sha: { seconds: number; cpu: number }[] = [];
      const cp: { seconds: number; cpu: number }[] = [];
      const dry: ChildResult[] = [];
      const up: ChildResult[] = [];
      const server: number[] = [];
      for (let i = 0; i < runs; i++) {
        // Both sides start alike: the previous run's writes flushed (else the copy waits on
        // them), the file in the page cache.
        execFileSync("sync");
        timed("cat", [deb]);
        const hashed = timed("sha256sum", [deb]);
        sha.push(hashed);
        const copy = join(work.dir, "copy.deb");
        const copied = timed("cp", [deb, copy]);
        cp.push(copied);
        rmSync(copy);
        dry.push(await ours("dry-run"));
        execFileSync("sync");
        const before = cpuOf(s3server.pid);
        const result = await ours("upload");
        server.push(cpuOf(s3server.pid) - before);
        if (result.outcome !== "created") throw new Error(`run ${i + 1}: ${result.outcome}`);
        up.push(result);
        // The next run creates the same package again.
        await dynamo.send(
          new DeleteItemCommand({
            TableName: TABLE,
            Key: { package_id: { S: "kiro#99.0.0#amd64" } },
          }),
        );
        await s3.send(
          new DeleteObjectCommand({
            Bucket: BUCKET,
            Key: "pool/main/k/kiro/kiro_99.0.0_amd64.deb",
          }),
        );
        progress(
          `run ${i + 1}/${runs}: sha256sum ${s(hashed.seconds)} + cp ${s(copied.seconds)}; ours ${s(result.seconds)} (${s(result.cpuSeconds)} CPU), ${mb(result.maxRssKb)}`,
        );
      }
      load.push(loadavg()[0] as number);
      const wall = (xs: readonly { seconds: number }[]) => xs.map((x) => x.seconds);
      const baseline = sha.map((x, i) => x.seconds + (cp[i] as { seconds: number }).seconds);
      const baselineCpu = sha.map((x, i) => x.cpu + (cp[i] as { cpu: number }).cpu);
      const ratios = up.map((r, i) => r.seconds / (baseline[i] as number));
      const rss = up.map((r) => r.maxRssKb);
      const seconds = wall(up);
      const cpu = up.map((r) => r.cpuSeconds);
      const uploaded = up.flatMap((r) => (r.uploadedAt === undefined ? [] : [r.uploadedAt]));
      const ratio = median(ratios);
      const peakMb = Math.max(...rss) / 1024;
      const dryWall = median(wall(dry));
      const rows: [string, string][] = [
        ["file", `${(bytes / 1e6).toFixed(0)} MB; ${runs} runs, medians (min–max)`],
        [
          "machine",
          `${cpus().length} cores, load average ${load.map((l) => l.toFixed(1)).join(" → ")} (shared: wall times vary with it; CPU seconds much less)`,
        ],
        ["sha256sum", `${s(median(wall(sha)))} (${range(wall(sha), s)})`],
        ["cp (local copy, same disk)", `${s(median(wall(cp)))} (${range(wall(cp), s)})`],
        [
          "baseline (sha256sum + cp)",
          `${s(median(baseline))} (${range(baseline, s)}), CPU ${s(median(baselineCpu))}`,
        ],
        [
          "ours: file → 4 hashes + control + multipart upload → CopyObject → record",
          `${s(median(seconds))} (${range(seconds, s)}), ${(bytes / 1e6 / median(seconds)).toFixed(0)} MB/s`,
        ],
        ["  until the staging upload was complete", s(median(uploaded))],
        [
          "ours / baseline (per run)",
          `${ratio.toFixed(2)}x (${range(ratios, (x) => `${x.toFixed(2)}x`)}; target ≤ ${RATIO_TARGET}x)`,
        ],
        [
          "  CPU of the ingesting process / baseline CPU",
          `${s(median(cpu))} / ${s(median(baselineCpu))} = ${(median(cpu) / median(baselineCpu)).toFixed(2)}x`,
        ],
        ["  CPU of the S3 server (its own process) per ingestion", s(median(server))],
        [
          "ours, reading only (4 hashes + control; --dry-run, no S3)",
          `${s(dryWall)} (${(dryWall / median(baseline)).toFixed(2)}x), CPU ${s(median(dry.map((d) => d.cpuSeconds)))}, peak RSS ${mb(median(dry.map((d) => d.maxRssKb)))}`,
        ],
        ["the bundle loaded, nothing done: peak RSS", mb(idle.maxRssKb)],
        ["(the same modules under tsx, not bundled: peak RSS)", mb(tsxIdle.maxRssKb)],
        [
          "ours: peak RSS of the ingesting process",
          `${mb(median(rss))} (${range(rss, mb)}; target < ${RSS_TARGET_MB} MB)`,
        ],
      ];
      for (const [k, v] of rows) process.stdout.write(`${k.padEnd(74)} ${v}\n`);
      process.stdout.write(
        `peak RSS target ${peakMb < RSS_TARGET_MB ? "met" : "NOT met"}; time target ${ratio <= RATIO_TARGET ? "met" : "NOT met"}\n`,
      );
      return 0;
    } finally {
      await undoS3();
      await undoDdb();
    }
  } finally {
    await undoWork();
  }
}
