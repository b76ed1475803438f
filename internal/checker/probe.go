package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Probe is what the checker sees from inside. Tests decode it.
type Probe struct {
	Pid, Ppid, Sid, Pgid int
	Uid, Gid             [3]int // real, effective, saved
	Groups               []int
	UidMap, GidMap       string
	Setgroups            string
	Status               map[string]string // /proc/self/status: CapEff, NoNewPrivs, Seccomp, SigBlk…
	Fds                  map[int]string    // descriptor → readlink target
	Cwd                  string
	Hostname, Domainname string
	Umask                int
	Rlimits              map[string][2]uint64
	Mounts               []Mount
	Env                  []string
	Dumpable             int
	TtyNr                int               // field 7 of /proc/self/stat: the controlling terminal
	Namespaces           map[string]string // /proc/self/ns/<type> → "net:[4026531840]"
	OOMScoreAdj          string
}

// Mount is one line of /proc/self/mountinfo.
type Mount struct {
	Point, FSType, Source, Options, SuperOptions string
}

func init() { commands["probe"] = probe }

func probe(args []string) error {
	var p Probe
	p.Pid, p.Ppid = os.Getpid(), os.Getppid()
	p.Sid, _ = unix.Getsid(0)
	p.Pgid = unix.Getpgrp()
	r, e, s := unix.Getresuid()
	p.Uid = [3]int{r, e, s}
	r, e, s = unix.Getresgid()
	p.Gid = [3]int{r, e, s}
	p.Groups, _ = unix.Getgroups()
	p.UidMap = readTrim("/proc/self/uid_map")
	p.GidMap = readTrim("/proc/self/gid_map")
	p.Setgroups = readTrim("/proc/self/setgroups")
	p.Status = map[string]string{}
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok {
				p.Status[k] = strings.TrimSpace(v)
			}
		}
		f.Close()
	}
	p.Fds = map[int]string{}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		for _, e := range ents {
			n, _ := strconv.Atoi(e.Name())
			t, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
			p.Fds[n] = t
		}
	}
	p.Cwd, _ = os.Getwd()
	var u unix.Utsname
	unix.Uname(&u)
	p.Hostname = unix.ByteSliceToString(u.Nodename[:])
	p.Domainname = unix.ByteSliceToString(u.Domainname[:])
	p.Umask = unix.Umask(0)
	unix.Umask(p.Umask)
	p.Rlimits = map[string][2]uint64{}
	for name, res := range map[string]int{"NOFILE": unix.RLIMIT_NOFILE, "NPROC": unix.RLIMIT_NPROC, "CPU": unix.RLIMIT_CPU,
		"FSIZE": unix.RLIMIT_FSIZE, "AS": unix.RLIMIT_AS, "CORE": unix.RLIMIT_CORE, "STACK": unix.RLIMIT_STACK} {
		var rl unix.Rlimit
		if unix.Getrlimit(res, &rl) == nil {
			p.Rlimits[name] = [2]uint64{rl.Cur, rl.Max}
		}
	}
	if f, err := os.Open("/proc/self/mountinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// id parent major:minor root point options [optional…] - fstype source superopts
			pre, post, ok := strings.Cut(sc.Text(), " - ")
			if !ok {
				continue
			}
			a, b := strings.Fields(pre), strings.Fields(post)
			if len(a) < 6 || len(b) < 3 {
				continue
			}
			p.Mounts = append(p.Mounts, Mount{Point: unescape(a[4]), Options: a[5], FSType: b[0], Source: b[1], SuperOptions: b[2]})
		}
		f.Close()
	}
	p.Env = os.Environ()
	sort.Strings(p.Env)
	d, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	p.Dumpable = d
	p.Namespaces = map[string]string{}
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"} {
		if l, err := os.Readlink("/proc/self/ns/" + ns); err == nil {
			p.Namespaces[ns] = l
		}
	}
	p.OOMScoreAdj = readTrim("/proc/self/oom_score_adj")
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The command name may hold spaces; fields resume after its ')'.
		if i := strings.LastIndexByte(string(b), ')'); i > 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 4 {
				p.TtyNr, _ = strconv.Atoi(f[4])
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	return enc.Encode(&p)
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.TrimSpace(string(b))
}

// unescape undoes mountinfo's octal escapes (\040 for space…).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
