export { compareRecords, newestRecord } from "../record/order";
export {
  PinnedMismatchError,
  RecordNotFoundError,
  StoreError,
  type StoreOperation,
  TransientError,
  VersionExistsError,
} from "./errors";
export {
  backoffDelay,
  describeError,
  isTransientAwsError,
  RETRY_DEFAULTS,
  RetryExhaustedError,
  type RetryInfo,
  type RetryOptions,
  withRetry,
} from "./retry";
export {
  conflictingAttributes,
  FILE_ATTRIBUTES,
  PackageStore,
  type PackageStoreOptions,
  type PinnedFile,
  PROVENANCE_ATTRIBUTES,
  pinnedFileSchema,
  type ScanOptions,
} from "./store";
export { createTableInput, ensureTable, PACKAGE_TABLE, tableMismatches } from "./table";
