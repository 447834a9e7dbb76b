package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// ptrace requests and options missing from package syscall (include/uapi/linux/ptrace.h).
const (
	ptraceSeize      = 0x4206
	ptraceInterrupt  = 0x4207
	ptraceListen     = 0x4208
	ptraceGetSiginfo = 0x4202
	ptraceGetFPRegs  = 14

	optTraceFork  = 0x2
	optTraceVfork = 0x4
	optTraceClone = 0x8
	optTraceExec  = 0x10

	eventStop    = 128
	wALL         = 0x40000000 // __WALL: threads as well as processes
	prSetPtracer = 0x59616d61
)

func ptrace(req, pid int, addr, data uintptr) error {
	_, _, e := syscall.Syscall6(syscall.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

type traceOptions struct {
	report  string
	coreDir string
	control string
}

func traceFlags(name string, args []string) (*traceOptions, *flag.FlagSet, error) {
	o := &traceOptions{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&o.report, "report", "", "append JSON lines about cores and the exit here")
	fs.StringVar(&o.coreDir, "core-dir", "", "write cores here")
	fs.StringVar(&o.control, "control", "", "unix socket for `dump` requests (snapshots)")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if o.coreDir == "" {
		return nil, nil, errors.New("--core-dir is required")
	}
	return o, fs, nil
}

// runMain is the service's own process: it starts the tracer as its child, lets that child seize it
// (PR_SET_PTRACER, since Yama's ptrace_scope 1 allows only ancestors otherwise), then execs the
// service, so the service keeps the pid hotdump started and hotdump still sees its real wait status.
// Any failure to trace runs the service untraced: a service never fails to start because of capture.
func runMain(args []string) int {
	o, fs, err := traceFlags("run", args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: %v\n", err)
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "hotdump-tracer: no program to run")
		return 2
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: %v\n", err)
		return 127
	}
	if reason := startTracer(o); reason != "" {
		appendReport(o.report, map[string]any{"event": "untraced", "pid": os.Getpid(), "reason": reason})
		fmt.Fprintf(os.Stderr, "hotdump-tracer: running untraced: %s\n", reason)
	}
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "hotdump-tracer: exec %s: %v\n", path, err)
	return 126
}

func startTracer(o *traceOptions) string {
	self, err := os.Executable()
	if err != nil {
		return err.Error()
	}
	goR, goW, err := os.Pipe()
	if err != nil {
		return err.Error()
	}
	okR, okW, err := os.Pipe()
	if err != nil {
		return err.Error()
	}
	args := []string{"attach", "--pid", strconv.Itoa(os.Getpid()), "--core-dir", o.coreDir}
	if o.report != "" {
		args = append(args, "--report", o.report)
	}
	if o.control != "" {
		args = append(args, "--control", o.control)
	}
	cmd := exec.Command(self, args...)
	cmd.ExtraFiles = []*os.File{goR, okW}
	cmd.Stderr = os.Stderr
	// Its own process group: a Ctrl-C or a supervisor's kill of the service's group is the
	// service's to receive; the tracer ends when the service does.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err.Error()
	}
	goR.Close()
	okW.Close()
	defer okR.Close()
	defer goW.Close()
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRCTL, prSetPtracer, uintptr(cmd.Process.Pid), 0, 0, 0, 0); e != 0 && e != syscall.EINVAL {
		// EINVAL: no Yama; anything else is worth saying but the seize may still work.
		fmt.Fprintf(os.Stderr, "hotdump-tracer: PR_SET_PTRACER: %v\n", e)
	}
	if _, err := goW.Write([]byte{1}); err != nil {
		return "tracer did not start: " + err.Error()
	}
	line, err := bufio.NewReader(okR).ReadString('\n')
	if err != nil {
		return "tracer ended before attaching"
	}
	if line = strings.TrimSpace(line); line != "ok" {
		return line
	}
	// The tracer lives on as our child after the exec; it is reaped by whoever inherits it.
	_ = cmd.Process.Release()
	return ""
}

type thread struct {
	tid, tgid int
	frozen    bool
	pending   syscall.Signal // a signal whose delivery stop was taken while freezing
}

type tracer struct {
	opts    *traceOptions
	root    int
	threads map[int]*thread
	dumps   chan dumpRequest
	self    int
}

type dumpRequest struct {
	path  string
	reply chan string
}

