package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	sandbox "github.com/gosandbox/sandbox"
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
n ended it (a limit kills with SIGKILL: 137; --status-json says which).

flags:
`

func runRun(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {} // the whole text for -h only, below
	var f runFlags
	f.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(os.Stderr, runUsage)
			fs.PrintDefaults()
		}
		return badFlags(err, f.statusJSON)
	}

	// Signals to sandbox run go to the sandbox (its pid 1 passes them on
	// to the command); sandbox run itself keeps running to report.
	// signal.Notify costs a round trip to the runtime's signal thread per
	// signal (0.1-0.4 ms here), so it runs while the spec is built, and
	// Start waits for it: no process exists before the handlers are in.
	// They stay installed until exit (signal.Stop would cost the round
	// trips again).
	sigs := make(chan os.Signal, 4)
	notified := make(chan struct{})
	go func() {
		signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		close(notified)
	}()

	c, err := f.command(fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox run:", err)
		return badFlags(err, f.statusJSON)
	}
	if f.printSpec {
		spec, err := c.EffectiveSpec()
		if err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run:", err)
			return exitSetup
		}
		writeJSON(os.Stdout, spec)
		return 0
	}
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	for _, w := range f.warnings {
		fmt.Fprintln(os.Stderr, "sandbox run: warning:", w)
	}

	<-notified
	ttys := saveTTYs()
	var res *sandbox.Result
	if err := c.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox run:", err)
		res = c.Result
	} else {
		for _, u := range c.Unenforced() {
			fmt.Fprintln(os.Stderr, "sandbox run: warning: not enforced:", u)
		}
		go func() {
			for s := range sigs {
				c.Process.Signal(s.(unix.Signal))
			}
		}()
		res, _ = c.Wait()
		restoreTTYs(ttys)
	}
	for _, w := range c.Warnings {
		fmt.Fprintln(os.Stderr, "sandbox run: warning:", w)
	}
	if f.statusJSON != "" {
		if err := writeStatus(f.statusJSON, res); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --status-json:", err)
		}
	}
	return res.ExitStatus()
}

// badFlags ends a run refused for its flags: exit 0 for -h, else 125
// with a setup-error record at statusPath when that flag was read (flag
// parsing stops at the first bad flag, and has printed it).
func badFlags(err error, statusPath string) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if statusPath != "" {
		if werr := writeStatus(statusPath, sandbox.SetupResult(err)); werr != nil {
			fmt.Fprintln(os.Stderr, "sandbox run: --status-json:", werr)
		}
	}
	return exitSetup
}

func writeStatus(path string, res *sandbox.Result) error {
	if path == "-" {
		return writeJSON(os.Stderr, res)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := writeJSON(f, res); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
