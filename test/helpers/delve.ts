import { Kind, type Variable } from "../../src/analyze/delve/delveProtocol.js";

/** A Delve Variable with the defaults Delve sends for unused fields. */
export function delveVariable(p: Partial<Variable>): Variable {
  return {
    name: "",
    addr: 0xc000010000,
    onlyAddr: false,
    type: "",
    realType: "",
    flags: 0,
    kind: Kind.Invalid,
    value: "",
    len: 0,
    cap: 0,
    children: [],
    base: 0,
    unreadable: "",
    ...p,
  };
}
