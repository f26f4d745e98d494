// index.html as a user meets it: the local stack serves it, Debian's chromium (driven by
// playwright-core, headless) renders it, and the commands a user would copy from it are run
// against apt in an isolated root, each way to install. The only rewrites are the ones that
// keep the machine's own APT untouched: no sudo, the system paths moved into the root, and
// apt run as apt-get with the root's configuration (install simulated).
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { debHashes, writeDeb } from "@app/core/debian";
import { createLogger } from "@app/core/log";
import { fileAttributes, packageId, poolPath, recordControl, toRecord } from "@app/core/record";
import { PackageStore } from "@app/core/store";
import { type AptRoot, aptRoot, runAsync, runOk, scratch } from "@app/core/testing";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { type BrowserContext, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../cli";
import { freePort } from "../local/ports";
import { localS3ClientConfig } from "../local/s3-local";
import { type RunningStack, startStack } from "../local/stack";

const data = scratch("index-page-");
const profile = scratch("chromium-profile-");
let running: RunningStack;
let browser: BrowserContext;
const roots: AptRoot[] = [];

/** The page as chromium shows it. */
interface Page {
  title: string;
  text: string;
  headings: string[];
  blocks: string[];
}
let page: Page;

beforeAll(async () => {
  running = await startStack({
    root: PROJECT_ROOT,
    dataDir: data.dir,
    port: await freePort(),
    dynamodbPort: await freePort(),
    lambdaPort: await freePort(),
    logger: createLogger("local", { level: "warn" }),
  });
  const { stack } = running;
  // The package the page suggests installing, written as a writer would (pool file, record).
  const example = running.config.packages.get("kiro") ? "kiro" : undefined;
  expect(example, "the config's upstream example package").toBe("kiro");
  const fields = {
    package_id: packageId("kiro", "1.2.3", "amd64"),
    package_name: "kiro",
    version: "1.2.3",
    architecture: "amd64" as const,
    source: "manual" as const,
    maintainer: "Kiro Team <support@kiro.dev>",
    description: "kiro test package",
    processed_timestamp: new Date().toISOString(),
  };
  const deb = writeDeb({
    control: recordControl(fields),
    files: [{ path: "/usr/share/doc/kiro/README", content: "hello\n" }],
  });
  const filename = poolPath("main", "kiro", "1.2.3", "amd64");
  const s3 = new S3Client(localS3ClientConfig(stack.endpoints.s3));
  await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: filename, Body: deb }));
  s3.destroy();
  const store = new PackageStore({
    client: new DynamoDBClient({
      endpoint: stack.endpoints.dynamodb,
      region: stack.region,
      credentials: stack.credentials,
    }),
    tableName: stack.tables.packages,
    logger: createLogger("test", { level: "warn" }),
  });
  await store.put(toRecord({ ...fields, ...fileAttributes(filename, debHashes(deb)) }));
  await running.idle();

  browser = await chromium.launchPersistentContext(profile.dir, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const tab = await browser.newPage();
  const response = await tab.goto(`${stack.repoUrl}/index.html`);
  expect(response?.status()).toBe(200);
  page = {
    title: await tab.title(),
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a user copies
    text: await tab.innerText("body"),
    headings: await tab.locator("h1, h2").allInnerTexts(),
    blocks: await tab.locator("pre").allInnerTexts(),
  };
});

afterAll(async () => {
  await browser?.close();
  for (const root of roots) root.cleanup();
  await running?.stop();
  data.cleanup();
  profile.cleanup();
});

/** An apt root with no source yet: the page's commands must configure it. */
function emptyRoot(): AptRoot {
  const root = aptRoot({
    url: "http://127.0.0.1:9/unused",
    suite: "stable",
    components: ["main"],
    keyring: "/nonexistent",
  });
  rmSync(join(root.dir, "etc/apt/sources.list.d/test.sources"));
  roots.push(root);
  return root;
}

/** A copied block, made safe to run here: see the header comment for the only rewrites. */
function isolated(block: string, root: AptRoot): string {
  const config = join(root.dir, "apt.conf");
  return block
    .replaceAll("sudo ", "")
    .replaceAll("/usr/share/keyrings/", `${root.dir}/usr/share/keyrings/`)
    .replaceAll("/etc/apt/", `${root.dir}/etc/apt/`)
    .replace(/^apt update$/gm, `APT_CONFIG=${config} apt-get update`)
    .replace(/^apt install (.+)$/gm, `APT_CONFIG=${config} apt-get install --simulate $1`);
}

async function runBlock(block: string, root: AptRoot): Promise<string> {
  const script = `set -e\nmkdir -p ${root.dir}/usr/share/keyrings\n${isolated(block, root)}\n`;
  const result = await runAsync("sh", ["-c", script], {
    cwd: join(root.dir, "downloads"),
    env: { ...process.env, LC_ALL: "C" },
  });
  const output = `${result.stdout}${result.stderr}`;
  expect(result.status, output).toBe(0);
  expect(
    output.split("\n").filter((l) => /^(W|E|Err|Ign):/.test(l)),
    output,
  ).toEqual([]);
  return output;
}

describe("index.html in a real browser", () => {
  it("renders with the repository's name, its real URL and both ways to install", () => {
    const { repoUrl } = running.stack;
    expect(page.title).toBe(`${running.config.stage.label} APT repository`);
    expect(page.title).not.toContain("kiro-repo");
    expect(page.headings).toEqual([
      `${running.config.stage.label} APT repository`,
      "1. With the setup package (recommended)",
      "2. By hand, with a deb822 source and Signed-By",
    ]);
    expect(page.text).toContain(`${repoUrl}/kiro-repo.deb`);
    expect(page.text).toContain(`URIs: ${repoUrl}`);
    expect(page.blocks).toHaveLength(2);
  });

  it("way 1: the setup package's commands download it, and apt installs it and then kiro", async () => {
    const root = emptyRoot();
    const [setup] = page.blocks;
    expect(setup).toMatch(
      /^curl -fsSLO \S+\/kiro-repo\.deb\nsudo apt install \.\/kiro-repo\.deb\n/,
    );
    const [download = "", install = "", ...rest] = (setup as string).split("\n");
    const out1 = await runBlock(`${download}\n${install}`, root);
    expect(out1).toMatch(/^Inst kiro-repo /m);
    // What installing it does: dpkg unpacks its files (the source and the keyring).
    const deb = join(root.dir, "downloads", "kiro-repo.deb");
    runOk("dpkg-deb", ["-x", deb, root.dir]);
    const sourcesFile = join(root.dir, "etc/apt/sources.list.d/kiro.sources");
    const shipped = readFileSync(sourcesFile, "utf8");
    expect(shipped).toContain(`URIs: ${running.stack.repoUrl}`);
    writeFileSync(sourcesFile, isolated(shipped, root));
    const out = await runBlock(rest.join("\n"), root);
    expect(out).toMatch(/^Inst kiro /m);
  });

  it("way 2: the by-hand commands configure apt, which then installs kiro", async () => {
    const root = emptyRoot();
    const out = await runBlock(page.blocks[1] as string, root);
    expect(out).toMatch(/^Inst kiro /m);
    // The by-hand source is the one the setup package ships.
    const written = readFileSync(join(root.dir, "etc/apt/sources.list.d/kiro.sources"), "utf8");
    expect(written).toContain(`URIs: ${running.stack.repoUrl}`);
  });
});
