#!/usr/bin/env -S npx tsx
// `npm run shell -- <command>`: runs a command against the running local stack with the
// environment `sst shell` gives in the cloud (SST_RESOURCE_*, AWS_ENDPOINT_URL_*, credentials),
// so every script has one code path.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { loadConfig } from "@app/core/config";
import { publisherSettings } from "@app/core/publish";
import * as v from "valibot";
import { stackEnvironment, stackFileSchema } from "./stack";

const HELP = `Usage: npm run shell -- <command> [args...]

Runs <command> with the local stack's resources in its environment, as \`sst shell\` does for
a cloud stage. The stack must be running (npm start). Data directory: KIRO_APT_DATA_DIR or .local.
Example: npm run shell -- scripts/rebuild.ts
`;

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h") {
    process.stdout.write(HELP);
    return argv.length === 0 ? 2 : 0;
  }
  const root = resolve(import.meta.dirname, "../../../..");
  const dataDir = resolve(root, process.env.KIRO_APT_DATA_DIR ?? ".local");
  const file = join(dataDir, "stack.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    console.error(`no local stack description at ${file}: start the stack with npm start`);
    return 1;
  }
  const parsed = v.safeParse(stackFileSchema, JSON.parse(text));
  if (!parsed.success) {
    console.error(`${file}: ${v.summarize(parsed.issues)}`);
    return 1;
  }
  const stack = parsed.output;
  const config = await loadConfig(root, "local");
  const env = {
    ...process.env,
    ...stackEnvironment(
      stack,
      await readFile(stack.signingKeyFile, "utf8"),
      JSON.stringify(publisherSettings(config, stack.repoUrl)),
    ),
    // What `sst shell` links in the cloud besides: the URL the repository is served at (the
    // running stack's port, not local.yaml's default) and the dead letters (a file here).
    SST_RESOURCE_Cdn: JSON.stringify({ url: stack.repoUrl, type: "sst.aws.Router" }),
    SST_RESOURCE_DeadLetters: JSON.stringify({
      url: pathToFileURL(join(dataDir, "dead-letters.jsonl")).href,
      type: "sst.aws.Queue",
    }),
  };
  const [command, ...args] = argv as [string, ...string[]];
  const child = spawn(command, args, { stdio: "inherit", env });
  return new Promise((done) => {
    child.on("error", (error) => {
      console.error(`cannot run ${command}: ${error.message}`);
      done(127);
    });
    child.on("exit", (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

main(process.argv.slice(2)).then((code) => process.exit(code));
