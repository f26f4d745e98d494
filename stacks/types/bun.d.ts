// Stands in for `bun`'s types in `npm run typecheck:infra` (tsconfig.infra.json maps "bun"
// here). SST's platform imports one type from "bun" (`Shell`, for `$` in workflow runners,
// which this app does not use), and bun-types' global `interface URL` redeclares Node's URL
// as a constructor, which breaks every `URL` annotation in the code the stacks import.
export type Shell = (strings: TemplateStringsArray, ...expressions: unknown[]) => unknown;
