/** report.json: the contract's key order (the schema's), 2-space indent, trailing newline. */
export { reportJson as renderJson } from "../contracts/schemas.js";
