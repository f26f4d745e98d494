#!/usr/bin/env -S npx tsx
// `npm start`: the whole system on this machine, in the foreground, until Ctrl-C or SIGTERM.
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createLogger } from "@app/core/log";
import * as v from "valibot";
import { startStack } from "./stack";

const HELP = `Usage: npm start [-- options]

Runs the embedded local stage: DynamoDB Local, S3 (s3rver, which also serves the repository
over HTTP), the stream consumer and a Lambda endpoint for the rebuild, with data kept in the
data directory across restarts.

Options (environment variable in brackets):
  --port N            HTTP port of S3 and the repository   [KIRO_APT_PORT]      default 8080
  --dynamodb-port N   DynamoDB Local's port                [KIRO_APT_DYNAMODB_PORT] default 8000
  --lambda-port N     the local Lambda Invoke endpoint     [KIRO_APT_LAMBDA_PORT]   default 9001
  --data-dir DIR      where data, keys and stack.json live [KIRO_APT_DATA_DIR]  default .local
  --help              this text
`;

const port = v.pipe(v.string(), v.toNumber(), v.integer(), v.minValue(1), v.maxValue(65535));
const argsSchema = v.object({
  port: v.optional(port, "8080"),
  "dynamodb-port": v.optional(port, "8000"),
  "lambda-port": v.optional(port, "9001"),
  "data-dir": v.optional(v.pipe(v.string(), v.nonEmpty()), ".local"),
});

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      port: { type: "string", default: process.env.KIRO_APT_PORT },
      "dynamodb-port": { type: "string", default: process.env.KIRO_APT_DYNAMODB_PORT },
      "lambda-port": { type: "string", default: process.env.KIRO_APT_LAMBDA_PORT },
      "data-dir": { type: "string", default: process.env.KIRO_APT_DATA_DIR },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const { help: _help, ...rest } = values;
  const parsed = v.safeParse(
    argsSchema,
    Object.fromEntries(Object.entries(rest).filter(([, x]) => x !== undefined)),
  );
  if (!parsed.success) {
    for (const issue of parsed.issues) {
      console.error(
        `--${v.getDotPath(issue)}: ${issue.message} (got ${JSON.stringify(issue.input)})`,
      );
    }
    return 2;
  }
  // A closed terminal makes writes fail (EIO, EPIPE): that must not stop the clean shutdown.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
  const logger = createLogger("local");
  const root = resolve(import.meta.dirname, "../../../..");
  const dataDir = resolve(root, parsed.output["data-dir"]);
  let running: Awaited<ReturnType<typeof startStack>>;
  let fatal: ((error: Error) => void) | undefined;
  try {
    running = await startStack({
      root,
      dataDir,
      port: parsed.output.port,
      dynamodbPort: parsed.output["dynamodb-port"],
      lambdaPort: parsed.output["lambda-port"],
      logger,
      onFatal: (error) => fatal?.(error),
    });
  } catch (error) {
    logger.error({ err: error }, `the local stack did not start: ${(error as Error).message}`);
    return 1;
  }
  const { stack } = running;
  process.stdout.write(`
Local repository ready: ${stack.repoUrl}
  stack description: ${join(dataDir, "stack.json")}

Use it with apt (as root):
  install -m 644 ${stack.publicKey.gpg} /usr/share/keyrings/kiro-archive-keyring.gpg
  printf 'Types: deb\\nURIs: ${stack.repoUrl}\\nSuites: ${running.config.stage.suite}\\nComponents: ${running.config.stage.components.join(" ")}\\nSigned-By: /usr/share/keyrings/kiro-archive-keyring.gpg\\n' > /etc/apt/sources.list.d/kiro-local.sources
  apt update && apt install kiro-repo
or with the setup package: curl -fsSLO ${stack.repoUrl}/kiro-repo.deb && apt install ./kiro-repo.deb

Scripts against this stack: npm run shell -- <command>   (e.g. npm run shell -- aws dynamodb scan --table-name ${stack.tables.packages})
Ctrl-C stops everything.
`);
  const code = await new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string, code = 0) => {
      if (stopping) return;
      stopping = true;
      clearInterval(orphaned);
      logger.info({ signal }, "stopping the local stack");
      running.stop().finally(() => done(code));
    };
    // Ctrl-C (SIGINT to the group), a supervisor (SIGTERM), a closed terminal (SIGHUP).
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
      process.once(signal, () => stop(signal));
    }
    // `kill <npm's pid>` ends npm and its shell but signals nothing further down: this process
    // is then re-parented, which it notices here and stops everything it started (Java too).
    const parent = process.ppid;
    const orphaned = setInterval(() => {
      if (process.ppid !== parent) stop(`parent ${parent} exited`);
    }, 250);
    fatal = (error) => {
      // A signal to the whole group reaches Java too: that is a stop, not a failure.
      if (stopping) return;
      logger.error({ err: error }, "a part of the local stack died; stopping the rest");
      stop("a child died", 1);
    };
  });
  logger.info("local stack stopped");
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
