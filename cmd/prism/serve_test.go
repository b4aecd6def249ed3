package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runPrism runs the command tree in-process with stdin and returns the
// output and the error.
func runPrism(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	return out.String(), err
}

// TestServeFlagErrors: a bad flag of `prism serve` fails at once, before
// any service is asked (the URLs point at nothing that answers), as a
// usage error naming the flag.
func TestServeFlagErrors(t *testing.T) {
	dead := []string{"--postgres-url", "postgres://u:pw-not-shown@127.0.0.1:1/x", "--redis-url", "redis://127.0.0.1:1/0",
		"--elasticsearch-url", "http://127.0.0.1:1", "--brokers", "127.0.0.1:1"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--auth", "basic"}, `--auth "basic": want tokens or none`},
		{[]string{}, "--auth tokens needs --tokens-file"},
		{[]string{"--auth", "tokens"}, "--auth tokens needs --tokens-file"},
		{[]string{"--auth", "none", "--tokens-file", "t.txt"}, "--tokens-file is given with --auth none"},
		{[]string{"--auth", "none", "--http", "8080"}, `--http "8080": want host:port`},
		{[]string{"--auth", "none", "--cache-ttl", "0s"}, "--cache-ttl 0s: want a positive duration"},
		{[]string{"--auth", "none", "--source-timeout", "-2s"}, "--source-timeout -2s: want a positive duration"},
		{[]string{"--auth", "none", "--wait-max", "0s"}, "--wait-max 0s: want a positive duration"},
		{[]string{"--auth", "none", "--wait-max", "30"}, `invalid argument "30" for "--wait-max"`},
		{[]string{"--auth", "none", "--cache-ttl", "five"}, `invalid argument "five" for "--cache-ttl"`},
		{[]string{"--auth", "none", "--cache-l1-size", "0"}, "--cache-l1-size 0: want at least 1"},
		{[]string{"--auth", "none", "extra"}, `unknown command "extra"`},
	} {
		start := time.Now()
		args := append(append([]string{"serve"}, tc.args...), dead...)
		out, err := runPrism(t, "", args...)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("prism %q: %v (usage error: %v), want a usage error containing %q", args, err, errors.As(err, &ue), tc.want)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("prism %q: failed after %s, want at once", args, took)
		}
		if err != nil && strings.Contains(err.Error()+out, "pw-not-shown") {
			t.Errorf("prism %q: output shows the password: %v\n%s", args, err, out)
		}
	}
}

// TestServeEnvErrors: a malformed PRISM_* value of a serve flag is a usage
// error naming the variable.
func TestServeEnvErrors(t *testing.T) {
	t.Setenv("PRISM_WAIT_MAX", "soon")
	_, err := runPrism(t, "", "serve", "--auth", "none")
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "PRISM_WAIT_MAX") {
		t.Errorf("PRISM_WAIT_MAX=soon: %v, want a usage error naming PRISM_WAIT_MAX", err)
	}
}

// TestServeTokensFileErrors: a tokens file that cannot be used stops serve
// before it connects anything, naming --tokens-file and never the file's
// content.
func TestServeTokensFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "tokens.txt")
	if err := os.WriteFile(bad, []byte("# operators\nnot-a-hash-secret-token-42 org-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.txt"), bad} {
		start := time.Now()
		out, err := runPrism(t, "", "serve", "--tokens-file", path, "--redis-url", "redis://127.0.0.1:1/0", "--brokers", "127.0.0.1:1")
		if err == nil || !strings.Contains(err.Error(), "--tokens-file") {
			t.Errorf("--tokens-file %s: %v, want an error naming --tokens-file", path, err)
			continue
		}
		if strings.Contains(err.Error()+out, "secret-token-42") {
			t.Errorf("--tokens-file %s: the error shows the file's content: %v", path, err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("--tokens-file %s: failed after %s, want at once", path, took)
		}
	}
}

// TestHashToken: the digest printed is the sha256 hex of the token read
// from stdin (its line's white space dropped); an empty stdin or two
// tokens are errors that do not repeat the input.
func TestHashToken(t *testing.T) {
	const tok = "s3cr3t-Token_value"
	sum := sha256.Sum256([]byte(tok))
	want := hex.EncodeToString(sum[:]) + "\n"
	for _, stdin := range []string{tok, tok + "\n", "  " + tok + "\r\n\n"} {
		out, err := runPrism(t, stdin, "serve", "hash-token")
		if err != nil || out != want {
			t.Errorf("hash-token of %q: %q, %v; want %q", stdin, out, err, want)
		}
	}
	for _, stdin := range []string{"", "\n  \n", tok + "\nsecond-" + tok + "\n", "two " + tok} {
		out, err := runPrism(t, stdin, "serve", "hash-token")
		if err == nil {
			t.Errorf("hash-token of %q: no error, printed %q", stdin, out)
			continue
		}
		if strings.Contains(err.Error()+out, tok) {
			t.Errorf("hash-token of %q: the error repeats the input: %v", stdin, err)
		}
	}
	if _, err := runPrism(t, "", "serve", "hash-token", "arg"); err == nil {
		t.Errorf("hash-token with an argument: no error (the token must come from stdin, not the command line)")
	}
}

// TestServeUntilDoneFinishesRequestsInFlight: cancelling the context (what
// SIGTERM does) stops accepting, lets a request in flight finish with its
// answer, and returns nil.
func TestServeUntilDoneFinishesRequestsInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- serveUntilDone(ctx, ln, h) }()
	addr := "http://" + ln.Addr().String()
	got := make(chan string, 1)
	go func() {
		res, err := http.Get(addr + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		got <- string(b)
	}()
	<-started
	cancel()
	if body := <-got; body != "done" {
		t.Errorf("request in flight at shutdown: %q, want its answer", body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serveUntilDone: %v, want nil after a clean shutdown", err)
		}
	case <-time.After(serveShutdownTimeout):
		t.Fatal("serveUntilDone did not return after the context ended")
	}
	if _, err := http.Get(addr + "/after"); err == nil {
		t.Errorf("still accepting requests after shutdown")
	}
}

// TestAuthNoneBanner: --auth none is announced on stderr in words an
// operator cannot miss.
func TestAuthNoneBanner(t *testing.T) {
	var b strings.Builder
	warnAuthNone(&b)
	for _, want := range []string{"WARNING", "--auth none", "NO AUTHENTICATION", "every organization"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, b.String())
		}
	}
}
