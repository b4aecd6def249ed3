package testkit

import (
	"os"
	"os/exec"
	"testing"
)

// Chromium returns the path of the browser of the browser tests:
// PRISM_CHROMIUM, or Debian's chromium on the PATH (scripts/setup-chromium.sh
// installs it; make test and make test-integration run it). Missing, it
// fails the test under CI and skips it otherwise, as a missing service does.
func Chromium(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PRISM_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("PRISM_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	Unavailable(t, "browser", "chromium is not installed: run scripts/setup-chromium.sh (apt-get install chromium) or set PRISM_CHROMIUM")
	return ""
}
