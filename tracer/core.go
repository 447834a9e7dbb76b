package main

// An x86-64 Linux ELF core written from a stopped thread group, laid out as the kernel's
// (fs/binfmt_elf.c elf_core_dump): ELF header, program headers (PT_NOTE first, then one PT_LOAD per
// mapping in /proc/PID/maps order), the notes, then page-aligned segment data. Which mappings carry
// data follows the default coredump_filter 0x33: anonymous and written-private memory whole, the
// first page of file-backed ELF mappings (the build IDs live there), nothing of other file mappings.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const (
	page       = 4096
	ntPrstatus = 1
	ntPrfpreg  = 2
	ntPrpsinfo = 3
	ntAuxv     = 6
	ntSiginfo  = 0x53494749
	ntFile     = 0x46494c45
)

type mapping struct {
	start, end, offset uint64
	perms              string
	inode              uint64
	path               string
	dumpBytes          uint64 // how much of it the core carries
}

func readMaps(pid int) ([]mapping, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		lo, hi, _ := strings.Cut(fields[0], "-")
		var m mapping
		m.start, _ = strconv.ParseUint(lo, 16, 64)
		m.end, _ = strconv.ParseUint(hi, 16, 64)
		m.offset, _ = strconv.ParseUint(fields[2], 16, 64)
		m.perms = fields[1]
		m.inode, _ = strconv.ParseUint(fields[4], 10, 64)
		if len(fields) > 5 {
			m.path = strings.Join(fields[5:], " ")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

func (m *mapping) flags() uint32 {
	var f uint32
	if m.perms[0] == 'r' {
		f |= 4
	}
	if m.perms[1] == 'w' {
		f |= 2
	}
	if m.perms[2] == 'x' {
		f |= 1
	}
	return f
}

// chooseDump sets how many bytes of m the core holds (see the file comment).
func chooseDump(mem *os.File, m *mapping) {
	size := m.end - m.start
	switch {
	case m.perms[0] != 'r', m.path == "[vvar]", m.path == "[vvar_vclock]", m.path == "[vsyscall]":
		m.dumpBytes = 0
	case m.inode == 0 && m.perms[3] == 'p': // anonymous private: heap, stacks, Go's arenas
		m.dumpBytes = size
	case m.inode == 0: // anonymous shared
		m.dumpBytes = size
	case m.perms[3] == 'p' && m.perms[1] == 'w': // a written private file mapping (.data)
		m.dumpBytes = size
	case m.offset == 0:
		magic := make([]byte, 4)
		if _, err := mem.ReadAt(magic, int64(m.start)); err == nil && bytes.Equal(magic, []byte("\x7fELF")) {
			m.dumpBytes = page
		}
	}
}

type procStat struct{ ppid, pgrp, sid int }

func readStat(tid int) procStat {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", tid))
	if err != nil {
		return procStat{}
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 4 {
		return procStat{}
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	return procStat{ppid, pgrp, sid}
}

func note(w *bytes.Buffer, name string, typ uint32, desc []byte) {
	n := append([]byte(name), 0)
	_ = binary.Write(w, binary.LittleEndian, [3]uint32{uint32(len(n)), uint32(len(desc)), typ})
	w.Write(n)
	w.Write(make([]byte, (4-len(n)%4)%4))
	w.Write(desc)
	w.Write(make([]byte, (4-len(desc)%4)%4))
}

// prstatus mirrors struct elf_prstatus on x86-64 (include/uapi/linux/elfcore.h): 336 bytes.
func prstatus(tid int, sig syscall.Signal, regs *syscall.PtraceRegs) []byte {
	b := make([]byte, 336)
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(sig))
	le.PutUint16(b[12:], uint16(sig))
	st := readStat(tid)
	le.PutUint32(b[32:], uint32(tid))
	le.PutUint32(b[36:], uint32(st.ppid))
	le.PutUint32(b[40:], uint32(st.pgrp))
	le.PutUint32(b[44:], uint32(st.sid))
	var rb bytes.Buffer
	_ = binary.Write(&rb, le, regs) // user_regs_struct order, as syscall.PtraceRegs is
	copy(b[112:], rb.Bytes())
	le.PutUint32(b[328:], 1)
	return b
}

// prpsinfo mirrors struct elf_prpsinfo on x86-64: 136 bytes.
func prpsinfo(pid int) []byte {
	b := make([]byte, 136)
	le := binary.LittleEndian
	b[0], b[1] = 0, 'R'
	st := readStat(pid)
	if s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(s), "\n") {
			if v, ok := strings.CutPrefix(line, "Uid:"); ok {
				n, _ := strconv.Atoi(strings.Fields(v)[0])
				le.PutUint32(b[16:], uint32(n))
			}
			if v, ok := strings.CutPrefix(line, "Gid:"); ok {
				n, _ := strconv.Atoi(strings.Fields(v)[0])
				le.PutUint32(b[20:], uint32(n))
			}
		}
	}
	le.PutUint32(b[24:], uint32(pid))
	le.PutUint32(b[28:], uint32(st.ppid))
	le.PutUint32(b[32:], uint32(st.pgrp))
	le.PutUint32(b[36:], uint32(st.sid))
	comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	copy(b[40:55], bytes.TrimRight(comm, "\n"))
	args, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	args = bytes.ReplaceAll(bytes.TrimRight(args, "\x00"), []byte{0}, []byte{' '})
	copy(b[56:135], args)
	return b
}

// fileNote is NT_FILE (fs/binfmt_elf.c fill_files_note): count, page size, count × {start, end,
// offset in pages}, then the paths.
func fileNote(maps []mapping) []byte {
	var files []mapping
	for _, m := range maps {
		if m.inode != 0 && strings.HasPrefix(m.path, "/") {
			files = append(files, m)
		}
	}
	var w bytes.Buffer
	le := binary.LittleEndian
	_ = binary.Write(&w, le, [2]uint64{uint64(len(files)), page})
	for _, m := range files {
		_ = binary.Write(&w, le, [3]uint64{m.start, m.end, m.offset / page})
	}
	for _, m := range files {
		w.WriteString(strings.TrimSuffix(m.path, " (deleted)"))
		w.WriteByte(0)
	}
	return w.Bytes()
}

// writeCore writes the core of thread group pid; tids[0] is the thread that took sig (0 for a
// snapshot), every tid is stopped under this tracer. It returns the core's apparent size.
func writeCore(path string, pid int, tids []int, sig syscall.Signal) (int64, error) {
	mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return 0, err
	}
	defer mem.Close()
	maps, err := readMaps(pid)
	if err != nil {
		return 0, err
	}
	for i := range maps {
		chooseDump(mem, &maps[i])
	}

	var notes bytes.Buffer
	for i, tid := range tids {
		var regs syscall.PtraceRegs
		if err := syscall.PtraceGetRegs(tid, &regs); err != nil {
			if i == 0 {
				return 0, fmt.Errorf("registers of thread %d: %w", tid, err)
			}
			continue // a thread that ended meanwhile
		}
		s := sig
		if i > 0 {
			s = 0
		}
		note(&notes, "CORE", ntPrstatus, prstatus(tid, s, &regs))
		if i == 0 {
			note(&notes, "CORE", ntPrpsinfo, prpsinfo(pid))
			si := make([]byte, 128)
			if ptrace(ptraceGetSiginfo, tid, 0, uintptr(unsafe.Pointer(&si[0]))) == nil && sig != 0 {
				note(&notes, "CORE", ntSiginfo, si)
			}
			if auxv, err := os.ReadFile(fmt.Sprintf("/proc/%d/auxv", pid)); err == nil {
				note(&notes, "CORE", ntAuxv, auxv)
			}
			note(&notes, "CORE", ntFile, fileNote(maps))
		}
		fp := make([]byte, 512) // user_fpregs_struct
		if ptrace(ptraceGetFPRegs, tid, 0, uintptr(unsafe.Pointer(&fp[0]))) == nil {
			note(&notes, "CORE", ntPrfpreg, fp)
		}
	}

	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	le := binary.LittleEndian
	phnum := 1 + len(maps)
	headers := 64 + 56*phnum
	noteOff := uint64(headers)
	dataOff := (noteOff + uint64(notes.Len()) + page - 1) &^ (page - 1)

	var h bytes.Buffer
	h.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	_ = binary.Write(&h, le, struct {
		Type, Machine              uint16
		Version                    uint32
		Entry, Phoff, Shoff        uint64
		Flags                      uint32
		Ehsize, Phentsize, Phnum   uint16
		Shentsize, Shnum, Shstrndx uint16
	}{4, 62, 1, 0, 64, 0, 0, 64, 56, uint16(phnum), 0, 0, 0})
	type phdr struct {
		Type, Flags                             uint32
		Off, Vaddr, Paddr, Filesz, Memsz, Align uint64
	}
	_ = binary.Write(&h, le, phdr{Type: 4, Off: noteOff, Filesz: uint64(notes.Len()), Align: 4})
	off := dataOff
	for _, m := range maps {
		_ = binary.Write(&h, le, phdr{Type: 1, Flags: m.flags(), Off: off, Vaddr: m.start, Filesz: m.dumpBytes, Memsz: m.end - m.start, Align: page})
		off += m.dumpBytes
	}
	h.Write(notes.Bytes())
	if _, err := f.WriteAt(h.Bytes(), 0); err != nil {
		return 0, err
	}
	// Segment data: zero pages are left as holes (a 1 GB goroutine stack is mostly untouched).
	buf := make([]byte, 1<<20)
	zero := make([]byte, page)
	off = dataOff
	for _, m := range maps {
		for done := uint64(0); done < m.dumpBytes; {
			n := min(uint64(len(buf)), m.dumpBytes-done)
			chunk := buf[:n]
			if _, err := mem.ReadAt(chunk, int64(m.start+done)); err != nil && !errors.Is(err, io.EOF) {
				// An unreadable range (guard pages, a mapping that went away) reads as zeros.
				clear(chunk)
			}
			for p := uint64(0); p < n; {
				if bytes.Equal(chunk[p:p+page], zero) {
					p += page
					continue
				}
				q := p + page
				for q < n && !bytes.Equal(chunk[q:q+page], zero) {
					q += page
				}
				if _, err := f.WriteAt(chunk[p:q], int64(off+done+p)); err != nil {
					return 0, err
				}
				p = q
			}
			done += n
		}
		off += m.dumpBytes
	}
	if err := f.Truncate(int64(off)); err != nil {
		return 0, err
	}
	return int64(off), f.Close()
}
