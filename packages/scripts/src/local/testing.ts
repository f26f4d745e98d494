/**
 * Test support for the local-stage modules: leak checks for the Java process and clients
 * configured like the local stack's. Imported by tests only.
 */
import { execFileSync } from "node:child_process";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./dynamodb-local";
import { freePort } from "./ports";

/** Whether a process with this pid exists (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

/**
 * Pids of DynamoDB Local processes listening on `port`, from their command lines. Other tests
 * (other helpers') may run their own DynamoDB Local at the same time: the port tells ours apart.
 */
export function dynamoDbLocalPids(port: number): number[] {
  let out: string;
  try {
    out = execFileSync("pgrep", ["-af", "DynamoDBLocal"], { encoding: "utf8" });
  } catch (error) {
    // pgrep exits 1 when nothing matches.
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
  return out
    .split("\n")
    .filter((line) => new RegExp(`-port ${port}(\\s|$)`).test(line))
    .map((line) => Number.parseInt(line, 10));
}

export function localDynamoDbClient(endpoint: string, maxAttempts = 3): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts,
  });
}

/** The ports `npm start` takes: the repository's, DynamoDB Local's and the local Lambda's. */
export interface StackPorts {
  readonly port: number;
  readonly dynamodb: number;
  readonly lambda: number;
}

export async function freeStackPorts(): Promise<StackPorts> {
  return { port: await freePort(), dynamodb: await freePort(), lambda: await freePort() };
}

/** `start.ts`'s flags for a stack on these ports with its data in `dataDir`. */
export function startFlags(ports: StackPorts, dataDir: string): string[] {
  return [
    "--port",
    String(ports.port),
    "--dynamodb-port",
    String(ports.dynamodb),
    "--lambda-port",
    String(ports.lambda),
    "--data-dir",
    dataDir,
  ];
}
