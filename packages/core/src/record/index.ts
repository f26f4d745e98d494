export {
  type ControlAttributes,
  ControlMappingError,
  controlAttributes,
  recordControl,
} from "./control";
export { type Item, itemToRecord, recordToItem } from "./dynamo";
export {
  attributeOfField,
  CONTROL_ATTRIBUTES,
  type ControlAttribute,
  OPTIONAL_TEXT_ATTRIBUTES,
} from "./fields";
export { compareRecords, newestRecord } from "./order";
export {
  ARCHIVE_AREAS,
  type Architecture,
  architectureSchema,
  componentSchema,
  isValidDistName,
  isValidPackageName,
  isValidSection,
  KNOWN_ARCHITECTURES,
  KNOWN_SECTIONS,
  MACHINE_ARCHITECTURES,
  machineArchitectureSchema,
  PRIORITIES,
  packageNameSchema,
  prioritySchema,
  sectionSchema,
  suiteSchema,
} from "./policy";
export {
  fileAttributes,
  isSafePoolPath,
  poolPath,
  poolPathProblem,
  poolPrefix,
} from "./pool";
export {
  controlValueProblem,
  type PackageRecord,
  type PackageRecordInput,
  type PinnedFile,
  packageId,
  packageIdParts,
  packageRecordSchema,
  parseRecord,
  pinnedFileSchema,
  RECORD_SOURCES,
  RecordError,
  type RecordIssue,
  type RecordResult,
  toRecord,
} from "./schema";
