//go:build linux

package hostids

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A helper process: reserves from the pool the environment describes,
// prints the base, and holds the range until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("HOSTIDS_TEST_HOLD"); dir != "" {
		first, _ := strconv.ParseUint(os.Getenv("HOSTIDS_TEST_FIRST"), 10, 32)
		r, err := Pool{First: uint32(first), Ranges: 1, Dir: dir}.Reserve()
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString(strconv.FormatUint(uint64(r.Base), 10) + "\n")
		time.Sleep(time.Hour) // until killed: the lock ends with the process
	}
	os.Exit(m.Run())
}

func testPool(t *testing.T, ranges int) Pool {
	t.Helper()
	return Pool{First: 0x10000 * 40, Ranges: ranges, Dir: filepath.Join(t.TempDir(), "locks")}
}

func lockFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestReserveDistinct(t *testing.T) {
	p := testPool(t, 3)
	var held []*Reservation
	seen := map[uint32]bool{}
	for i := 0; i < 3; i++ {
		r, err := p.Reserve()
		if err != nil {
			t.Fatalf("reservation %d: %v", i, err)
		}
		if seen[r.Base] || r.Base%RangeSize != 0 || r.Base < p.First || r.Base >= p.First+3*RangeSize {
			t.Fatalf("reservation %d: base %d (held: %v)", i, r.Base, seen)
		}
		seen[r.Base] = true
		held = append(held, r)
	}
	if r, err := p.Reserve(); err == nil || !strings.Contains(err.Error(), "all 3 ranges") {
		t.Fatalf("a fourth reservation from 3 ranges: %+v, %v", r, err)
	}
	if got := lockFiles(t, p.Dir); len(got) != 3 {
		t.Errorf("lock files while 3 are held: %v", got)
	}
	freed := held[1].Base
	if err := held[1].Release(); err != nil {
		t.Fatal(err)
	}
	if err := held[1].Release(); err != nil {
		t.Errorf("a second Release: %v", err)
	}
	r, err := p.Reserve()
	if err != nil || r.Base != freed {
		t.Fatalf("after a release: %+v, %v; want base %d", r, err, freed)
	}
	held[1] = r
	for _, r := range held {
		r.Release()
	}
	if got := lockFiles(t, p.Dir); len(got) != 0 {
		t.Errorf("lock files left after every release: %v", got)
	}
}

// TestReserveAcrossProcesses: a range another process holds is not handed
// out, and is free again the moment that process dies, released or not.
func TestReserveAcrossProcesses(t *testing.T) {
	p := testPool(t, 1)
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), "HOSTIDS_TEST_HOLD="+p.Dir, "HOSTIDS_TEST_FIRST="+strconv.FormatUint(uint64(p.First), 10))
	holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the test
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer holder.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != strconv.FormatUint(uint64(p.First), 10) {
		t.Fatalf("the holder said %q", line)
	}
	if r, err := p.Reserve(); err == nil {
		t.Fatalf("reserved %d while another process holds the only range", r.Base)
	}
	holder.Process.Kill()
	holder.Wait()
	r, err := p.Reserve()
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	if r.Base != p.First {
		t.Errorf("base %d, want %d", r.Base, p.First)
	}
	r.Release()
}

