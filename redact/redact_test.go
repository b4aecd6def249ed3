package redact_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/redact"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://prism:S3cr3t@127.0.0.1:5432/prism?sslmode=disable", "postgres://prism:xxxxx@127.0.0.1:5432/prism?sslmode=disable"},
		{"redis://:S3cr3t@127.0.0.1:6379/0", "redis://:xxxxx@127.0.0.1:6379/0"},
		{"rediss://default:p%40ss@cache:6380/1", "rediss://default:xxxxx@cache:6380/1"},
		{"http://elastic:pw@10.0.0.1:9200", "http://elastic:xxxxx@10.0.0.1:9200"},
		{"host=db user=prism password=S3cr3t dbname=prism", "host=db user=prism password=xxxxx dbname=prism"},
		{"host=db password='a b\\'c' dbname=prism", "host=db password=xxxxx dbname=prism"},
		{"postgres://prism@db/prism?password=S3cr3t&sslmode=disable", "postgres://prism@db/prism?password=xxxxx&sslmode=disable"},
		// Nothing to mask.
		{"postgres://prism@127.0.0.1:5432/prism", "postgres://prism@127.0.0.1:5432/prism"},
		{"http://127.0.0.1:9200", "http://127.0.0.1:9200"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"dial tcp 127.0.0.1:9092: connection refused", "dial tcp 127.0.0.1:9092: connection refused"},
		{"brokers http://a:9200 and user@example.com", "brokers http://a:9200 and user@example.com"},
	} {
		if got := redact.URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestAddress(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://prism:S3cr3t@127.0.0.1:5432/prism?sslmode=disable", "postgres://127.0.0.1:5432/prism?sslmode=disable"},
		{"redis://:S3cr3t@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"http://elastic:pw@10.0.0.1:9200/prefix", "http://10.0.0.1:9200/prefix"},
		{"postgres://prism@db/prism?password=S3cr3t&sslmode=disable", "postgres://db/prism?password=xxxxx&sslmode=disable"},
		{"host=db user=prism password=S3cr3t dbname=prism", "host=db user=prism password=xxxxx dbname=prism"},
		{"http://127.0.0.1:9200", "http://127.0.0.1:9200"},
	} {
		if got := redact.Address(tc.in); got != tc.want {
			t.Errorf("Address(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestPassword(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://prism:S3cr3t@127.0.0.1:5432/prism", "S3cr3t"},
		{"redis://:p%40ss@127.0.0.1:6379/0", "p@ss"},
		{"redis://127.0.0.1:6379/0", ""},
		{"host=db password=S3cr3t dbname=prism", "S3cr3t"},
		{"host=db password='a b\\'c'", "a b'c"},
		{"", ""},
	} {
		if got := redact.Password(tc.in); got != tc.want {
			t.Errorf("Password(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorString(t *testing.T) {
	r := redact.New("S3cr3t-Ka-7783", "", "short")
	in := `sasl auth with S3cr3t-Ka-7783 failed; short names stay; see postgres://u:pw@h/db`
	want := `sasl auth with xxxxx failed; short names stay; see postgres://u:xxxxx@h/db`
	if got := r.String(in); got != want {
		t.Errorf("String = %q, want %q", got, want)
	}
	var zero *redact.Redactor
	if got := zero.String("redis://:pw@h"); got != "redis://:xxxxx@h" {
		t.Errorf("nil Redactor: %q", got)
	}
}

var errSentinel = errors.New("sentinel")

func TestRedactorError(t *testing.T) {
	r := redact.New("S3cr3t-Es-7784")
	err := r.Error(errors.Join(errors.New("login S3cr3t-Es-7784"), errSentinel))
	if strings.Contains(err.Error(), "S3cr3t") {
		t.Errorf("error not masked: %v", err)
	}
	if !errors.Is(err, errSentinel) {
		t.Error("errors.Is lost the wrapped error")
	}
	if r.Error(nil) != nil {
		t.Error("Error(nil) != nil")
	}
}

type stringer string

func (s stringer) String() string { return string(s) }

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	r := redact.New("S3cr3t-Rd-7782")
	log := slog.New(redact.Handler(slog.NewJSONHandler(&buf, nil), r)).With("url", "redis://:S3cr3t-Rd-7782@h:6379/0")
	log.WithGroup("g").Info("connect S3cr3t-Rd-7782",
		"err", errors.New("auth S3cr3t-Rd-7782"),
		"s", stringer("S3cr3t-Rd-7782"),
		slog.Group("inner", "dsn", "password=S3cr3t-Rd-7782"),
		"n", 42)
	out := buf.String()
	if strings.Contains(out, "S3cr3t") {
		t.Fatalf("secret in log: %s", out)
	}
	for _, want := range []string{`"msg":"connect xxxxx"`, `"err":"auth xxxxx"`, `"s":"xxxxx"`, `"dsn":"password=xxxxx"`, `"n":42`, `"url":"redis://:xxxxx@h:6379/0"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s: %s", want, out)
		}
	}
}

func TestHTTPHandler(t *testing.T) {
	r := redact.New("S3cr3t-Pg-7781")
	h := redact.HTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Header.Get("Accept-Encoding") != "" {
			t.Error("handler was offered a compressed body")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"lastError":"connect postgres://prism:S3cr3t-Pg-7781@db/prism"}`)
	}), r)
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if want := `{"lastError":"connect postgres://prism:xxxxx@db/prism"}`; string(body) != want {
		t.Errorf("body %s, want %s", body, want)
	}
}
