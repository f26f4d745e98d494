import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { type LoadedConfig, loadConfig } from "@app/core/config";
import { packageId } from "@app/core/record";
import { type SourceContext, sourceSettings } from "@app/core/sources";
import { type AptRoot, aptRoot, runAsync, scratch } from "@app/core/testing";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { importDebFiles } from "./import-deb";
import { testDeb } from "./integration/fake-upstream";
import { logger, startWorld, type World } from "./integration/world";

const root = resolve(import.meta.dirname, "../../..");
let world: World;
let config: LoadedConfig;
let files: { dir: string; cleanup: () => void };
const roots: AptRoot[] = [];

beforeAll(async () => {
  world = await startWorld();
  config = await loadConfig(root, "local");
  files = scratch("import-");
});

afterAll(async () => {
  for (const r of roots) r.cleanup();
  files?.cleanup();
  await world?.stop();
});

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function context(): SourceContext {
  const settings = sourceSettings(config);
  return {
    stage: settings.stage,
    packages: new Map(settings.packages.map((p) => [p.name, p])),
    target: { bucket: { s3: world.s3, name: world.bucket, logger }, store: world.store, logger },
    retry: { baseMs: 1, maxMs: 5 },
  };
}

function file(name: string, bytes: Uint8Array): string {
  const path = join(files.dir, name);
  writeFileSync(path, bytes);
  return path;
}