// TestHoldOutlivesHolder: a holder killed outright (no Release) frees its
// lock at once, but not the range while the sandbox it recorded with Hold
// still runs; a zombie does not count as running.
func TestHoldOutlivesHolder(t *testing.T) {
	p := testPool(t, 1)
	r, err := p.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Hold(-1); err == nil {
		t.Error("Hold of a process that does not exist")
	}
	sb := exec.Command("sleep", "60")
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sb.Process.Kill(); sb.Wait() }()
	if err := r.Hold(sb.Process.Pid); err != nil {
		t.Fatal(err)
	}
	unix.Close(r.fd) // the holder dies: its lock goes, its file stays
	unix.Close(r.dir)
	r.held = false
	if got, err := p.Reserve(); err == nil {
		t.Fatalf("reserved %d while the sandbox recorded in it runs", got.Base)
	}
	sb.Process.Signal(syscall.SIGKILL)
	for { // a zombie until reaped below
		if _, state, err := procStart(sb.Process.Pid); err != nil || state == 'Z' {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := p.Reserve()
	if err != nil || got.Base != p.First {
		t.Fatalf("after the sandbox died: %+v, %v", got, err)
	}
	if err := got.Hold(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(p.Dir, strconv.FormatUint(uint64(p.First), 10))); len(strings.Fields(string(b))) != 3 {
		t.Errorf("lock file after Hold: %q", b)
	}
	got.Release()
	if err := got.Hold(os.Getpid()); err == nil {
		t.Error("Hold after Release")
	}
}

// TestReserveSkipsTakenIDs: ranges that overlap an account, a group or a
// subordinate range are never handed out.
func TestReserveSkipsTakenIDs(t *testing.T) {
	p := testPool(t, 5)
	dir := t.TempDir()
	write := func(name, s string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	r := func(k int) uint64 { return uint64(p.First) + uint64(k)*RangeSize }
	p.Passwd = write("passwd", "svc:x:"+strconv.FormatUint(r(0)+5, 10)+":1::/:/bin/false\n")
	p.Group = write("group", "# a comment\ngrp:x:"+strconv.FormatUint(r(1)+RangeSize-1, 10)+":\n")
	p.SubUID = write("subuid", "alice:"+strconv.FormatUint(r(2)-10, 10)+":11\n")                 // its last id is r(2)
	p.SubGID = write("subgid", "bob:"+strconv.FormatUint(r(3)+RangeSize, 10)+":65536\nbroken\n") // that is r(4)
	var got []uint64
	for {
		res, err := p.Reserve()
		if err != nil {
			break
		}
		defer res.Release()
		got = append(got, uint64(res.Base))
	}
	if !slices.Equal(got, []uint64{r(3)}) {
		t.Errorf("reserved %v, want only %d", got, r(3))
	}
	who := Conflicts(r(0), 4*RangeSize, p.Passwd, p.Group, p.SubUID, p.SubGID)
	if len(who) != 3 || !strings.Contains(who[0], "svc (id") || !strings.Contains(who[1], "grp (id") || !strings.Contains(who[2], "alice (") {
		t.Errorf("conflicts: %q", who)
	}
}

func TestReserveRefusesBadPools(t *testing.T) {
	base := t.TempDir()
	open := filepath.Join(base, "open")
	os.Mkdir(open, 0o777)
	os.Chmod(open, 0o777)
	link := filepath.Join(base, "link")
	os.Symlink(t.TempDir(), link)
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o600)
	for _, c := range []struct {
		name string
		pool Pool
		want string
	}{
		{"writable by others", Pool{First: RangeSize, Ranges: 1, Dir: open}, "writable by nobody else"},
		{"a symbolic link", Pool{First: RangeSize, Ranges: 1, Dir: link}, "must be a directory"},
		{"a file", Pool{First: RangeSize, Ranges: 1, Dir: file}, "not a directory"},
		{"no directory", Pool{First: RangeSize, Ranges: 1}, "no lock directory"},
		{"unaligned", Pool{First: RangeSize + 1, Ranges: 1, Dir: base}, "multiple of 65536"},
		{"no ranges", Pool{First: RangeSize, Dir: base}, "multiple of 65536"},
		{"past 2^32-1", Pool{First: 0xFFFF0000, Ranges: 1, Dir: base}, "below 2^32-1"},
	} {
		if r, err := c.pool.Reserve(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %+v, %v; want an error with %q", c.name, r, err, c.want)
			r.Release()
		}
		if _, _, err := c.pool.Status(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Status: %v; want an error with %q", c.name, err, c.want)
		}
	}
	if got := lockFiles(t, open); len(got) != 0 {
		t.Errorf("a refused pool got lock files: %v", got)
	}
}

// TestReserveKeepsNoDescriptors: a reservation holds two descriptors
// until Release, and none after; a zero Reservation holds none.
func TestReserveKeepsNoDescriptors(t *testing.T) {
	p := testPool(t, 2)
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := fds()
	for i := 0; i < 5; i++ {
		r, err := p.Reserve()
		if err != nil {
			t.Fatal(err)
		}
		if n := fds() - before; n != 2 {
			t.Errorf("a reservation holds %d descriptors, want 2", n)
		}
		r.Release()
	}
	if n := fds() - before; n != 0 {
		t.Errorf("%d descriptors more after 5 reservations released", n)
	}
	var zero Reservation // holds nothing: Release must not close fd 0
	if err := zero.Release(); err != nil || zero.Hold(os.Getpid()) == nil {
		t.Errorf("a zero Reservation: Release %v", err)
	}
	if n := fds() - before; n != 0 {
		t.Errorf("a zero Reservation's Release closed a descriptor: %d", n)
	}
}

func TestDefaultPool(t *testing.T) {
	p := DefaultPool()
	last := uint64(p.First) + uint64(p.Ranges)*RangeSize - 1
	// Above systemd-nspawn's container ranges, below systemd's foreign
	// range and 2^31.
	if p.First <= 1879048191 || last >= 0x7FFE0000 || p.First%RangeSize != 0 {
		t.Errorf("default pool %d-%d", p.First, last)
	}
}

// TestStatus counts held and free ranges without taking any.
func TestStatus(t *testing.T) {
	p := testPool(t, 4)
	dir := t.TempDir()
	p.SubUID = filepath.Join(dir, "subuid")
	os.WriteFile(p.SubUID, []byte("alice:"+strconv.FormatUint(uint64(p.First)+3*RangeSize, 10)+":65536\n"), 0o644)
	if held, free, err := p.Status(); err != nil || held != 0 || free != 3 {
		t.Fatalf("a pool never used: held %d, free %d, %v; want 0, 3", held, free, err)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("Status created the lock directory: %v", err)
	}
	r, err := p.Reserve()
	if err != nil {
		t.Fatal(err)
	}
	if held, free, err := p.Status(); err != nil || held != 1 || free != 2 {
		t.Errorf("one held: held %d, free %d, %v; want 1, 2", held, free, err)
	}
	// Status takes no lock: the held range stays held, the free ones free.
	r2, err := p.Reserve()
	if err != nil || r2.Base == r.Base {
		t.Fatalf("after Status: %+v, %v", r2, err)
	}
	r2.Release()
	r.Release()
	if held, free, err := p.Status(); err != nil || held != 0 || free != 3 {
		t.Errorf("all released: held %d, free %d, %v; want 0, 3", held, free, err)
	}
}
