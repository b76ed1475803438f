package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
	"github.com/gosandbox/sandbox/cgroups"
	"github.com/gosandbox/sandbox/rootfs"
)

func init() {
	register("run", "run a command in a sandbox: sandbox run [flags] -- CMD [ARG…]", runRun)
}

const runUsage = `usage: sandbox run [flags] -- CMD [ARG…]

Runs CMD in the default sandbox: new user, mount, pid, ipc, uts, net and
cgroup namespaces; ids that never map to host root; read-only /usr, /bin,
/sbin, /lib*, /etc from the host on an empty read-only root; a tmpfs /tmp;
a fresh /proc; a minimal /dev; no capabilities; no_new_privs; the default
seccomp profile; hostname "sandbox". The environment is only
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin and
HOME=/, plus --env.

Exit status: the command's own; 125 when the sandbox could not be set up
(a bad flag among the causes: --status-json then records a setup-error);
126 when CMD is not executable; 127 when it is not found; 128+n when signal
n ended it (a limit kills with SIGKILL: 137, or with SIGXCPU: 152 when a
lone process reaches --time; --status-json says which limit).

flags:
`

func runRun(args []string) int {
	ppid := os.Getppid() // before anything: --die-with-parent checks it
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {} // the whole text for -h only, below
	var f runFlags
	f.register(fs)
	if err := parseFlags("run", fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stderr, runUsage)
			printFlags(fs)
		}
		// Parsing stops at the bad flag: a --status-json after it still
		// gets its record.
		return badFlags(err, cmp.Or(f.statusJSON, statusArg(fs, args)))
	}

	// Signals to sandbox run go to the sandbox (its pid 1 passes them on
	// to the command, and a terminal's INT, QUIT, HUP, TSTP, CONT and
	// WINCH to the command's process group, as a terminal would); sandbox
	// run itself keeps running to report.
	// signal.Notify costs a round trip to the runtime's signal thread per
	// signal (0.1-0.4 ms here), so it runs while the spec is built, and
	// Start waits for it: no process exists before the handlers are in.
	// They stay installed until exit (signal.Stop would cost the round
	// trips again).
	sigs := make(chan os.Signal, 4)
	notified := make(chan struct{})
	go func() {
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2,
			unix.SIGTSTP, unix.SIGCONT, unix.SIGWINCH)
		// A reader of stdout or stderr that goes away must not end
		// sandbox run (the Go runtime's default for fds 1 and 2) while
		// it relays counted output: the relay sees EPIPE, passes it on
		// to the command, and the run is recorded. A handled signal is
		// reset to the default at exec, so the command gets SIGPIPE as
		// usual.
		signal.Notify(make(chan os.Signal, 1), unix.SIGPIPE)
		close(notified)
	}()

	c, err := f.command(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox run:", strings.TrimPrefix(err.Error(), "sandbox: "))
		return badFlags(err, f.statusJSON)
	}
	if f.printSpec {
		for _, w := range f.warnings {
			fmt.Fprintln(os.Stderr, "sandbox run: warning:", w)
		}
		spec, err := c.EffectiveSpec()
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run:", strings.TrimPrefix(err.Error(), "sandbox: "))
			return exitSetup
		}
		writeJSON(os.Stdout, spec)
		return 0
	}
	// The record's file is opened now, before anything runs: the command
	// may write where PATH points (a bind of the directory holding it), and
	// must not get to choose what this process opens afterwards.
	var status *statusFile
	if f.statusJSON != "" {
		if status, err = openStatus(f.statusJSON); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --status-json:", err)
			return exitSetup
		}
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	if sameFile(1, 2) {
		// 2>&1 (or a terminal for both): one writer, so that counted
		// output goes through one pipe and keeps the order it was
		// written in (--output-limit keeps the first bytes).
		c.Stderr = os.Stdout
	}
	tty := c.Spec.Process != nil && c.Spec.Process.Terminal
	if _, err := unix.IoctlGetTermios(0, unix.TCGETS); tty && err != nil {
		// Input that is not a terminal's would be typed into the
		// command's: echoed into its output, lines past 4095 bytes cut.
		if f.tty {
			err := errors.New("--tty: stdin is not a terminal (piped input would be echoed and its long lines cut); drop --tty")
			fmt.Fprintln(os.Stderr, "sandbox run:", strings.TrimPrefix(err.Error(), "sandbox: "))
			return badFlags(err, f.statusJSON)
		}
		f.warnings = append(f.warnings, "process.terminal: stdin is not a terminal: its input is typed into the command's terminal, which echoes it and cuts lines longer than 4095 bytes")
	}
	for _, w := range f.warnings {
		fmt.Fprintln(os.Stderr, "sandbox run: warning:", w)
	}

	if f.dieWithParent {
		if err := dieWithParent(ppid); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --die-with-parent:", err)
			if status != nil {
				status.write(sandbox.SetupResult(err))
			}
			return exitSetup
		}
	}
	<-notified
	evacuateForLimits(c)
	ttys := saveTTYs()
	var res *sandbox.Result
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox run:", strings.TrimPrefix(err.Error(), "sandbox: "))
		res = c.Result
	} else {
		// pid 1 shares this process's memory, and an unprivileged
		// caller's stays dumpable until now (its children wrote their id
		// maps through /proc/self): the command, with pid 1's ids, could
		// set this process's out-of-memory score or core dump filter
		// through /proc/1. Nothing else is spawned from here on.
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		for _, u := range c.Unenforced() {
			fmt.Fprintln(os.Stderr, "sandbox run: warning: not enforced:", u)
		}
		if tty {
			// Keys go to the command's terminal as they are typed (^C
			// as a byte, which its terminal turns into SIGINT); the
			// saved settings come back at the end.
			makeRaw(0)
		}
		resize := func() {
			if ws, err := unix.IoctlGetWinsize(0, unix.TIOCGWINSZ); err == nil {
				c.ResizeTerminal(ws.Row, ws.Col)
			}
		}
		go func() {
			for s := range sigs {
				if tty && s == unix.SIGWINCH {
					// The window changed: the command's terminal
					// follows, and its kernel tells the command.
					resize()
					continue
				}
				c.Process.Signal(s.(unix.Signal))
				switch {
				case s == unix.SIGTSTP:
					// The command's group was told to stop; now stop
					// as asked, so that the shell's job control sees
					// the job stopped (its SIGCONT, fg or bg, is
					// passed on in turn), leaving the caller's
					// terminal as it was, not raw.
					if tty {
						restoreTTYs(ttys)
					}
					unix.Kill(os.Getpid(), unix.SIGSTOP)
				case s == unix.SIGCONT && tty:
					// Back (fg): the shell has put its own settings
					// on the terminal, and the window may have
					// changed meanwhile.
					makeRaw(0)
					resize()
				}
			}
		}()
		res, _ = c.Wait()
		restoreTTYs(ttys)
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(os.Stderr, "sandbox run: warning:", w)
	}
	if status != nil {
		if err := status.write(res); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --status-json:", err)
		}
	}
	return res.ExitStatus()
}

