//go:build linux

package spawn

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosandbox/sandbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// probe mirrors internal/checker's report.
type probe struct {
	Pid, Ppid, Sid, Pgid int
	Uid, Gid             [3]int
	Groups               []int
	Status               map[string]string
	Fds                  map[int]string
	Cwd                  string
	Umask                int
	Rlimits              map[string][2]uint64
	Env                  []string
	TtyNr                int
}

// runOut starts prog with stdout captured and returns the output and the
// exit state.
func runOut(t *testing.T, prog *Program, attr *Attr) ([]byte, *State) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if attr == nil {
		attr = &Attr{}
	}
	if attr.Files == nil {
		attr.Files = []*os.File{nil, w, os.Stderr}
	} else if attr.Files[1] == nil {
		attr.Files[1] = w
	}
	p, err := Start(prog, attr)
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	var out bytes.Buffer
	out.ReadFrom(r)
	st, err := p.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return out.Bytes(), st
}

func mustCompile(t testing.TB, e *Exec) *Program {
	t.Helper()
	p, err := Compile(e)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func runProbe(t *testing.T, e *Exec, attr *Attr) *probe {
	t.Helper()
	if e.Path == "" {
		e.Path = testutil.Checker(t)
	}
	if e.Args == nil {
		e.Args = []string{"checker", "probe"}
	}
	out, st := runOut(t, mustCompile(t, e), attr)
	if st.ExitCode() != 0 {
		t.Fatalf("checker: %v; output %s", st, out)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("decoding probe: %v\n%s", err, out)
	}
	return &p
}

// leakCheck records the process's descriptors and the arenas in use, and
// fails the test if either grew by its end, or if a child is left unreaped.
func leakCheck(t *testing.T) {
	t.Helper()
	exits.once.Do(initExits) // the package's epoll set stays open for good
	fds := openFds(t)
	inUse := LiveArenas() - int64(PooledArenas())
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			now := openFds(t)
			arenas := LiveArenas() - int64(PooledArenas())
			kids := children(t)
			if len(now) <= len(fds) && arenas <= inUse && len(kids) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("leak: fds %d → %d (%v → %v), arenas in use %d → %d, unreaped children %v",
					len(fds), len(now), fds, now, inUse, arenas, kids)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func openFds(t testing.TB) []string {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"→"+l)
	}
	return out
}

// children lists this process's children (zombies included), from every
// thread's children file.
func children(t testing.TB) []string {
	tasks, _ := os.ReadDir("/proc/self/task")
	var out []string
	for _, task := range tasks {
		b, _ := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

func sigBlk(p *probe) uint64 {
	v, _ := strconv.ParseUint(p.Status["SigBlk"], 16, 64)
	return v
}

var _ = unix.SIGKILL
