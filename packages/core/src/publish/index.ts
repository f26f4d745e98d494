// @app/core/publish: what handlers, scripts and the local stage use of the publisher. The
// state table's definition is also importable alone (state-table.ts, for stacks/), and so are
// the manifest shapes (manifest.ts): neither loads the native xz module.
export { isS3NotFound, type ObjectInfo, type ObjectStore, S3ObjectStore } from "./bucket";
export { BuildError, buildRecordDeb } from "./build";
export { buildIndex, type Entry, type IndexFiles, parseEntries, updateIndex } from "./chunks";
export { ConflictError, MAX_ATTEMPTS } from "./commit";
export { DynamoStateStore } from "./dynamo-state";
export {
  etagMd5,
  type HeldBack,
  type Location,
  listedPool,
  locationOf,
  type PoolFile,
  type PoolRef,
  poolProblem,
  type RecordSource,
  recordFilename,
} from "./entries";
export {
  distDir,
  IMMUTABLE,
  INDEX_FILES,
  type IndexFile,
  type IndexId,
  indexDir,
  indexKey,
  indexRelDir,
  type ObjectHeaders,
  objectHeaders,
  parseIndexKey,
  REVALIDATE,
} from "./layout";
export { type FileDigest, type Manifest, manifestSchema } from "./manifest";
export { Publisher, type PublisherDeps, type PublishReport, type Touch } from "./publisher";
export {
  type ReleaseSettings,
  releaseDate,
  renderSuiteRelease,
  suiteArchitectures,
} from "./release";
export { copyNewestRepoPackage, keyringFile, renderIndexHtml, writeRootFiles } from "./root";
export {
  createPublisher,
  dynamoClient,
  publisherDeps,
  type RuntimeParams,
  s3Client,
} from "./runtime";
export {
  type PublisherSettings,
  parsePublisherSettings,
  publisherSettings,
  publisherSettingsSchema,
  type RootFiles,
  SettingsError,
} from "./settings";
export {
  type IndexState,
  parseManifest,
  parseSuiteState,
  type Retired,
  StateError,
  type StateStore,
  type SuiteCommit,
  type SuiteState,
  suiteStateSchema,
} from "./state";
export { createStateTableInput, ensureStateTable, STATE_TABLE } from "./state-table";
export { type Defaults, handleStreamBatch, type StreamTouches, touchesOf } from "./stream";
export { byHashKey } from "./writer";
