//go:build linux

package spawn

import (
	"math/rand"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// simulate applies a plan to a model descriptor table (fd → file id, and
// whether it is close-on-exec) as the child would.
func simulate(t *testing.T, table map[int]int, p fdPlan) (map[int]int, map[int]bool) {
	t.Helper()
	fds := map[int]int{}
	cloexec := map[int]bool{}
	for fd, id := range table {
		fds[fd] = id
		cloexec[fd] = true
	}
	for _, c := range p.closeTab {
		for fd := range fds {
			if uint32(fd) >= c[0] && uint32(fd) <= c[1] {
				delete(fds, fd)
			}
		}
	}
	for _, d := range p.dupTab {
		a, b := int(d[1]), int(d[2])
		switch d[0] {
		case dupOpDup:
			id, ok := fds[a]
			if !ok {
				t.Fatalf("dup3 from closed fd %d", a)
			}
			fds[b] = id
			cloexec[b] = d[3]&unix.O_CLOEXEC != 0
		case dupOpSetFd:
			if _, ok := fds[a]; !ok {
				t.Fatalf("fcntl on closed fd %d", a)
			}
			cloexec[a] = d[3]&unix.FD_CLOEXEC != 0
		case dupOpClose:
			if _, ok := fds[a]; !ok {
				t.Fatalf("close of fd %d, already closed", a)
			}
			delete(fds, a)
		case dupOpCloseFrom:
			for fd := range fds {
				if fd >= a {
					delete(fds, fd)
				}
			}
		}
	}
	return fds, cloexec
}

// TestPlanFds checks the parallel move on random layouts, cycles and
// duplicates included: afterwards exactly the layout is open, with the
// right files and close-on-exec flags.
func TestPlanFds(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 5000; iter++ {
		// The parent's table: descriptors 0…29, file id = fd+1000, plus
		// noise that must be closed.
		parent := map[int]int{}
		for fd := 0; fd < 30; fd++ {
			if rng.Intn(3) > 0 {
				parent[fd] = fd + 1000
			}
		}
		open := func() int {
			for {
				fd := rng.Intn(30)
				if _, ok := parent[fd]; ok {
					return fd
				}
			}
		}
		n := rng.Intn(6)
		files := make([]int, n)
		for i := range files {
			files[i] = -1
			if rng.Intn(4) > 0 {
				files[i] = open()
			}
		}
		status := -1
		if rng.Intn(3) > 0 {
			status = open()
		}
		sync := -1
		if rng.Intn(2) == 0 {
			sync = open()
		}
		extra := make([]int, rng.Intn(4))
		for i := range extra {
			extra[i] = open()
		}
		if len(parent) == 0 {
			continue
		}
		p := planFds(files, status, sync, extra)
		got, cloexec := simulate(t, parent, p)
		want := map[int]int{}
		for i, f := range files {
			if f >= 0 {
				want[i] = parent[f]
			}
		}
		if status >= 0 {
			want[n] = parent[status]
		}
		if sync >= 0 {
			want[n+1] = parent[sync]
		}
		for k, f := range extra {
			want[n+2+k] = parent[f]
		}
		if len(got) != len(want) {
			t.Fatalf("files %v status %d sync %d extra %v: got %v want %v (plan %+v)", files, status, sync, extra, got, want, p)
		}
		for fd, id := range want {
			if got[fd] != id {
				t.Fatalf("files %v status %d sync %d extra %v: fd %d holds %d, want %d (plan %+v)", files, status, sync, extra, fd, got[fd], id, p)
			}
			if cloexec[fd] != (fd >= n) {
				t.Fatalf("fd %d close-on-exec %v (layout of %d files)", fd, cloexec[fd], n)
			}
		}
	}
}

func TestPlanFdsCycle(t *testing.T) {
	// stdin ← 1, stdout ← 0: a swap needs a temporary.
	p := planFds([]int{1, 0, 2}, 5, -1, nil)
	got, _ := simulate(t, map[int]int{0: 100, 1: 101, 2: 102, 5: 105}, p)
	if got[0] != 101 || got[1] != 100 || got[2] != 102 || got[3] != 105 || len(got) != 4 {
		t.Errorf("swap: %v (plan %v)", got, p.dupTab)
	}
	if !slices.ContainsFunc(p.dupTab, func(d [4]int32) bool { return d[0] == dupOpDup && d[2] >= 6 }) {
		t.Errorf("no temporary used: %v", p.dupTab)
	}
}

// TestPlanFdsMinimal checks that the tables hold no useless call: with no
// descriptor to keep, step 0 is one close_range and step 1 is empty; with
// the files already in place, step 1 only sets flags.
func TestPlanFdsMinimal(t *testing.T) {
	p := planFds([]int{-1, -1, -1}, -1, -1, nil)
	if len(p.closeTab) != 1 || p.closeTab[0] != [2]uint32{0, ^uint32(0)} || len(p.dupTab) != 0 {
		t.Errorf("nothing kept: close %v dup %v", p.closeTab, p.dupTab)
	}
	p = planFds([]int{0, 1, 2}, -1, -1, nil)
	if len(p.closeTab) != 1 || p.closeTab[0] != [2]uint32{3, ^uint32(0)} {
		t.Errorf("stdio in place: close %v", p.closeTab)
	}
	for _, d := range p.dupTab {
		if d[0] != dupOpSetFd {
			t.Errorf("stdio in place: %v", p.dupTab)
		}
	}
	p = planFds([]int{-1, -1, -1}, 5, -1, nil)
	if len(p.dupTab) != 2 || p.dupTab[0] != [4]int32{dupOpDup, 5, 3, unix.O_CLOEXEC} || p.dupTab[1][0] != dupOpCloseFrom {
		t.Errorf("status pipe only: %v", p.dupTab)
	}
}