func attachMain(args []string) int {
	fs := flag.NewFlagSet("attach", flag.ContinueOnError)
	pid := fs.Int("pid", 0, "")
	o := &traceOptions{}
	fs.StringVar(&o.report, "report", "", "")
	fs.StringVar(&o.coreDir, "core-dir", "", "")
	fs.StringVar(&o.control, "control", "", "")
	if err := fs.Parse(args); err != nil || *pid <= 0 {
		return 2
	}
	goR, okW := os.NewFile(3, "go"), os.NewFile(4, "ok")
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	if _, err := goR.Read(make([]byte, 1)); err != nil {
		return 1
	}
	goR.Close()
	if err := ptrace(ptraceSeize, *pid, 0, optTraceClone|optTraceFork|optTraceVfork|optTraceExec); err != nil {
		fmt.Fprintf(okW, "PTRACE_SEIZE: %v\n", err)
		return 1
	}
	t := &tracer{opts: o, root: *pid, threads: map[int]*thread{*pid: {tid: *pid, tgid: *pid}}, dumps: make(chan dumpRequest), self: os.Getpid()}
	if o.control != "" {
		if err := t.listen(); err != nil {
			fmt.Fprintf(os.Stderr, "hotdump-tracer: control socket: %v\n", err)
		}
	}
	fmt.Fprintln(okW, "ok")
	okW.Close()
	appendReport(o.report, map[string]any{"event": "traced", "pid": *pid, "tracer": t.self})
	return t.loop()
}

// loop runs on the thread that seized the tracees (ptrace requests must come from it).
func (t *tracer) loop() int {
	for {
		var ws syscall.WaitStatus
		tid, err := syscall.Wait4(-1, &ws, wALL, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: nothing left to trace
			return 0
		}
		if done := t.handle(tid, ws); done {
			if t.opts.control != "" {
				os.Remove(t.opts.control)
			}
			return 0
		}
	}
}

func (t *tracer) handle(tid int, ws syscall.WaitStatus) (done bool) {
	th := t.threads[tid]
	if th == nil {
		th = &thread{tid: tid, tgid: tgidOf(tid)}
		t.threads[tid] = th
	}
	if ws.Exited() || ws.Signaled() {
		delete(t.threads, tid)
		if tid == t.root {
			ev := map[string]any{"event": "exit", "pid": tid, "status": int(ws)}
			if ws.Exited() {
				ev["exitCode"] = ws.ExitStatus()
			} else {
				ev["signal"] = int(ws.Signal())
				ev["coreDumped"] = ws.CoreDump()
			}
			appendReport(t.opts.report, ev)
			return true
		}
		return false
	}
	if !ws.Stopped() {
		return false
	}
	sig := ws.StopSignal()
	event := int(ws) >> 16
	switch {
	case event == eventStop:
		switch sig {
		case syscall.SIGSTOP, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU:
			// A group-stop: keep it stopped (as untraced) but still see the SIGCONT.
			_ = ptrace(ptraceListen, tid, 0, 0)
		default:
			t.serveDumps(th)
			_ = syscall.PtraceCont(tid, 0)
		}
	case event != 0: // clone, fork, vfork, exec: the new tracee reports its own first stop
		_ = syscall.PtraceCont(tid, 0)
	default: // a signal about to be delivered
		if th.tgid == t.root || th.tgid == 0 {
			t.serveDumps(th)
		}
		if fatalCoreSignal(th.tgid, sig) {
			t.capture(th, sig)
		}
		_ = syscall.PtraceCont(tid, int(sig))
	}
	return false
}

// fatalCoreSignal: sig's action in tgid is the default one and that default dumps core. Go's crash
// path stops twice on SIGABRT: first into the runtime's handler, then after the runtime reset it to
// SIG_DFL; only the second one kills (FIELD-NOTES.md).
func fatalCoreSignal(tgid int, sig syscall.Signal) bool {
	switch sig {
	case syscall.SIGQUIT, syscall.SIGILL, syscall.SIGTRAP, syscall.SIGABRT, syscall.SIGBUS,
		syscall.SIGFPE, syscall.SIGSEGV, syscall.SIGXCPU, syscall.SIGXFSZ, syscall.SIGSYS:
	default:
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tgid))
	if err != nil {
		return false
	}
	bit := uint64(1) << (uint(sig) - 1)
	for _, line := range strings.Split(string(st), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "SigIgn" && k != "SigCgt") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err == nil && mask&bit != 0 {
			return false
		}
	}
	return true
}

