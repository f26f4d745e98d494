// The sources domain: feeds, downloads, the one ingestion path, and its handlers.
export {
  type Feed,
  type FeedDeb,
  FeedError,
  type FeedInput,
  type FeedRelease,
  feedSchema,
  parseFeed,
} from "./feed";
export {
  type Download,
  DownloadError,
  type FetchOptions,
  fetchBytes,
  isTransientDownloadError,
  openUrl,
} from "./fetch";
export {
  ConflictError,
  checkControl,
  type Expectation,
  IngestError,
  type IngestInput,
  type IngestResult,
  type IngestSourceType,
  type IngestTarget,
  ingestDeb,
  ingestRecord,
  type Provenance,
} from "./ingest";
export {
  importDebs,
  ingestOne,
  type ManualRequest,
  manualHandler,
} from "./manual";
export {
  type IndexLocation,
  indexLocation,
  isPublished,
  type WaitOptions,
  waitUntilPublished,
} from "./published";
export {
  type Candidate,
  type CandidateList,
  ingestCandidate,
  isTransient,
  type RunReport,
  retrying,
  runCandidates,
  type SourceContext,
  type SourceHandler,
} from "./run";
export { sourceContext } from "./runtime";
export {
  parseSourceSettings,
  type SourceSettings,
  sourceSettings,
  sourceSettingsSchema,
} from "./settings";
export {
  type CertificatePin,
  SignatureError,
  type SignatureInput,
  SignatureVerifier,
} from "./signature";
export {
  type Bucket,
  copyToPool,
  DEB_CONTENT_TYPE,
  objectSize,
  PART_SIZE,
  POOL_CACHE_CONTROL,
  QUEUE_SIZE,
  removeObject,
  STAGING_PREFIX,
  STALE_STAGING_MS,
  sourcesS3Client,
  stagingKey,
  sweepStaging,
  uploadStream,
} from "./staging";
export {
  architectureOf,
  feedUrl,
  pollUpstream,
  readFeed,
  type UpstreamRequest,
  upstreamHandler,
} from "./upstream";
