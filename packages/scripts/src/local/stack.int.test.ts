// `npm start` as a user runs it: a child process on free ports, read by apt in an isolated
// root; records written with the SDK appear and disappear; a malformed one is reported and
// skipped; a restart republishes nothing and loses nothing; a stop leaves no process behind.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { debHashes, writeDeb } from "@app/core/debian";
import {
  fileAttributes,
  packageId,
  poolPath,
  recordControl,
  recordToItem,
  toRecord,
} from "@app/core/record";
import { type AptRoot, aptRoot, scratch } from "@app/core/testing";
import { DeleteItemCommand, DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import * as v from "valibot";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "./ports";
import { localS3ClientConfig } from "./s3-local";
import { type StackFile, stackFileSchema } from "./stack";
import { alive, dynamoDbLocalPids, freeStackPorts, type StackPorts, startFlags } from "./testing";

const root = resolve(import.meta.dirname, "../../../..");
const data = scratch("local-stack-");
let ports: StackPorts;
let child: ChildProcess | undefined;
let output: () => string = () => "";
let stack: StackFile;
let apt: AptRoot;

/** `npm start` on the test's ports and data directory, its output collected. */
function spawnStack(): { process: ChildProcess; output: () => string } {
  const proc = spawn(
    join(root, "node_modules/.bin/tsx"),
    ["packages/scripts/src/local/start.ts", ...startFlags(ports, data.dir)],
    { cwd: root, env: { ...process.env, LOG_FORMAT: "json" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let text = "";
  proc.stdout?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  proc.stderr?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  return { process: proc, output: () => text };
}

async function start(): Promise<void> {
  const spawned = spawnStack();
  child = spawned.process;
  output = spawned.output;
  await waitFor(async () => output().includes("Local repository ready"), {
    timeoutMs: 180_000,
    what: "the local stack to start",
    abort: () => (child?.exitCode !== null ? `it exited: ${output().slice(-2000)}` : undefined),
  });
  stack = v.parse(stackFileSchema, JSON.parse(readFileSync(join(data.dir, "stack.json"), "utf8")));
}

async function stop(): Promise<void> {
  const c = child;
  if (!c || c.exitCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  await exited;
}

beforeAll(async () => {
  ports = await freeStackPorts();
  await start();
  apt = aptRoot({
    url: stack.repoUrl,
    suite: "stable",
    components: ["main"],
    keyring: stack.publicKey.gpg,
  });
});

afterAll(async () => {
  await stop();
  apt?.cleanup();
  data.cleanup();
});

const clients = () => ({
  dynamo: new DynamoDBClient({
    endpoint: stack.endpoints.dynamodb,
    region: stack.region,
    credentials: stack.credentials,
  }),
  s3: new S3Client(localS3ClientConfig(stack.endpoints.s3)),
});

/** Polls apt until the predicate holds (publishing is asynchronous, through the stream). */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  await waitFor(
    async () => {
      await apt.update();
      return check();
    },
    { timeoutMs: 30_000, what, intervalMs: 200 },
  );
}

async function writePackage(name: string, version: string) {
  const fields = {
    package_id: packageId(name, version, "amd64"),
    package_name: name,
    version,
    architecture: "amd64" as const,
    source: "manual" as const,
    maintainer: "Kiro Team <support@kiro.dev>",
    description: `${name} test package`,
    processed_timestamp: new Date().toISOString(),
  };
  const bytes = writeDeb({
    control: recordControl(fields),
    files: [{ path: `/usr/share/doc/${name}/README`, content: "hello\n" }],
  });
  const h = debHashes(bytes);
  const filename = poolPath("main", name, version, "amd64");
  const { dynamo, s3 } = clients();
  await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: filename, Body: bytes }));
  const record = toRecord({
    ...fields,
    ...fileAttributes(filename, h),
  });
  await dynamo.send(
    new PutItemCommand({ TableName: stack.tables.packages, Item: recordToItem(record) }),
  );
  return record;
}

describe("npm start: the embedded local stage", () => {
  it("serves a signed repository with the setup package, readable by apt with no warnings", async () => {
    await eventually(
      "kiro-repo to be a candidate",
      async () => (await apt.versions("kiro-repo")).length > 0,
    );
    const [version] = await apt.versions("kiro-repo");
    const dir = await apt.download("kiro-repo", version as string);
    expect(existsSync(join(dir, `kiro-repo_${version}_all.deb`))).toBe(true);
  });

  it("publishes a record written with the SDK, and unpublishes it when deleted", async () => {
    await writePackage("kiro", "0.7.45");
    await eventually("kiro 0.7.45 to appear", async () =>
      (await apt.versions("kiro")).includes("0.7.45"),
    );
    const { dynamo } = clients();
    await dynamo.send(
      new DeleteItemCommand({
        TableName: stack.tables.packages,
        Key: { package_id: { S: "kiro#0.7.45#amd64" } },
      }),
    );
    await eventually(
      "kiro 0.7.45 to disappear",
      async () => (await apt.versions("kiro")).length === 0,
    );
  });

  it("reports a malformed item with its key and fields, and keeps the rest published", async () => {
    await writePackage("kiro-cli", "1.0.0");
    const { dynamo } = clients();
    await dynamo.send(
      new PutItemCommand({
        TableName: stack.tables.packages,
        Item: {
          package_id: { S: "kiro#9.9#amd64" },
          package_name: { S: "kiro" },
          version: { S: "not a version" },
        },
      }),
    );
    await eventually("kiro-cli to appear", async () =>
      (await apt.versions("kiro-cli")).includes("1.0.0"),
    );
    await waitFor(
      async () => output().includes("kiro#9.9#amd64") && output().includes("invalid record"),
      {
        timeoutMs: 20_000,
        what: "the malformed item to be reported",
      },
    );
    expect(await apt.versions("kiro")).toEqual([]);
    expect(await apt.versions("kiro-repo")).not.toEqual([]);
  });

  it("restarts from its checkpoint: nothing republished, nothing lost; a busy port is refused", async () => {
    const release = async () => (await fetch(`${stack.repoUrl}/dists/stable/Release`)).text();
    const before = await release();
    // A second stack on the same ports must refuse to start.
    const second = spawnStack();
    const code = await new Promise<number | null>((r) => second.process.once("exit", r));
    expect(code).not.toBe(0);
    expect(second.output()).toMatch(/busy/);

    await stop();
    await start();
    await apt.update();
    expect(await apt.versions("kiro-cli")).toEqual(["1.0.0"]);
    expect(await apt.versions("kiro-repo")).not.toEqual([]);
    expect(await release()).toBe(before); // no new generation on restart
    expect(output()).not.toContain('"msg":"published"');
  });

  it("stops every child process, Java included, on SIGTERM", async () => {
    const javas = dynamoDbLocalPids(ports.dynamodb);
    expect(javas.length).toBe(1);
    const pid = child?.pid as number;
    await stop();
    await waitFor(async () => javas.every((p) => !alive(p)) && !alive(pid), {
      timeoutMs: 20_000,
      what: "every process to exit",
    });
    expect(dynamoDbLocalPids(ports.dynamodb)).toEqual([]);
  });
});
