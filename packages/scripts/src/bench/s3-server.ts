// The local S3 in a process of its own, as S3 is in production: the ingestion benchmark must
// not count the server's memory and CPU as the ingester's. Prints one JSON line (the endpoint)
// once listening; stops on SIGTERM, SIGINT or when its stdin closes (the parent died).
import { startS3Local } from "../local/s3-local";

async function main(): Promise<void> {
  const [port, directory, bucket] = process.argv.slice(2);
  if (port === undefined || directory === undefined || bucket === undefined) {
    throw new Error("usage: s3-server.ts PORT DIRECTORY BUCKET");
  }
  const s3 = await startS3Local({ port: Number(port), directory, buckets: [bucket] });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void s3.stop().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop);
  process.stdin.resume();
  process.stdout.write(`${JSON.stringify({ endpoint: s3.endpoint })}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
