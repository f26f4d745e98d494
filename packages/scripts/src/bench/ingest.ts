// `npm run bench -- --ingest [--size-mb N]`: streaming ingestion of one large .deb (default
// 300 MB, random content, built by dpkg-deb) into the local components (DynamoDB Local,
// s3rver), in a child process whose peak RSS is measured; compared with `sha256sum` plus a local
// `cp` of the same file. Targets: peak RSS under 150 MB, time within 2x of the baseline.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { scratch } from "@app/core/testing";
import { startWorld } from "../integration/world";

const ROOT = resolve(import.meta.dirname, "../../../..");
const RSS_TARGET_MB = 150;
const RATIO_TARGET = 2;

function timed(command: string, args: string[]): number {
  const started = performance.now();
  execFileSync(command, args, { stdio: "ignore" });
  return (performance.now() - started) / 1000;
}

function child(args: string[]): Promise<{ seconds: number; maxRssKb: number; outcome: string }> {
  return new Promise((done, fail) => {
    const proc = spawn(join(ROOT, "node_modules/.bin/tsx"), args, {
      cwd: ROOT,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
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
      else done(JSON.parse(out.trim().split("\n").pop() ?? "{}"));
    });
  });
}

export async function benchIngest(sizeMb: number): Promise<number> {
  const work = scratch("bench-ingest-");
  const world = await startWorld();
  try {
    const tree = join(work.dir, "tree");
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
    const deb = join(work.dir, "kiro_99.0.0_amd64.deb");
    execFileSync("dpkg-deb", ["--root-owner-group", "-Znone", "--build", tree, deb], {
      stdio: "ignore",
    });
    const bytes = statSync(deb).size;
    process.stderr.write(`ingest bench: ${(bytes / 1e6).toFixed(0)} MB .deb built\n`);

    // Warm the page cache for both sides alike.
    timed("cat", [deb]);
    const sha = timed("sha256sum", [deb]);
    const cp = timed("cp", [deb, join(work.dir, "copy.deb")]);
    const run = (mode: string) =>
      child([
        "packages/scripts/src/bench/ingest-child.ts",
        ROOT,
        deb,
        world.tables.packages,
        world.bucket,
        mode,
      ]);
    const idle = await run("idle");
    const dry = await run("dry-run");
    const ours = await run("upload");
    const baseline = sha + cp;
    const rssMb = ours.maxRssKb / 1024;
    const ratio = ours.seconds / baseline;
    const rows: [string, string][] = [
      ["file", `${(bytes / 1e6).toFixed(0)} MB`],
      ["sha256sum", `${sha.toFixed(2)} s`],
      ["cp (local copy)", `${cp.toFixed(2)} s`],
      ["baseline (sha256sum + cp)", `${baseline.toFixed(2)} s`],
      [
        "ours: stream → 4 hashes + control + multipart upload → pool copy → record",
        `${ours.seconds.toFixed(2)} s (${(bytes / 1e6 / ours.seconds).toFixed(0)} MB/s)`,
      ],
      ["ours / baseline", `${ratio.toFixed(2)}x (target ≤ ${RATIO_TARGET}x)`],
      [
        "ours, reading only (stream → 4 hashes + control; --dry-run, no S3)",
        `${dry.seconds.toFixed(2)} s (${(dry.seconds / baseline).toFixed(2)}x), peak RSS ${(dry.maxRssKb / 1024).toFixed(0)} MB`,
      ],
      [
        "a process that only loads the same modules: peak RSS",
        `${(idle.maxRssKb / 1024).toFixed(0)} MB`,
      ],
      [
        "ours: peak RSS of the ingesting process",
        `${rssMb.toFixed(0)} MB (target < ${RSS_TARGET_MB} MB)`,
      ],
    ];
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(74)} ${v}\n`);
    const ok = rssMb < RSS_TARGET_MB && ratio <= RATIO_TARGET;
    process.stdout.write(ok ? "ingest targets met\n" : "ingest targets NOT met\n");
    return 0;
  } finally {
    await world.stop();
    work.cleanup();
  }
}
