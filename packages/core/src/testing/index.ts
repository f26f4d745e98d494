// Test support shared by every package's tests and the benchmark (never imported by production
// code): Debian's tools as oracles, apt in an isolated root, in-memory ports and wrappers that
// count or pause a publisher's calls. fast-check generators stay in their own files
// (record-arbitrary.ts, …), imported by path.
export { type AptRoot, type AptSource, aptRoot } from "./apt";
export { type RunResult, run, runAsync, runOk, scratch } from "./exec";
export { MemoryObjectStore } from "./memory-bucket";
export { MemoryRecords } from "./memory-records";
export { MemoryStateStore } from "./memory-state";
export { countingObjectStore, type PauseHook, type PauseStep, pausingPorts } from "./ports";
export { TEST_SETTINGS } from "./settings";
