// Command hotdump-tracer holds the parts of hotdump's crash capture that Node cannot do itself.
//
//	hotdump-tracer run --report FILE --core-dir DIR [--control SOCK] -- PROGRAM ARGS...
//	    start PROGRAM (keeping this process's pid) under a ptrace tracer that writes an ELF core of
//	    any thread group that dies of a core-dumping signal, then lets the signal kill it.
//	hotdump-tracer handle %P %i %s %t %e %c %F ...
//	    the kernel's core handler (core_pattern "|/abs/path handle ..."), see handle.go.
//	hotdump-tracer snapshot PID PATH
//	    the core of a live process no tracer holds, which then runs on (`hotdump snapshot`).
//
// Node cannot trace: libuv's SIGCHLD handler calls waitpid and steals ptrace stops of a child
// started by child_process.spawn (FIELD-NOTES.md, "Capturing where the kernel's core file fails").
package main

import (
	"fmt"
	"os"
	"runtime"
)

// The main goroutine stays on the main thread: `run` execs the service from it, and an execve from
// another thread would make that thread the leader while the tracer watches the old one.
func init() { runtime.LockOSThread() }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hotdump-tracer run|attach|handle|snapshot|version ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(runMain(os.Args[2:]))
	case "attach":
		os.Exit(attachMain(os.Args[2:]))
	case "handle":
		os.Exit(handleMain(os.Args[2:]))
	case "dump":
		os.Exit(dumpMain(os.Args[2:]))
	case "snapshot":
		os.Exit(snapshotMain(os.Args[2:]))
	case "version":
		fmt.Println(version)
	default:
		fmt.Fprintf(os.Stderr, "hotdump-tracer: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

// version is for people; hotdump rebuilds the binary whenever these sources change (tracer.ts).
const version = "hotdump-tracer 1"
