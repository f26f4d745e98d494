export * from "./ar";
export * from "./compress";
export * from "./control";
export * from "./deb";
export * from "./hashes";
export * from "./stanza";
export * from "./tar";
export * from "./version";