func tgidOf(tid int) int {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// freeze stops every other thread of tgid (PTRACE_INTERRUPT, then a wait for that thread's stop),
// so the memory and registers written are one moment's.
func (t *tracer) freeze(tgid, except int) []*thread {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", tgid))
	var asked []*thread
	for _, e := range entries {
		tid, err := strconv.Atoi(e.Name())
		if err != nil || tid == except {
			continue
		}
		th := t.threads[tid]
		if th == nil {
			th = &thread{tid: tid, tgid: tgid}
			t.threads[tid] = th
		}
		if ptrace(ptraceInterrupt, tid, 0, 0) == nil {
			asked = append(asked, th)
		}
	}
	var frozen []*thread
	for _, th := range asked {
		var ws syscall.WaitStatus
		if _, err := syscall.Wait4(th.tid, &ws, wALL, nil); err != nil {
			continue
		}
		if ws.Exited() || ws.Signaled() {
			delete(t.threads, th.tid)
			continue
		}
		th.frozen, th.pending = true, 0
		if ws.Stopped() && int(ws)>>16 == 0 {
			th.pending = ws.StopSignal()
		}
		frozen = append(frozen, th)
	}
	return frozen
}

func (t *tracer) thaw(frozen []*thread) {
	for _, th := range frozen {
		th.frozen = false
		_ = syscall.PtraceCont(th.tid, int(th.pending))
	}
}

// capture writes the core of th's thread group, about to die of sig, and keeps the kernel from
// writing another (RLIMIT_CORE 1: too small for a file, and "no dump" for a pipe handler).
func (t *tracer) capture(th *thread, sig syscall.Signal) {
	start := time.Now()
	frozen := t.freeze(th.tgid, th.tid)
	name := fmt.Sprintf("core.%d.%d", th.tgid, start.Unix())
	path, size, err := writeCoreAtomically(t.opts.coreDir, name, th.tgid, th.tid, frozen, sig)
	ev := map[string]any{"event": "core", "pid": th.tgid, "tid": th.tid, "signal": int(sig), "ms": time.Since(start).Milliseconds()}
	if err != nil {
		ev["error"] = err.Error()
	} else {
		ev["path"], ev["bytes"] = path, size
		lim := syscall.Rlimit{Cur: 1, Max: 1}
		_, _, _ = syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(th.tgid), uintptr(syscall.RLIMIT_CORE), uintptr(unsafe.Pointer(&lim)), 0, 0, 0)
	}
	appendReport(t.opts.report, ev)
	t.thaw(frozen)
}

func writeCoreAtomically(dir, name string, tgid, first int, others []*thread, sig syscall.Signal) (string, int64, error) {
	final := filepath.Join(dir, name)
	tmp := filepath.Join(dir, "."+name+".partial")
	tids := []int{first}
	for _, o := range others {
		tids = append(tids, o.tid)
	}
	size, err := writeCore(tmp, tgid, tids, sig)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
		return "", 0, err
	}
	return final, size, nil
}

// A snapshot (`hotdump snapshot` of a traced service): only one tracer may attach, so Delve cannot;
// the request wakes the loop with a SIGURG (ignored by default, and Go's preemption signal, which
// the runtime tolerates spuriously) and is served at that stop.
func (t *tracer) listen() error {
	os.Remove(t.opts.control)
	l, err := net.Listen("unix", t.opts.control)
	if err != nil {
		return err
	}
	_ = os.Chmod(t.opts.control, 0o600)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go t.serveConn(c)
		}
	}()
	return nil
}

func (t *tracer) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	path, ok := strings.CutPrefix(strings.TrimSpace(line), "dump ")
	if !ok || !filepath.IsAbs(path) {
		fmt.Fprintln(c, `{"error":"expected: dump /absolute/path"}`)
		return
	}
	req := dumpRequest{path: path, reply: make(chan string, 1)}
	wake := time.NewTicker(200 * time.Millisecond)
	defer wake.Stop()
	_ = syscall.Tgkill(t.root, t.root, syscall.SIGURG)
	for {
		select {
		case t.dumps <- req:
			fmt.Fprintln(c, <-req.reply)
			return
		case <-wake.C: // the first SIGURG may have been taken by a thread already stopping
			_ = syscall.Tgkill(t.root, t.root, syscall.SIGURG)
		}
	}
}

