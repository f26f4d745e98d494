export * from "./control";
export * from "./dynamo";
export * from "./fields";
export * from "./policy";
export * from "./pool";
export * from "./schema";
