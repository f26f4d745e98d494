export { compareRecords, newestRecord } from "../record/order";
export { type PinnedFile, pinnedFileSchema } from "../record/schema";
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
  PROVENANCE_ATTRIBUTES,
  type ScanOptions,
} from "./store";
export { createTableInput, ensureTable, PACKAGE_TABLE, tableMismatches } from "./table";
