// `source.type: manual` (and any .deb an operator holds): files or URLs given on the command
// line. The .deb's control file names the package, which the config must know; the rest of the
// way is the poller's.
import { open, stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { fetchUrlProblem } from "../config/schema";
import { type Download, openUrl } from "./fetch";
import { IngestError } from "./ingest";
import type { Candidate, CandidateList, RunReport, SourceContext, SourceHandler } from "./run";
import { ingestCandidate, runCandidates } from "./run";

const MB = 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

export interface ManualRequest {
  /** Paths or URLs of .debs. */
  readonly inputs: readonly string[];
  /** The suite to record them in (default: the stage's). */
  readonly suite?: string;
  /** Told of each chunk read, with its input and size (a script's progress bar). */
  readonly onBytes?: (input: string, bytes: number) => void;
}

/** The download, telling `onBytes` of each chunk as the ingestion asks for it. */
function counted(download: Download, onBytes: (bytes: number) => void): Download {
  const body = download.body;
  return {
    ...download,
    body: {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of body) {
          onBytes(chunk.length);
          yield chunk;
        }
      },
    },
  };
}

const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);

/** The largest limit among the packages: the package is known only once its control is read. */
function maxBytesOf(context: SourceContext): number {
  let mb = 0;
  for (const pkg of context.packages.values()) {
    const source = pkg.source;
    if ("max_size_mb" in source && source.max_size_mb > mb) mb = source.max_size_mb;
  }
  return (mb || 1024) * MB;
}

async function openFile(path: string, maxBytes: number): Promise<Download> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new IngestError(path, `cannot read: ${error.code ?? error.message}`);
  });
  if (!info.isFile()) throw new IngestError(path, "is not a regular file");
  if (info.size > maxBytes) {
    throw new IngestError(path, `is ${info.size} bytes, more than the limit of ${maxBytes}`);
  }
  return { body: readChunks(path), contentLength: info.size };
}

/**
 * The file in 1 MiB chunks read into one buffer, reused: each chunk is a view of it, valid until
 * the next is asked for (the ingestion copies what it keeps). Fresh buffers per read, as a read
 * stream allocates, left ~40 MB of garbage to the GC on a 300 MB file.
 */
async function* readChunks(path: string): AsyncGenerator<Uint8Array> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, READ_CHUNK, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
}

export const manualHandler: SourceHandler<ManualRequest> = {
  type: "manual",
  async candidates(context, request): Promise<CandidateList> {
    const maxBytes = maxBytesOf(context);
    const fetchOptions = {
      maxBytes,
      ...(context.fetch ? { fetch: context.fetch } : {}),
      ...(context.idleTimeoutMs ? { idleTimeoutMs: context.idleTimeoutMs } : {}),
    };
    const tell = (input: string) => (download: Download) => {
      const onBytes = request.onBytes;
      return onBytes === undefined ? download : counted(download, (n) => onBytes(input, n));
    };
    const candidates = request.inputs.map((input): Candidate => {
      if (isUrl(input)) {
        const problem = fetchUrlProblem(input, context.stage.stage);
        if (problem) throw new IngestError(input, problem);
        const file = decodeURIComponent(new URL(input).pathname.split("/").pop() ?? "");
        return {
          label: input,
          maxBytes,
          open: () => openUrl(input, fetchOptions).then(tell(input)),
          provenance: { deb_url: input, ...(file === "" ? {} : { actual_filename: file }) },
        };
      }
      const path = resolve(input);
      return {
        label: input,
        maxBytes,
        open: () => openFile(path, maxBytes).then(tell(input)),
        provenance: { actual_filename: basename(path) },
      };
    });
    return {
      candidates,
      skipped: [],
      source: "manual",
      ...(request.suite === undefined ? {} : { suite: request.suite }),
    };
  },
};

/** Imports the given .debs through the ingestion path; each one succeeds or fails alone. */
export async function importDebs(
  context: SourceContext,
  request: ManualRequest,
  options: { dryRun?: boolean } = {},
): Promise<RunReport> {
  return runCandidates(context, await manualHandler.candidates(context, request), options);
}

/**
 * One .deb from a URL (or an already open stream, or a function that opens one per attempt) as
 * a record of package `name`: the entry point for other writers (the migration's legacy .debs
 * and its "fetch the missing .deb from deb_url"). Same checks, retries and order as the poller;
 * ConflictError when other bytes hold the version.
 */
export async function ingestOne(
  context: SourceContext,
  request: {
    readonly name: string;
    readonly version?: string;
    readonly architecture?: string;
    /**
     * A URL (reopened for each retry), a stream (one attempt only), or an opener called once
     * per attempt (e.g. an S3 GetObject).
     */
    readonly from: string | Download | (() => Promise<Download>);
    /** Names the package in messages (default: the URL). */
    readonly label?: string;
    readonly source: CandidateList["source"];
    readonly suite?: string;
    readonly provenance?: Candidate["provenance"];
    /** Hashes the file must have (e.g. what a legacy row states). */
    readonly expected?: Candidate["expected"];
    readonly dryRun?: boolean;
  },
) {
  const maxBytes = maxBytesOf(context);
  const { from } = request;
  let used = false;
  const candidate: Candidate = {
    label: request.label ?? (typeof from === "string" ? from : `${request.name} (stream)`),
    name: request.name,
    ...(request.version === undefined ? {} : { version: request.version }),
    ...(request.architecture === undefined ? {} : { architecture: request.architecture }),
    maxBytes,
    open: async () => {
      if (typeof from === "string") {
        const problem = fetchUrlProblem(from, context.stage.stage);
        if (problem) throw new IngestError(from, problem);
        return openUrl(from, {
          maxBytes,
          ...(context.fetch ? { fetch: context.fetch } : {}),
          ...(context.idleTimeoutMs ? { idleTimeoutMs: context.idleTimeoutMs } : {}),
        });
      }
      if (typeof from === "function") return from();
      if (used) throw new IngestError(candidate.label, "a stream cannot be read twice");
      used = true;
      return from;
    },
    ...(request.provenance === undefined
      ? typeof from === "string"
        ? { provenance: { deb_url: from } }
        : {}
      : { provenance: request.provenance }),
    ...(request.expected === undefined ? {} : { expected: request.expected }),
  };
  return ingestCandidate(
    context,
    { source: request.source, ...(request.suite === undefined ? {} : { suite: request.suite }) },
    candidate,
    request.dryRun ? { dryRun: true } : {},
  );
}
