export * from "./errors";
export * from "./retry";
export * from "./store";
export * from "./table";
