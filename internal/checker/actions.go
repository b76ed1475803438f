package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	commands["exit"] = func(a []string) error {
		n, _ := strconv.Atoi(arg(a, 0, "0"))
		os.Exit(n)
		return nil
	}
	commands["sleep"] = func(a []string) error {
		d, err := time.ParseDuration(arg(a, 0, "1h"))
		if err != nil {
			return err
		}
		time.Sleep(d)
		fmt.Println("ok")
		return nil
	}
	commands["spin"] = func(a []string) error {
		for x := 0; ; x++ {
			if x < 0 {
				fmt.Println(x)
			}
		}
	}
	commands["alloc"] = func(a []string) error {
		n, err := strconv.ParseInt(arg(a, 0, "0"), 10, 64)
		if err != nil {
			return err
		}
		// Touch every page so the memory is really charged.
		var keep [][]byte
		for left := n; left > 0; left -= 1 << 20 {
			b := make([]byte, min(left, 1<<20))
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			keep = append(keep, b)
		}
		fmt.Println("ok", len(keep))
		return nil
	}
	commands["cat"] = func(a []string) error {
		b, err := os.ReadFile(arg(a, 0, ""))
		if err != nil {
			fmt.Println("error", errnoName(err))
			return nil
		}
		os.Stdout.Write(b)
		return nil
	}
	commands["write"] = func(a []string) error {
		err := os.WriteFile(arg(a, 0, ""), []byte(arg(a, 1, "x")), 0o644)
		report(err)
		return nil
	}
	commands["ls"] = func(a []string) error {
		ents, err := os.ReadDir(arg(a, 0, "."))
		if err != nil {
			fmt.Println("error", errnoName(err))
			return nil
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		fmt.Println(strings.Join(names, " "))
		return nil
	}
	commands["env"] = func(a []string) error {
		for _, e := range os.Environ() {
			fmt.Println(e)
		}
		return nil
	}
	commands["output"] = func(a []string) error {
		n, _ := strconv.Atoi(arg(a, 0, "0"))
		buf := make([]byte, 64<<10)
		for i := range buf {
			buf[i] = 'x'
		}
		for n > 0 {
			k := min(n, len(buf))
			if _, err := os.Stdout.Write(buf[:k]); err != nil {
				return err
			}
			n -= k
		}
		return nil
	}
	// fork N: start N children that sleep, report how many started.
	commands["fork"] = func(a []string) error {
		n, _ := strconv.Atoi(arg(a, 0, "1"))
		started := 0
		var firstErr error
		for i := 0; i < n; i++ {
			c := exec.Command("/proc/self/exe", "sleep", "1h")
			if err := c.Start(); err != nil {
				firstErr = err
				break
			}
			started++
		}
		if firstErr != nil {
			fmt.Println("started", started, "error", errnoName(firstErr))
		} else {
			fmt.Println("started", started)
		}
		return nil
	}
	// inotify-hog D: take inotify instances until the kernel refuses one,
	// print how many and why it refused, and hold them for D.
	commands["inotify-hog"] = func(a []string) error {
		d, err := time.ParseDuration(arg(a, 0, "1h"))
		if err != nil {
			return err
		}
		n := 0
		for {
			if _, err = unix.InotifyInit1(unix.IN_CLOEXEC); err != nil {
				break
			}
			n++
		}
		fmt.Println(n, errnoName(err))
		time.Sleep(d)
		return nil
	}
	// daemon D: double-fork a sleeper that outlives us, print its pid.
	commands["daemon"] = func(a []string) error {
		c := exec.Command("/proc/self/exe", "sleep", arg(a, 0, "1h"))
		c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := c.Start(); err != nil {
			return err
		}
		fmt.Println(c.Process.Pid)
		return nil
	}
}

func arg(a []string, i int, def string) string {
	if i < len(a) {
		return a[i]
	}
	return def
}

func report(err error) {
	if err != nil {
		fmt.Println(errnoName(err))
		return
	}
	fmt.Println("ok")
}

// errnoName prints an errno as its symbol (EPERM), other errors as text.
func errnoName(err error) string {
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return fmt.Sprintf("errno%d", int(e))
	}
	return err.Error()
}