// statusArg finds the value of --status-json among args as the flag
// package would have read them (the last one given, among the flags
// before "--" or the first argument that is not a flag), for a run whose
// flags did not parse.
func statusArg(fs *flag.FlagSet, args []string) string {
	path := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			break
		}
		name, _, hasVal := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		fl := fs.Lookup(name)
		if fl == nil || hasVal {
			if name == "status-json" {
				_, path, _ = strings.Cut(a, "=")
			}
			continue
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) { // the flag's value
			i++
			if name == "status-json" {
				path = args[i]
			}
		}
	}
	return path
}

// badFlags ends a run refused for its flags: exit 0 for -h, else 125
// with a setup-error record at statusPath when that flag was read (flag
// parsing stops at the first bad flag, and has printed it).
func badFlags(err error, statusPath string) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if statusPath != "" {
		status, werr := openStatus(statusPath)
		if werr == nil {
			werr = status.write(sandbox.SetupResult(err))
		}
		if werr != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --status-json:", werr)
		}
	}
	return exitSetup
}

// statusFile is where --status-json goes: a stream (stderr for "-" or
// /dev/stderr, stdout for /dev/stdout), else a regular
// file opened before the command starts. The open refuses a symbolic link
// in the last component and anything but a regular file (a FIFO planted
// where the record goes would block the write forever), so a command that
// can write in the record's directory cannot point the record at another
// file: sandbox run often runs as root, and the record would truncate
// whatever the link names.
type statusFile struct {
	f   *os.File  // the record's own file; nil for a stream
	out io.Writer // the stream: stderr ("-", /dev/stderr) or stdout (/dev/stdout), after an empty line
}

