//go:build linux

package spawn

import (
	"fmt"
	"slices"

	"golang.org/x/sys/unix"
)

// fdPlan is the per-spawn descriptor work of steps 0 and 1, solved in the
// parent so that the child only runs a flat table.
//
// The child's layout is fixed by the program:
//
//	0 … N-1     the caller's files (not close-on-exec); a nil file is closed
//	N           the status pipe (close-on-exec), or closed when the start
//	            needs none (see Start)
//	N+1         the sync descriptor, or closed
//	N+2 …       the program's kept descriptors, then the per-spawn inputs
//
// Step 0 closes every descriptor that is not a source of this layout (so
// other spawns' pipes and every host descriptor are gone at once); step 1
// moves sources to slots as a parallel move, breaking cycles through a
// temporary, and closes whatever source is left outside the layout. The
// tables hold only the calls that change something: a slot that step 0
// already closed is not closed again.
type fdPlan struct {
	closeTab [][2]uint32
	dupTab   [][4]int32
}

type fdMove struct {
	src, dst int
	cloexec  bool
}

// planFds solves the layout. files[i] is the parent's descriptor for slot
// i (-1: closed), status and sync the pipes' (-1: none), extra the
// descriptors for slots N+2….
func planFds(files []int, status, sync int, extra []int) fdPlan {
	return planFdsInto(fdPlan{}, files, status, sync, extra)
}

// planFdsInto is planFds appending to p's tables, so that a caller can
// lend it buffers on its stack; the scratch space stays on the stack for
// common sizes.
func planFdsInto(p fdPlan, files []int, status, sync int, extra []int) fdPlan {
	n := len(files)
	var (
		moveBuf  [16]fdMove
		closeBuf [8]int
		keepBuf  [16]int
	)
	moves, closes, keep := moveBuf[:0], closeBuf[:0], keepBuf[:0]
	for i, f := range files {
		if f < 0 {
			closes = append(closes, i)
			continue
		}
		moves = append(moves, fdMove{f, i, false})
		keep = append(keep, f)
	}
	if status >= 0 {
		moves = append(moves, fdMove{status, n, true})
		keep = append(keep, status)
	} else {
		closes = append(closes, n)
	}
	if sync >= 0 {
		moves = append(moves, fdMove{sync, n + 1, true})
		keep = append(keep, sync)
	} else {
		closes = append(closes, n+1)
	}
	for k, f := range extra {
		moves = append(moves, fdMove{f, n + 2 + k, true})
		keep = append(keep, f)
	}
	end := n + 2 + len(extra)

	slices.Sort(keep)
	keep = slices.Compact(keep)
	lo := 0
	for _, k := range keep {
		if k > lo {
			p.closeTab = append(p.closeTab, [2]uint32{uint32(lo), uint32(k - 1)})
		}
		lo = k + 1
	}
	p.closeTab = append(p.closeTab, [2]uint32{uint32(lo), ^uint32(0)})

	// After step 0 only the keep-set is open. Sources at or above the
	// layout's end, and temporaries, are closed by a final close_range.
	tmp := end
	if len(keep) > 0 {
		tmp = max(keep[len(keep)-1]+1, end)
	}
	needCloseFrom := tmp > end

	// Moves onto themselves only need their close-on-exec flag set; they
	// must come after every move that reads them, which a dup3 never
	// disturbs, so they are simply put last.
	var selfBuf, pendBuf [16]fdMove
	self, pending := selfBuf[:0], pendBuf[:0]
	for _, m := range moves {
		if m.src == m.dst {
			self = append(self, m)
		} else {
			pending = append(pending, m)
		}
	}
	cloexecFlag := func(c bool) int32 {
		if c {
			return unix.O_CLOEXEC
		}
		return 0
	}
	for len(pending) > 0 {
		progress := false
		for i := 0; i < len(pending); i++ {
			m := pending[i]
			blocked := false
			for j, o := range pending {
				if j != i && o.src == m.dst {
					blocked = true
					break
				}
			}
			if blocked {
				continue
			}
			p.dupTab = append(p.dupTab, [4]int32{dupOpDup, int32(m.src), int32(m.dst), cloexecFlag(m.cloexec)})
			pending = slices.Delete(pending, i, i+1)
			i--
			progress = true
		}
		if progress {
			continue
		}
		// Only cycles remain: park one source in a temporary above
		// everything in use; the final close_range removes it.
		old := pending[0].src
		p.dupTab = append(p.dupTab, [4]int32{dupOpDup, int32(old), int32(tmp), unix.O_CLOEXEC})
		for i := range pending {
			if pending[i].src == old {
				pending[i].src = tmp
			}
		}
		tmp++
		needCloseFrom = true
	}
	for _, m := range self {
		fl := int32(0)
		if m.cloexec {
			fl = unix.FD_CLOEXEC
		}
		p.dupTab = append(p.dupTab, [4]int32{dupOpSetFd, int32(m.src), 0, fl})
	}
	// A slot that must end closed is open only if it is some source (step
	// 0 closed the rest); no move writes it.
	for _, c := range closes {
		if _, found := slices.BinarySearch(keep, c); found {
			p.dupTab = append(p.dupTab, [4]int32{dupOpClose, int32(c), 0, 0})
		}
	}
	if needCloseFrom {
		p.dupTab = append(p.dupTab, [4]int32{dupOpCloseFrom, int32(end), 0, 0})
	}
	return p
}

// describeDup names one entry of the descriptor table for errors.
func describeDup(d [4]int32) string {
	switch d[0] {
	case dupOpDup:
		return fmt.Sprintf("fd %d to %d", d[1], d[2])
	case dupOpSetFd:
		return fmt.Sprintf("fd %d close-on-exec flag", d[1])
	case dupOpClose:
		return fmt.Sprintf("close fd %d", d[1])
	case dupOpCloseFrom:
		return fmt.Sprintf("close fds from %d", d[1])
	}
	return "descriptor layout"
}
