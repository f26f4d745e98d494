export * from "./load";
export * from "./relations";
export * from "./schema";
export * from "./template";
