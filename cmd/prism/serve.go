package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
)

func init() { subcommands = append(subcommands, newServeCmd) }

// serveFlags are the flags of `prism serve` (README "Query service");
// each reads its PRISM_* variable (env.go), the flag wins.
type serveFlags struct {
	httpAddr      string
	auth          string
	tokensFile    string
	cacheTTL      time.Duration
	cacheL1Size   int
	sourceTimeout time.Duration
	waitMax       time.Duration
}

// The --auth modes.
const (
	authTokens = "tokens"
	authNone   = "none"
)

// serveShutdownTimeout bounds how long SIGTERM waits for the requests in
// flight (a gateway request may wait up to --wait-max for its result).
const serveShutdownTimeout = 10 * time.Second

func newServeCmd(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the read side over HTTP: queries on every read source, with cache and failover, and a command gateway",
		Long: `serve answers Payment's queries over HTTP/JSON (README "Query service"): by id,
search, statistics, analytics and timeline, each from its first-choice read
source, or its fallback when that one is down or slow (X-Prism-Source says
which), through a two-level cache (L1 in memory, L2 Redis under
<namespace>:q:, X-Prism-Cache says which level answered). POST /v1/commands
produces one JSON Lines command and waits (?wait=, at most --wait-max) for its
result. Callers authenticate with a bearer token of --tokens-file; --auth none
lets every caller see every organization (the demo only). Also serves
/openapi.json, /metrics, /healthz and /readyz.
It needs Redis at start (the cache's invalidation channel); the other sources
may be down and are probed until they answer. SIGTERM/SIGINT stops accepting
requests, finishes those in flight (up to 10s) and exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, g, f) },
	}
	addServeFlags(cmd.Flags(), f)
	cmd.AddCommand(newHashTokenCmd())
	return cmd
}

// addServeFlags registers the flags of `prism serve` (also read by `prism
// demo`, which serves the same handler in-process).
func addServeFlags(fl *pflag.FlagSet, f *serveFlags) {
	fl.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "listen address of the query service (API, /openapi.json, /metrics, /healthz, /readyz)")
	fl.StringVar(&f.auth, "auth", authTokens, "tokens (bearer tokens of --tokens-file) or none (every caller sees every organization: demo only)")
	fl.StringVar(&f.tokensFile, "tokens-file", "", "file of accepted bearer tokens: one '<sha256 hex of the token> <org>[,<org>...]' or '<sha256 hex> *' per line (prism serve hash-token)")
	fl.DurationVar(&f.cacheTTL, "cache-ttl", queries.DefaultTTL, "TTL of the query cache's entries, L1 and L2")
	fl.IntVar(&f.cacheL1Size, "cache-l1-size", queries.DefaultL1Size, "most entries of the in-memory (L1) query cache")
	fl.DurationVar(&f.sourceTimeout, "source-timeout", 2*time.Second, "bound of one read on one source before the router tries the fallback")
	fl.DurationVar(&f.waitMax, "wait-max", 30*time.Second, "largest ?wait= a caller may ask (consistency waits, command results)")
	atLeast(fl, "1", "cache-l1-size")
	atLeast(fl, "1ns", "cache-ttl", "source-timeout", "wait-max")
}

// check reports every problem of the flags at once, each naming its flag.
func (f *serveFlags) check(cmd *cobra.Command) error {
	var problems []string
	switch f.auth {
	case authTokens:
		if f.tokensFile == "" {
			problems = append(problems, "--auth tokens needs --tokens-file (lines '<sha256 hex> <org>[,<org>...]'; see prism serve hash-token), or --auth none for a demo")
		}
	case authNone:
		if f.tokensFile != "" {
			problems = append(problems, "--tokens-file is given with --auth none: drop one of them")
		}
	default:
		problems = append(problems, fmt.Sprintf("--auth %q: want tokens or none", f.auth))
	}
	if _, _, err := net.SplitHostPort(f.httpAddr); err != nil {
		problems = append(problems, fmt.Sprintf("--http %q: want host:port", f.httpAddr))
	}
	if len(problems) > 0 {
		return newUsageError(cmd, "%s", strings.Join(problems, "; "))
	}
	return nil
}

