//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// The pipe methods are os/exec's: each returns this process's end of a
// pipe whose other end becomes the command's stream. The ends the Cmd
// keeps are closed once the command no longer needs them (after Start, or
// once the counted output drained), so that a reader sees EOF when the
// command's output ends. Of the ends returned, StdinPipe's is closed when
// the command exited, the others by Wait. As with os/exec, Wait must not
// be called before every read from a StdoutPipe or StderrPipe is done.

// StdinPipe returns a pipe to the command's standard input. Closing it
// ends the input; it is closed once the command exited.
func (c *Cmd) StdinPipe() (io.WriteCloser, error) {
	if c.Stdin != nil {
		return nil, errors.New("sandbox: Stdin already set")
	}
	if c.started {
		return nil, errors.New("sandbox: StdinPipe after Start")
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	c.Stdin = r
	c.own(r, false)
	c.stdinPipe = &closeOnce{File: w}
	return c.stdinPipe, nil
}

// StdoutPipe returns a pipe from the command's standard output.
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) { return c.outPipe(&c.Stdout, "Stdout") }

// StderrPipe returns a pipe from the command's standard error.
func (c *Cmd) StderrPipe() (io.ReadCloser, error) { return c.outPipe(&c.Stderr, "Stderr") }

// outPipe makes the output pipe of stream *w (named name): the write end
// the Cmd's, the read end the caller's, closed by Wait.
func (c *Cmd) outPipe(w *io.Writer, name string) (io.ReadCloser, error) {
	if *w != nil {
		return nil, fmt.Errorf("sandbox: %s already set", name)
	}
	if c.started {
		return nil, fmt.Errorf("sandbox: %sPipe after Start", name)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	*w = pw
	c.own(pw, true)
	rc := &closeOnce{File: pr}
	c.afterWait = append(c.afterWait, rc)
	return rc, nil
}

// own records a pipe end the Cmd made for a stream: out says it is the
// command's output (a write end). Such a file given to the command as it
// is goes to c.closers (stdio); the others are closed once the copiers
// are done (closeOwned).
func (c *Cmd) own(f *os.File, out bool) {
	if c.owned == nil {
		c.owned = map[*os.File]bool{}
	}
	c.owned[f] = out
}

// closeOwned closes the pipe ends the Cmd made for the streams.
func (c *Cmd) closeOwned() {
	for f := range c.owned {
		f.Close()
	}
}

// closeOwnedOut closes w when it is the Cmd's end of an output pipe: its
// copier is done, and its reader then sees EOF without waiting for the
// other stream's.
func (c *Cmd) closeOwnedOut(w io.Writer) {
	if f, ok := w.(*os.File); ok {
		if out, mine := c.owned[f]; mine && out {
			f.Close()
		}
	}
}

// closePipes closes every end of the pipe methods' pipes: the Cmd's, and
// those it returned. For a failed Start, and by Wait.
func (c *Cmd) closePipes() {
	c.closeOwned()
	for _, cl := range c.afterWait {
		cl.Close()
	}
	if c.stdinPipe != nil {
		c.stdinPipe.Close()
	}
}

// closeOnce is a pipe end whose Close may be called by the caller and by
// Wait alike: only the first closes.
type closeOnce struct {
	*os.File
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.File.Close() })
	return c.err
}
