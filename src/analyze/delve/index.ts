/** Delve over JSON-RPC: a typed client for `dlv core` and the analysis of a core. */

export { isSecretName, isSecretType } from "../../util/secretNames.js";
export {
  createDelveSession,
  type DelveSession,
  type DelveSessionOptions,
  resolveDlvPath,
  versionWarnings,
} from "./client.js";
export {
  type AnalyzeCoreOptions,
  analyzeCoreWithDelve,
  type DelveAnalysis,
  toVariable,
} from "./delveAnalysis.js";
export type * as dlv from "./delveProtocol.js";
export {
  DLV_INSTALL_REMEDY,
  dlvAttachFailed,
  dlvBinaryMismatch,
  dlvClosed,
  dlvNoDebugInfo,
  dlvNotFound,
  dlvOpenFailed,
  dlvRpcError,
  dlvTimeout,
} from "./errors.js";
export { type FormatOptions, formatVariable, REDACTED } from "./formatVariable.js";
export { goroutineState, listGoroutineGroups, targetGoVersion } from "./goroutines.js";
export { DELVE_INSTALL_COMMAND, DELVE_VERSION, installDelve } from "./install.js";
export { type CallOptions, createRpcConnection, type RpcConnection } from "./rpc.js";
