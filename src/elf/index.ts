/** The ELF and core-file reader: notes, segments, build IDs. Written here, no library. */
export * from "./buildinfo.js";
export * from "./byteSource.js";
export * from "./core.js";
export * from "./coreIdentity.js";
export * from "./coreNotes.js";
export * from "./elfStructs.js";
export * from "./errors.js";
export * from "./file.js";
export * from "./identity.js";
