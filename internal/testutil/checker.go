package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var checker struct {
	once sync.Once
	path string
	dir  string // made by this process: RemoveTemps removes it
	err  error
	out  []byte
}

// Main runs a package's tests and then removes what the helpers built
// for them (the checker's directory): a package whose tests use Checker
// has `func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }`.
func Main(m *testing.M) int {
	code := m.Run()
	RemoveTemps()
	return code
}

// RemoveTemps removes the checker this process built, if any.
func RemoveTemps() {
	if checker.dir != "" {
		os.RemoveAll(checker.dir)
	}
}

// Checker builds internal/checker once per test binary as a static
// executable and returns its path, inside a directory every user can read
// (tests run it as other uids and inside other roots). SANDBOX_CHECKER
// names a prebuilt one instead.
func Checker(t testing.TB) string {
	t.Helper()
	checker.once.Do(func() {
		if p := os.Getenv("SANDBOX_CHECKER"); p != "" {
			// Prebuilt, for runs as a user who cannot use the Go cache.
			checker.path = p
			return
		}
		dir, err := os.MkdirTemp("", "sandbox-checker-")
		if err != nil {
			checker.err = err
			return
		}
		os.Chmod(dir, 0o755)
		checker.dir = dir
		checker.path = filepath.Join(dir, "checker")
		_, file, _, _ := runtime.Caller(0)
		src := filepath.Join(filepath.Dir(file), "..", "checker")
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", checker.path, ".")
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		checker.out, checker.err = cmd.CombinedOutput()
	})
	if checker.err != nil {
		t.Fatalf("building the checker: %v\n%s", checker.err, checker.out)
	}
	return checker.path
}
