// rebuild through the real Lambda client against an HTTP server speaking Lambda's Invoke API:
// the payload is { "force_rebuild": true } as a synchronous (RequestResponse) invocation, the
// script waits for the function's report, and a failed invocation surfaces the function's error.
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { LambdaClient } from "@aws-sdk/client-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepError } from "./cli";
import { logger } from "./integration/world";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local/dynamodb-local";
import { REBUILD_PAYLOAD, rebuild } from "./rebuild";

interface Seen {
  readonly path: string;
  readonly invocationType: string | undefined;
  readonly body: unknown;
}
const seen: Seen[] = [];
let answer: (req: IncomingMessage) => { headers: Record<string, string>; body: string };
let server: Server;
let lambda: LambdaClient;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        path: req.url ?? "",
        invocationType: req.headers["x-amz-invocation-type"] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
      });
      const a = answer(req);
      res.writeHead(200, { "content-type": "application/json", ...a.headers });
      res.end(a.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as AddressInfo;
  lambda = new LambdaClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
    maxAttempts: 1,
  });
});

afterAll(async () => {
  lambda?.destroy();
  await new Promise((r) => server?.close(r));
});

describe("rebuild", () => {
  it("invokes the function synchronously with the rebuild payload and returns its report", async () => {
    answer = () => ({
      headers: {},
      body: JSON.stringify({
        published: ["stable"],
        invalid: [{ key: "x#1#amd64", issues: [] }],
        heldBack: [],
        failed: [],
        attempts: 1,
      }),
    });
    seen.length = 0;
    const report = await rebuild({ lambda, functionName: "kiro-rebuild", logger });
    expect(seen).toEqual([
      {
        path: "/2015-03-31/functions/kiro-rebuild/invocations",
        invocationType: "RequestResponse",
        body: REBUILD_PAYLOAD,
      },
    ]);
    expect(REBUILD_PAYLOAD).toEqual({ force_rebuild: true });
    expect(report?.published).toEqual(["stable"]);
    expect(report?.invalid.map((i) => i.key)).toEqual(["x#1#amd64"]);
  });

  it("a failed invocation fails the step with the function's error", async () => {
    answer = () => ({
      headers: { "x-amz-function-error": "Unhandled" },
      body: JSON.stringify({ errorType: "SigningKeyError", errorMessage: "refusing to sign: …" }),
    });
    const error = await rebuild({ lambda, functionName: "kiro-rebuild", logger }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StepError);
    expect((error as StepError).step).toBe("invoke rebuild");
    expect((error as StepError).message).toBe(
      'step "invoke rebuild" failed: kiro-rebuild failed (Unhandled): SigningKeyError: refusing to sign: …',
    );
  });

  it("an unexpected report is an error, and --dry-run invokes nothing", async () => {
    answer = () => ({ headers: {}, body: JSON.stringify({ hello: 1 }) });
    await expect(rebuild({ lambda, functionName: "f", logger })).rejects.toThrow(
      "f returned an unexpected report",
    );
    seen.length = 0;
    expect(await rebuild({ lambda, functionName: "f", dryRun: true, logger })).toBeUndefined();
    expect(seen).toEqual([]);
  });
});
