/**
 * Decoders for the notes Linux writes into an x86-64 core (fs/binfmt_elf.c fill_note_info).
 * Layouts mirror linux v6.x: include/uapi/linux/elfcore.h (elf_prstatus, elf_prpsinfo),
 * arch/x86/include/asm/user_64.h (user_regs_struct), include/uapi/asm-generic/siginfo.h,
 * include/uapi/linux/auxvec.h, and fs/binfmt_elf.c fill_files_note (NT_FILE).
 * Each decoder takes the note's desc and returns null when it is too short to hold the struct.
 */

export const NT = {
  PRSTATUS: 1,
  FPREGSET: 2,
  PRPSINFO: 3,
  AUXV: 6,
  SIGINFO: 0x53494749,
  FILE: 0x46494c45,
  X86_XSTATE: 0x202,
} as const;

/** user_regs_struct order: 27 unsigned longs. */
export const X86_64_REGISTER_NAMES = [
  "r15",
  "r14",
  "r13",
  "r12",
  "rbp",
  "rbx",
  "r11",
  "r10",
  "r9",
  "r8",
  "rax",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "orig_rax",
  "rip",
  "cs",
  "eflags",
  "rsp",
  "ss",
  "fs_base",
  "gs_base",
  "ds",
  "es",
  "fs",
  "gs",
] as const;
type X86_64Register = (typeof X86_64_REGISTER_NAMES)[number];
type X86_64Registers = Record<X86_64Register, bigint>;

/** elf_prstatus on x86-64: 112 bytes of header, 216 of registers, pr_fpvalid; 336 in all. */
const PRSTATUS_REGS_AT = 112;
const PRSTATUS_SIZE = 336;

export interface ThreadStatus {
  /** pr_pid: the thread's id (tid). The first NT_PRSTATUS is the thread that took the signal. */
  tid: number;
  /** pr_ppid, pr_pgrp, pr_sid as the kernel filled them. */
  ppid: number;
  pgrp: number;
  sid: number;
  /** pr_cursig: the fatal signal. fs/binfmt_elf.c fill_thread_core_info passes the same signr for
   * every thread, so it does not single out the crashing one: the first NT_PRSTATUS does (the
   * kernel writes the dumping thread first). */
  cursig: number;
  /** pr_info.si_signo/si_code/si_errno (Linux fills si_signo only). */
  infoSigno: number;
  sigpend: bigint;
  sighold: bigint;
  registers: X86_64Registers;
}

export function decodePrstatus(d: Buffer): ThreadStatus | null {
  if (d.length < PRSTATUS_SIZE - 8) return null;
  const registers = {} as X86_64Registers;
  X86_64_REGISTER_NAMES.forEach((n, i) => {
    registers[n] = d.readBigUInt64LE(PRSTATUS_REGS_AT + i * 8);
  });
  return {
    infoSigno: d.readInt32LE(0),
    cursig: d.readInt16LE(12),
    sigpend: d.readBigUInt64LE(16),
    sighold: d.readBigUInt64LE(24),
    tid: d.readInt32LE(32),
    ppid: d.readInt32LE(36),
    pgrp: d.readInt32LE(40),
    sid: d.readInt32LE(44),
    registers,
  };
}

export interface ProcessInfo {
  /** pr_sname: R, S, D, T, Z... */
  state: string;
  flag: bigint;
  uid: number;
  gid: number;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  /** pr_fname: the command name, at most 15 bytes (comm). */
  fname: string;
  /** pr_psargs: the command line with NULs turned to spaces, cut at 80 bytes. */
  psargs: string;
}

const fixedString = (d: Buffer, at: number, len: number) => {
  const s = d.subarray(at, at + len);
  const nul = s.indexOf(0);
  return s.toString("utf8", 0, nul === -1 ? s.length : nul);
};

/** elf_prpsinfo on x86-64: 136 bytes. */
export function decodePrpsinfo(d: Buffer): ProcessInfo | null {
  if (d.length < 136) return null;
  return {
    state: String.fromCharCode(d[1]!),
    flag: d.readBigUInt64LE(8),
    uid: d.readUInt32LE(16),
    gid: d.readUInt32LE(20),
    pid: d.readInt32LE(24),
    ppid: d.readInt32LE(28),
    pgrp: d.readInt32LE(32),
    sid: d.readInt32LE(36),
    fname: fixedString(d, 40, 16),
    psargs: fixedString(d, 56, 80).trimEnd(),
  };
}

export interface SignalInfo {
  signo: number;
  errno: number;
  code: number;
  /** si_addr: meaningful for SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP; null otherwise. */
  faultAddr: bigint | null;
  /** si_pid/si_uid: who sent it, for signals sent by kill/tgkill (si_code <= 0, SI_USER/SI_TKILL). */
  senderPid: number | null;
  senderUid: number | null;
}

const FAULT_SIGNALS = new Set([4, 5, 7, 8, 11]); // SIGILL SIGTRAP SIGBUS SIGFPE SIGSEGV

/** siginfo_t: 128 bytes; on 64-bit the union starts at offset 16. */
export function decodeSiginfo(d: Buffer): SignalInfo | null {
  if (d.length < 24) return null;
  const signo = d.readInt32LE(0);
  const code = d.readInt32LE(8);
  const fault = FAULT_SIGNALS.has(signo) && code > 0;
  const sent = code <= 0;
  return {
    signo,
    errno: d.readInt32LE(4),
    code,
    faultAddr: fault ? d.readBigUInt64LE(16) : null,
    senderPid: sent ? d.readInt32LE(16) : null,
    senderUid: sent ? d.readUInt32LE(20) : null,
  };
}

export const AT = {
  NULL: 0,
  PHDR: 3,
  PHENT: 4,
  PHNUM: 5,
  PAGESZ: 6,
  BASE: 7,
  ENTRY: 9,
  RANDOM: 25,
  EXECFN: 31,
  SYSINFO_EHDR: 33,
} as const;

export interface AuxvEntry {
  type: number;
  value: bigint;
}

export function decodeAuxv(d: Buffer): AuxvEntry[] {
  const out: AuxvEntry[] = [];
  for (let o = 0; o + 16 <= d.length; o += 16) {
    const type = Number(d.readBigUInt64LE(o));
    if (type === AT.NULL) break;
    out.push({ type, value: d.readBigUInt64LE(o + 8) });
  }
  return out;
}

export interface MappedFile {
  start: bigint;
  end: bigint;
  /** Byte offset into the file (NT_FILE stores it in pages; multiplied out here). */
  fileOffset: bigint;
  path: string;
}

/** NT_FILE: count, page size, count × {start, end, page offset}, then count NUL-terminated paths. */
export function decodeFileNote(d: Buffer): MappedFile[] | null {
  if (d.length < 16) return null;
  const count = d.readBigUInt64LE(0);
  const pageSize = d.readBigUInt64LE(8);
  if (count > BigInt(Math.floor((d.length - 16) / 24))) return null;
  const n = Number(count);
  const out: MappedFile[] = [];
  let names = 16 + n * 24;
  for (let i = 0; i < n; i++) {
    const o = 16 + i * 24;
    const nul = d.indexOf(0, names);
    const stop = nul === -1 ? d.length : nul;
    out.push({
      start: d.readBigUInt64LE(o),
      end: d.readBigUInt64LE(o + 8),
      fileOffset: d.readBigUInt64LE(o + 16) * pageSize,
      path: d.toString("utf8", names, stop),
    });
    names = Math.min(d.length, stop + 1);
  }
  return out;
}