// openStatus opens --status-json's PATH: "-" or /dev/stderr for stderr,
// /dev/stdout for stdout (after the command's output, which it follows
// there), else a regular file, never through a symbolic link.
func openStatus(path string) (*statusFile, error) {
	switch path {
	case "-", "/dev/stderr":
		return &statusFile{out: os.Stderr}, nil
	case "/dev/stdout":
		return &statusFile{out: os.Stdout}, nil
	}
	// No link on the way but root's or the caller's: a sandbox that can
	// write a directory above the record (a --bind of it) must not point
	// a later run's record at a file of its choice.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dir, err := rootfs.ResolveTrusted(filepath.Dir(abs), uint32(os.Geteuid()))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, filepath.Join(dir, filepath.Base(abs)), &unix.OpenHow{
		Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC, Mode: 0o644,
		Resolve: unix.RESOLVE_NO_SYMLINKS})
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("open %s: refusing a symbolic link: %w", path, err)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = fmt.Errorf("open %s: not a regular file (%v)", path, st.Mode().Type())
		}
		return nil, err
	}
	// An earlier run's record must not outlive this run: were sandbox run
	// killed before it writes, a reader would take it for this one's.
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, err
	}
	return &statusFile{f: f}, nil
}

// write replaces the file's contents with the record and closes it.
func (s *statusFile) write(res *sandbox.Result) error {
	if s.f == nil {
		// A stream the command shares: it may have left it non-blocking
		// (a full pipe would then refuse the record) and mid-line; the
		// record starts on a line of its own.
		if f, ok := s.out.(*os.File); ok {
			unix.SetNonblock(int(f.Fd()), false)
		}
		fmt.Fprintln(s.out)
		return writeJSON(s.out, res)
	}
	defer s.f.Close()
	if err := s.f.Truncate(0); err != nil {
		return err
	}
	if err := writeJSON(s.f, res); err != nil {
		return err
	}
	return s.f.Close()
}

// dieWithParent has the kernel send SIGKILL to sandbox run when the
// process that started it dies (as bwrap's --die-with-parent), and
// sandbox run's death ends the sandbox. The signal is tied to the parent's
// thread that forked sandbox run (PR_SET_PDEATHSIG). ppid is the parent
// read at start: if it is gone already, nothing would ever fire.
func dieWithParent(ppid int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_PDEATHSIG): %w", err)
	}
	if os.Getppid() != ppid {
		return fmt.Errorf("the parent (pid %d) exited before sandbox run started", ppid)
	}
	return nil
}

// evacuateForLimits moves sandbox run into a leaf of its own cgroup2
// cgroup when it was started alone in a delegated one (systemd-run --user
// --scope -p Delegate=yes): cgroup v2 lets that cgroup give its children
// the controllers the limits need only while it holds no process. Where
// that does not apply, or fails, the limits are listed unenforced as
// before.
func evacuateForLimits(c *sandbox.Cmd) {
	spec, err := c.EffectiveSpec()
	if err != nil || spec.Linux == nil || spec.Linux.Resources == nil {
		return // Start reports a bad spec
	}
	res, _, err := cgroups.FromOCI(spec.Linux.Resources)
	if err != nil || !res.Any() {
		return
	}
	if cl, err := cgroups.Detect(); err == nil {
		cl.EvacuateFor(&res, "supervisor")
	}
}

// sameFile reports whether descriptors a and b are the same file (device
// and inode): the same pipe, terminal or file.
func sameFile(a, b int) bool {
	var sa, sb unix.Stat_t
	return unix.Fstat(a, &sa) == nil && unix.Fstat(b, &sb) == nil && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
