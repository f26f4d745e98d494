export * from "./apt";
export * from "./exec";