// loadTokens reads --tokens-file (nil under --auth none). Its errors name
// the file and the line, never a line's content (queries/httpapi).
func (f *serveFlags) loadTokens() (*httpapi.Tokens, error) {
	if f.auth == authNone {
		return nil, nil
	}
	t, err := httpapi.LoadTokens(f.tokensFile)
	if err != nil {
		return nil, fmt.Errorf("--tokens-file: %w", err)
	}
	return t, nil
}

func runServe(cmd *cobra.Command, g *globals, f *serveFlags) error {
	ctx := cmd.Context()
	if err := f.check(cmd); err != nil {
		return err
	}
	stopTracing, err := g.startTracing(cmd, "prism-serve")
	if err != nil {
		return err
	}
	defer stopTracing()
	tokens, err := f.loadTokens()
	if err != nil {
		return err
	}
	if f.auth == authNone {
		warnAuthNone(cmd.ErrOrStderr())
	}
	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", f.httpAddr, err)
	}
	defer ln.Close()
	svc, err := startQueryService(ctx, g, f, tokens)
	if err != nil {
		return err
	}
	defer svc.Close()
	slog.Info("serving queries", "addr", ln.Addr().String(), "auth", f.auth, "namespace", g.namespace)
	// Not wrapped in redact.HTTPHandler (as the sinks' /healthz is): it
	// buffers and searches every body, and answers are data; httpapi puts
	// no error text of a source in any body (logs are redacted).
	return serveUntilDone(ctx, ln, svc.Handler)
}

// warnAuthNone prints the banner of --auth none: every caller is an
// operator of every organization.
func warnAuthNone(w io.Writer) {
	bar := strings.Repeat("!", 78)
	fmt.Fprintf(w, "%s\n!! WARNING: --auth none: NO AUTHENTICATION. Every caller sees every organization's\n!! payments and may send commands for any organization. For the demo only:\n!! never expose this address.\n%s\n", bar, bar)
	slog.Warn("authentication disabled (--auth none): every caller may read and command every organization")
}

// serveUntilDone serves h on ln until ctx ends, then stops accepting,
// waits up to serveShutdownTimeout for the requests in flight and returns
// nil; a server failure is returned.
func serveUntilDone(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), serveShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		slog.Warn("requests still in flight at shutdown", "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server: %w", err)
	}
	slog.Info("query service stopped")
	return nil
}

// newServeRegistry is the one Prometheus registry of the query service.
func newServeRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func newHashTokenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "hash-token",
		Short: "Print the sha256 hex of a bearer token read from stdin, for --tokens-file",
		Long: `hash-token reads one token from stdin (one line; surrounding white space is
dropped) and prints its sha256 hex digest, the form --tokens-file stores:
  <digest> <org>[,<org>...]    or    <digest> *   (every organization)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := readToken(cmd.InOrStdin())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), httpapi.HashToken(tok))
			return nil
		},
	}
}

// maxTokenBytes bounds the token hash-token reads.
const maxTokenBytes = 4096

// readToken reads the one token of r: its first line, trimmed. An empty
// token, a second non-empty line or white space inside it is an error that
// never repeats the input.
func readToken(r io.Reader) (string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, maxTokenBytes+1))
	sc.Buffer(make([]byte, 0, 512), maxTokenBytes+1)
	var lines []string
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read token from stdin: at most %d bytes", maxTokenBytes)
	}
	switch {
	case len(lines) == 0:
		return "", errors.New("no token on stdin (echo -n \"$TOKEN\" | prism serve hash-token)")
	case len(lines) > 1:
		return "", errors.New("more than one line on stdin: give one token")
	case strings.ContainsFunc(lines[0], func(r rune) bool { return r == ' ' || r == '\t' }):
		return "", errors.New("the token holds white space: give one token")
	}
	return lines[0], nil
}