async function keys(prefix: string): Promise<string[]> {
  const out = await world.s3.send(
    new ListObjectsV2Command({ Bucket: world.bucket, Prefix: prefix }),
  );
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

describe("import-deb", () => {
  const amd64 = testDeb("kiro-cli", "1.2.3", "amd64");
  const arm64 = testDeb("kiro-cli", "1.2.3", "arm64");

  it("imports amd64 and arm64 of a release in one command; --wait returns once apt can get both; apt installs each", async () => {
    const inputs = [
      file("kiro-cli_1.2.3_amd64.deb", amd64),
      file("kiro-cli_1.2.3_arm64.deb", arm64),
    ];
    // Progress counts every byte read, against the files' total.
    const seen = { total: -1, ticked: 0, done: false };
    const imported = importDebFiles({
      inputs,
      config,
      context: context(),
      waitMs: 60_000,
      logger,
      progress: (total) => {
        seen.total = total;
        return {
          tick: (n = 1) => {
            seen.ticked += n;
          },
          done: () => {
            seen.done = true;
          },
        };
      },
    });
    // No stream consumer here: publish while the import waits.
    const publishing = (async () => {
      while (!(await world.store.get(packageId("kiro-cli", "1.2.3", "arm64")))) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await world.publisher.rebuild();
    })();
    const [report] = await Promise.all([imported, publishing]);
    expect(report.failed).toEqual([]);
    expect(seen).toEqual({ total: amd64.length + arm64.length, ticked: seen.total, done: true });
    expect(report.ingested.map((i) => [i.id, i.outcome])).toEqual([
      ["kiro-cli#1.2.3#amd64", "created"],
      ["kiro-cli#1.2.3#arm64", "created"],
    ]);
    const got = await world.store.get("kiro-cli#1.2.3#arm64");
    expect(got?.ok && got.record.source).toBe("manual");
    expect(got?.ok && got.record.actual_filename).toBe("kiro-cli_1.2.3_arm64.deb");
    expect(await keys("staging/")).toEqual([]);

    for (const [arch, bytes] of [
      ["amd64", amd64],
      ["arm64", arm64],
    ] as const) {
      const apt = aptRoot(
        { url: world.repoUrl, suite: "stable", components: ["main"], keyring: world.keyringFile },
        arch,
      );
      roots.push(apt);
      await apt.update();
      expect(await apt.versions("kiro-cli")).toEqual(["1.2.3"]);
      const dir = await apt.download("kiro-cli", "1.2.3");
      const deb = readdirSync(dir).find((f) => f === `kiro-cli_1.2.3_${arch}.deb`);
      expect(deb).toBeDefined();
      expect(sha256(readFileSync(join(dir, deb as string)))).toBe(sha256(bytes));
      // Installable: apt resolves it, then installs it with dpkg into the root (an arm64 root
      // declares arm64 in its own dpkg database, as a multi-arch system does).
      const simulated = await apt.apt("apt-get", ["install", "--simulate", "kiro-cli"]);
      expect(simulated.output).toMatch(
        new RegExp(`^Inst kiro-cli \\(1\\.2\\.3 .*\\[${arch}\\]\\)`, "m"),
      );
      const installed = await apt.install("kiro-cli", "1.2.3");
      expect(installed).toMatch(/^Setting up kiro-cli(:\w+)? \(1\.2\.3\)/m);
      const status = await runAsync(
        "dpkg-query",
        [
          "--admindir",
          join(apt.dir, "var/lib/dpkg"),
          "-W",
          "-f",
          // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
          "${Package} ${Version} ${Architecture} ${db:Status-Status}",
          "kiro-cli",
        ],
        { cwd: apt.dir },
      );
      expect(status.stdout).toBe(`kiro-cli 1.2.3 ${arch} installed`);
      expect(readFileSync(join(apt.dir, "usr/share/doc/kiro-cli/README"), "utf8")).toBe(
        `kiro-cli 1.2.3 ${arch}\n`,
      );
    }
  });

  it("re-importing the same bytes is a no-op; other bytes under the version are refused, naming the hashes", async () => {
    const again = await importDebFiles({
      inputs: [file("again.deb", amd64)],
      config,
      context: context(),
      logger,
    });
    expect(again.ingested.map((i) => i.outcome)).toEqual(["unchanged"]);

    const other = testDeb("kiro-cli", "1.2.3", "amd64", { extra: "rebuilt differently" });
    const refused = await importDebFiles({
      inputs: [file("other.deb", other)],
      config,
      context: context(),
      logger,
    });
    expect(refused.ingested).toEqual([]);
    expect(refused.failed[0]?.error).toContain(
      `sha256_hash ${sha256(amd64)} (recorded) vs ${sha256(other)} (this file)`,
    );
    const stored = await world.store.get("kiro-cli#1.2.3#amd64");
    expect(stored?.ok && stored.record.sha256_hash).toBe(sha256(amd64));
    expect(await keys("staging/")).toEqual([]);
  });

  it("refuses what is not a .deb, a package the config does not know, an architecture it does not allow", async () => {
    const report = await importDebFiles({
      inputs: [
        file("notes.deb", new TextEncoder().encode("these are not the bytes of a package\n")),
        file("stranger.deb", testDeb("stranger", "1.0", "amd64")),
        file("kiro-cli-i386.deb", testDeb("kiro-cli", "1.2.4", "i386")),
        join(files.dir, "missing.deb"),
      ],
      config,
      context: context(),
      logger,
    });
    expect(report.ingested).toEqual([]);
    expect(report.failed.map((f) => f.error)).toEqual([
      expect.stringMatching(/notes\.deb: not an ar archive/),
      expect.stringMatching(/package stranger is not in the config/),
      expect.stringMatching(/architecture i386 is not one of kiro-cli's \(amd64, arm64/),
      expect.stringMatching(/missing\.deb: cannot read: ENOENT/),
    ]);
    expect(await world.store.get("stranger#1.0#amd64")).toBeUndefined();
    expect(await keys("pool/main/s/")).toEqual([]);
    expect(await keys("staging/")).toEqual([]);
  });

  it("runs as the operator runs it: --help, and a failing file named with exit 1 while the good one lands", async () => {
    const tsx = join(root, "node_modules/.bin/tsx");
    const help = await runAsync(tsx, ["scripts/import-deb.ts", "--help"], { cwd: root });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("Usage: sst shell --stage <stage> scripts/import-deb.ts");

    const good = file("kiro-cli_1.3.0_amd64.deb", testDeb("kiro-cli", "1.3.0", "amd64"));
    const bad = file("bad.deb", new TextEncoder().encode("nope"));
    const env = {
      ...process.env,
      LOG_FORMAT: "json",
      SST_RESOURCE_App: JSON.stringify({ name: "kiro-apt", stage: "local" }),
      SST_RESOURCE_Packages: JSON.stringify({
        name: world.tables.packages,
        type: "sst.aws.Dynamo",
      }),
      SST_RESOURCE_Repository: JSON.stringify({ name: world.bucket, type: "sst.aws.Bucket" }),
    };
    const dry = await runAsync(tsx, ["scripts/import-deb.ts", good, "--dry-run"], {
      cwd: root,
      env,
    });
    expect(dry.status).toBe(0);
    expect(await world.store.get("kiro-cli#1.3.0#amd64")).toBeUndefined();

    const run = await runAsync(tsx, ["scripts/import-deb.ts", good, bad], { cwd: root, env });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/refused .*bad\.deb: .*not an ar archive/);
    expect(await world.store.get("kiro-cli#1.3.0#amd64")).toBeDefined();

    const usage = await runAsync(tsx, ["scripts/import-deb.ts"], { cwd: root, env });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain("no .deb files or URLs given");
  });
});
