export {
  LEGACY_ARCHITECTURE,
  LEGACY_PACKAGE,
  type LegacyRow,
  legacyKey,
  legacyKeys,
  legacyRowSchema,
  normaliseTimestamp,
  statedHashes,
} from "./legacy";
export {
  CopyDeniedError,
  type CopyState,
  type ItemOutcome,
  isAccessDenied,
  isItemProblem,
  type LegacyBucket,
  migrateItem,
  type Via,
} from "./migrate";
export { legacyIds, planMigration, type RowDecision } from "./plan";
export {
  type LegacyResources,
  parseTerraformState,
  readTerraformState,
  type TerraformState,
  TerraformStateError,
  terraformResources,
} from "./tfstate";