func (t *tracer) serveDumps(th *thread) {
	for {
		select {
		case req := <-t.dumps:
			start := time.Now()
			frozen := t.freeze(th.tgid, th.tid)
			size, err := writeCore(req.path, th.tgid, append([]int{th.tid}, tidsOf(frozen)...), 0)
			t.thaw(frozen)
			out, _ := json.Marshal(map[string]any{"path": req.path, "bytes": size, "pauseMs": time.Since(start).Milliseconds(), "error": errString(err)})
			req.reply <- string(out)
		default:
			return
		}
	}
}

func tidsOf(ts []*thread) []int {
	out := make([]int, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.tid)
	}
	return out
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func appendReport(path string, ev map[string]any) {
	if path == "" {
		return
	}
	ev["time"] = time.Now().UTC().Format(time.RFC3339Nano)
	b, _ := json.Marshal(ev)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(b, '\n'))
}

// dumpMain asks a running tracer for a snapshot core: hotdump-tracer dump SOCK PATH.
func dumpMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hotdump-tracer dump SOCKET PATH")
		return 2
	}
	c, err := net.Dial("unix", args[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: %v\n", err)
		return 1
	}
	defer c.Close()
	fmt.Fprintf(c, "dump %s\n", args[1])
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: %v\n", err)
		return 1
	}
	fmt.Print(line)
	return 0
}

// snapshotMain writes the core of a running process that no tracer holds: hotdump-tracer snapshot
// PID PATH, answering {"path","bytes","pauseMs"} like a dump request. Every thread is seized and
// interrupted (the task list is read again until no thread is new: a stopped thread cannot start
// one), the core is written from /proc/PID/mem as for a crash, and each thread is let go with the
// signal it was about to take. The pause is what a service lives: the first seize to the last
// detach, with no debugger's start (Delve loads the binary's DWARF while the service waits) in it.
func snapshotMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: hotdump-tracer snapshot PID PATH")
		return 2
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil || pid <= 0 {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: bad pid %q\n", args[0])
		return 2
	}
	start := time.Now()
	pending := map[int]syscall.Signal{} // stopped threads, with the signal to hand back
	defer func() {
		for tid, sig := range pending {
			_ = ptrace(syscall.PTRACE_DETACH, tid, 0, uintptr(sig))
		}
	}()
	for round := 0; round < 100; round++ {
		entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			fmt.Fprintf(os.Stderr, "hotdump-tracer: %v\n", err)
			return 1
		}
		var seized []int
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if _, known := pending[tid]; err != nil || known {
				continue
			}
			if err := ptrace(ptraceSeize, tid, 0, 0); err != nil {
				if tid == pid {
					fmt.Fprintf(os.Stderr, "hotdump-tracer: PTRACE_SEIZE %d: %v\n", pid, err)
					return 1
				}
				continue // a thread that ended meanwhile
			}
			if ptrace(ptraceInterrupt, tid, 0, 0) == nil {
				seized = append(seized, tid)
			}
		}
		if len(seized) == 0 {
			break
		}
		for _, tid := range seized {
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(tid, &ws, wALL, nil); err != nil || ws.Exited() || ws.Signaled() {
				continue
			}
			pending[tid] = 0
			if ws.Stopped() && int(ws)>>16 == 0 {
				pending[tid] = ws.StopSignal()
			}
		}
	}
	if _, ok := pending[pid]; !ok {
		fmt.Fprintf(os.Stderr, "hotdump-tracer: process %d did not stop\n", pid)
		return 1
	}
	tids := []int{pid}
	for tid := range pending {
		if tid != pid {
			tids = append(tids, tid)
		}
	}
	size, err := writeCore(args[1], pid, tids, 0)
	for tid, sig := range pending {
		_ = ptrace(syscall.PTRACE_DETACH, tid, 0, uintptr(sig))
		delete(pending, tid)
	}
	answer := map[string]any{"path": args[1], "bytes": size, "pauseMs": time.Since(start).Milliseconds(), "error": errString(err)}
	b, _ := json.Marshal(answer)
	fmt.Println(string(b))
	if err != nil {
		return 1
	}
	return 0
}
