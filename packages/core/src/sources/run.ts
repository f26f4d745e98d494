// The one interface every source type implements, and the runner that takes what a source
// offers through the single ingestion path: each candidate with its own retries (429, 5xx,
// timeouts, dropped connections), one failing never stopping the others.
import type { PackageConfig, PackageSource, StageConfig } from "../config/schema";
import type { DebHashes } from "../debian/hashes";
import { describeError, isTransientAwsError, type RetryOptions, withRetry } from "../store/retry";
import { type Download, isTransientDownloadError } from "./fetch";
import {
  type Expectation,
  type IngestResult,
  type IngestSourceType,
  type IngestTarget,
  ingestDeb,
  type Provenance,
} from "./ingest";
import type { SignatureInput } from "./signature";

/** One .deb a source offers. */
export interface Candidate {
  /** Its URL or path, for messages. */
  readonly label: string;
  /** What the source says it is; the .deb's control file must agree. */
  readonly name?: string;
  readonly version?: string;
  readonly architecture?: string;
  /** Opens the bytes (again, for each attempt). */
  open(): Promise<Download>;
  /** The vendor's certificate and signature, when the source has them. */
  signature?(): Promise<SignatureInput>;
  readonly provenance?: Provenance;
  readonly expected?: Partial<DebHashes>;
  readonly maxBytes: number;
}

export interface SourceContext {
  readonly stage: StageConfig;
  readonly packages: ReadonlyMap<string, PackageConfig>;
  readonly target: IngestTarget;
  /** Replaces global fetch (tests inject faults). */
  readonly fetch?: typeof fetch;
  readonly idleTimeoutMs?: number;
  readonly retry?: Omit<RetryOptions, "isRetryable" | "onRetry">;
  readonly now?: () => Date;
}

/** What a source type contributes: the candidates of one run, skipping what is recorded. */
export interface SourceHandler<Request> {
  readonly type: PackageSource["type"];
  /** Lists what to ingest; throws (writing nothing) when the source itself is unusable. */
  candidates(context: SourceContext, request: Request): Promise<CandidateList>;
}

export interface CandidateList {
  readonly candidates: readonly Candidate[];
  /** Already recorded, by label (each was logged). */
  readonly skipped: readonly string[];
  readonly source: IngestSourceType;
  readonly suite?: string;
}

export interface RunReport {
  readonly ingested: readonly { label: string; id: string; outcome: IngestResult["outcome"] }[];
  readonly skipped: readonly string[];
  readonly failed: readonly { label: string; error: string }[];
  readonly results: readonly IngestResult[];
}

export function isTransient(error: unknown): boolean {
  return isTransientDownloadError(error) || isTransientAwsError(error);
}

/** Ingests one candidate with retries; a retry that sees other bytes than a complete earlier attempt fails. */
export async function ingestCandidate(
  context: SourceContext,
  list: Pick<CandidateList, "source" | "suite">,
  candidate: Candidate,
  options: { dryRun?: boolean } = {},
): Promise<IngestResult> {
  const { stage } = context;
  const expectation: Expectation = {
    packages: context.packages,
    ...(candidate.name === undefined ? {} : { name: candidate.name }),
    ...(candidate.version === undefined ? {} : { version: candidate.version }),
    ...(candidate.architecture === undefined ? {} : { architecture: candidate.architecture }),
    ...(list.suite === undefined ? {} : { suite: list.suite }),
    component: stage.default_component,
    defaultComponent: stage.default_component,
  };
  let seen: DebHashes | undefined;
  const signature =
    candidate.signature === undefined
      ? undefined
      : await retrying(context, candidate.label, () =>
          (candidate.signature as () => Promise<SignatureInput>)(),
        );
  return retrying(context, candidate.label, async () => {
    const download = await candidate.open();
    return ingestDeb(context.target, expectation, {
      label: candidate.label,
      download,
      source: list.source,
      ...(candidate.provenance === undefined ? {} : { provenance: candidate.provenance }),
      ...(signature === undefined ? {} : { signature }),
      expected: { ...candidate.expected, ...seen },
      maxBytes: candidate.maxBytes,
      onHashed: (hashes) => {
        seen ??= hashes;
      },
      ...(options.dryRun ? { dryRun: true } : {}),
      ...(context.now ? { now: context.now() } : {}),
    });
  });
}

/** Retries transient failures (429, 5xx, timeouts) with the store's backoff, logging each. */
export function retrying<T>(
  context: SourceContext,
  label: string,
  fn: () => Promise<T>,
): Promise<T> {
  return withRetry(fn, {
    retries: 4,
    baseMs: 500,
    maxMs: 20_000,
    ...context.retry,
    isRetryable: isTransient,
    onRetry: ({ attempt, delayMs, error }) =>
      context.target.logger.warn(
        { label, attempt, delayMs, error: describeError(error) },
        "attempt failed, retrying",
      ),
  });
}

/** Runs every candidate; a failure is logged and reported, and the others go on. */
export async function runCandidates(
  context: SourceContext,
  list: CandidateList,
  options: { dryRun?: boolean } = {},
): Promise<RunReport> {
  const ingested: RunReport["ingested"][number][] = [];
  const failed: RunReport["failed"][number][] = [];
  const results: IngestResult[] = [];
  for (const candidate of list.candidates) {
    try {
      const result = await ingestCandidate(context, list, candidate, options);
      results.push(result);
      ingested.push({
        label: candidate.label,
        id: result.record.package_id,
        outcome: result.outcome,
      });
    } catch (error) {
      const message = describeError(error);
      context.target.logger.error({ label: candidate.label, error: message }, "ingestion failed");
      failed.push({ label: candidate.label, error: message });
    }
  }
  return { ingested, skipped: list.skipped, failed, results };
}
