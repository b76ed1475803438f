//go:build linux

package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStress spawns 20,000 children from 32 goroutines while another
// goroutine churns the garbage collector. Every status must arrive intact
// (the child exits with its argc), failures must be the expected
// StepError, and nothing may leak.
func TestStress(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	leakCheck(t)
	const (
		workers = 32
		total   = 20000
	)
	elf := exitArgcELF(t)
	progs := make([]*Program, 6)
	for argc := 1; argc < len(progs); argc++ {
		args := make([]string, argc)
		for i := range args {
			args[i] = fmt.Sprint(i)
		}
		progs[argc] = mustCompile(t, &Exec{Path: elf, Args: args})
	}
	progs[0] = mustCompile(t, &Exec{Path: "/nonexistent/stress"})

	stop := make(chan struct{})
	var churn sync.WaitGroup
	churn.Add(1)
	go func() {
		defer churn.Done()
		var sink [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			sink = append(sink, make([]byte, 64<<10))
			if len(sink) > 256 {
				sink = nil
				runtime.GC()
			}
		}
	}()

	var next, ok, failed atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				argc := int(i % int64(len(progs)))
				attr := &Attr{Files: make([]*os.File, 3)}
				var p *Process
				var err error
				if i%2 == 0 {
					p, err = Start(progs[argc], attr)
				} else {
					p, err = StartAsync(progs[argc], attr)
					if err == nil {
						<-p.Started()
						err = p.StartErr()
						if err != nil {
							if _, werr := p.Wait(); !errors.Is(werr, err) {
								errs <- fmt.Errorf("spawn %d: Wait after a failed start: %v", i, werr)
								return
							}
						}
					}
				}
				if argc == 0 {
					var se *StepError
					if !errors.As(err, &se) || se.Errno != unix.ENOENT || se.Op != "execve" {
						errs <- fmt.Errorf("spawn %d: got %v, want execve ENOENT", i, err)
						return
					}
					failed.Add(1)
					continue
				}
				if err != nil {
					errs <- fmt.Errorf("spawn %d: %v", i, err)
					return
				}
				st, err := p.Wait()
				if err != nil || st.ExitCode() != argc {
					errs <- fmt.Errorf("spawn %d: %v %v, want exit %d", i, st, err, argc)
					return
				}
				ok.Add(1)
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	churn.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := ok.Load() + failed.Load(); got != total {
		t.Errorf("%d outcomes delivered, want %d", got, total)
	}
	t.Logf("%d exits, %d failed starts, %d arenas mapped", ok.Load(), failed.Load(), LiveArenas())
}

// TestWaitHandoff waits for long-lived children while short-lived ones
// come and go: the goroutine polling the exit set changes many times
// (see exits), and every Wait must still return, including those of
// processes that exit while nobody polls.
func TestWaitHandoff(t *testing.T) {
	leakCheck(t)
	long := mustCompile(t, &Exec{Path: "/bin/sleep", Args: []string{"sleep", "0.2"}})
	short := mustCompile(t, &Exec{Path: exitArgcELF(t), Args: []string{"x"}})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := 0; i < 4; i++ {
		p, err := Start(long, &Attr{Files: make([]*os.File, 3)})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if st, err := p.Wait(); err != nil || st.ExitCode() != 0 {
				errs <- fmt.Errorf("long child: %v %v", st, err)
			}
		}()
	}
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				var p *Process
				var err error
				if (g+i)%3 == 0 {
					p, err = StartAsync(short, &Attr{Files: make([]*os.File, 3)})
				} else {
					p, err = Start(short, &Attr{Files: make([]*os.File, 3)})
				}
				if err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond) // exits while nobody waits
				}
				if st, err := p.Wait(); err != nil || st.ExitCode() != 1 {
					errs <- fmt.Errorf("short child: %v %v", st, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
