// `npm start` stops completely however it is stopped: SIGTERM to npm's pid alone (`kill $!`, a
// supervisor), Ctrl-C (SIGINT to the foreground group), SIGTERM to the group, a closed terminal
// (SIGHUP to the group). Each time every process under npm (sh, node, Java) exits and the ports
// are free again.
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { scratch } from "@app/core/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertPortFree, waitFor } from "./ports";
import { alive, dynamoDbLocalPids, freeStackPorts, type StackPorts, startFlags } from "./testing";

const root = resolve(import.meta.dirname, "../../../..");
const data = scratch("local-start-");
let ports: StackPorts;
const started: ChildProcess[] = [];

beforeAll(async () => {
  ports = await freeStackPorts();
});

afterAll(async () => {
  // Whatever a failed test left behind: its group, by the pgid this file created.
  for (const child of started) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
  }
  data.cleanup();
});

/** Every process whose ancestry leads to `pid` (from /proc), `pid` included. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {}
  }
  const out = [pid];
  for (let grew = true; grew; ) {
    grew = false;
    for (const [child, parent] of parentOf) {
      if (out.includes(parent) && !out.includes(child)) {
        out.push(child);
        grew = true;
      }
    }
  }
  return out;
}

/** `npm start` in its own process group (as a shell's job), ready to serve. */
async function npmStart(): Promise<{ npm: ChildProcess; tree: number[]; output: () => string }> {
  const npm = spawn("npm", ["start", "--", ...startFlags(ports, data.dir)], {
    cwd: root,
    detached: true,
    env: { ...process.env, LOG_FORMAT: "json" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(npm);
  let text = "";
  npm.stdout?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  npm.stderr?.on("data", (c: Buffer) => {
    text += c.toString();
  });
  await waitFor(async () => text.includes("Local repository ready"), {
    timeoutMs: 180_000,
    what: "npm start to be ready",
    abort: () => (npm.exitCode !== null ? `it exited: ${text.slice(-2000)}` : undefined),
  });
  const tree = descendants(npm.pid as number);
  return { npm, tree, output: () => text };
}

async function expectAllGone(tree: readonly number[]): Promise<void> {
  await waitFor(async () => tree.every((pid) => !alive(pid)), {
    timeoutMs: 30_000,
    what: `every process of npm start (${tree.join(", ")}) to exit`,
  });
  expect(dynamoDbLocalPids(ports.dynamodb)).toEqual([]);
  for (const port of [ports.port, ports.dynamodb, ports.lambda]) await assertPortFree(port);
}

describe("stopping npm start", () => {
  it.each([
    ["SIGTERM to npm's pid alone", (npm: number) => process.kill(npm, "SIGTERM")],
    ["SIGINT to the group (Ctrl-C)", (npm: number) => process.kill(-npm, "SIGINT")],
    ["SIGTERM to the group", (npm: number) => process.kill(-npm, "SIGTERM")],
    ["SIGHUP to the group (a closed terminal)", (npm: number) => process.kill(-npm, "SIGHUP")],
  ])("%s stops every child and frees the ports", async (_how, signal) => {
    const { npm, tree } = await npmStart();
    // npm, its shell, node and Java at least.
    expect(tree.length).toBeGreaterThanOrEqual(4);
    expect(dynamoDbLocalPids(ports.dynamodb).every((pid) => tree.includes(pid))).toBe(true);
    signal(npm.pid as number);
    await expectAllGone(tree);
  });
});
