package httpapi_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
)

func TestHashToken(t *testing.T) {
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	if got := httpapi.HashToken("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("HashToken(abc) = %s", got)
	}
}

func TestLoadTokens(t *testing.T) {
	path := writeTokens(t, "# operators and tenants\n\n"+
		"  "+hashOf("t-a")+"  org-a  \n"+
		"# another comment\n"+
		strings.ToUpper(hashOf("t-bc"))+" org-c,org-b,org-c\n"+
		hashOf("t-ops")+"\t*\n", 0o600)
	tokens, err := httpapi.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if tokens.Len() != 3 {
		t.Errorf("%d tokens, want 3", tokens.Len())
	}
	for _, tc := range []struct {
		token string
		ok    bool
		all   bool
		orgs  []string
	}{
		{"t-a", true, false, []string{"org-a"}},
		{"t-bc", true, false, []string{"org-b", "org-c"}},
		{"t-ops", true, true, nil},
		{"t-x", false, false, nil},
		{"", false, false, nil},
		{hashOf("t-a"), false, false, nil},
	} {
		s, ok := tokens.Scope(tc.token)
		if ok != tc.ok || s.All() != tc.all || !slices.Equal(s.Orgs(), tc.orgs) {
			t.Errorf("Scope(%q) = all=%v orgs=%v ok=%v, want all=%v orgs=%v ok=%v", tc.token, s.All(), s.Orgs(), ok, tc.all, tc.orgs, tc.ok)
		}
	}
}

func TestLoadTokensBadLines(t *testing.T) {
	secret := "s3cr3t-token-value"
	h := hashOf("x")
	for _, tc := range []struct {
		name, content string
		want          []string // in the error
	}{
		{"a bare token", "# tokens\n" + secret + "\n", []string{"line 2:", "two fields"}},
		{"token instead of hash", secret + " org-a\n", []string{"line 1:", "64 hexadecimal"}},
		{"not hex", strings.Repeat("z", 64) + " org-a\n", []string{"line 1:", "not hexadecimal"}},
		{"three fields", h + " org-a " + secret + "\n", []string{"line 1:", "two fields"}},
		{"empty org", h + " org-a,," + "\n", []string{"line 1:", "empty organization"}},
		{"star in list", h + " org-a,*\n", []string{"line 1:", "stand alone"}},
		{"duplicate", h + " org-a\n\n" + h + " org-b\n", []string{"line 3:", "line 1"}},
		{"several", "\n" + secret + "\n" + h + " org-a\n" + "abc org-b\n", []string{"line 2:", "line 4:"}},
		{"no entry", "# nothing\n\n", []string{"no token"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := httpapi.LoadTokens(writeTokens(t, tc.content, 0o600))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "org-a") || strings.Contains(err.Error(), h) {
				t.Errorf("the error quotes the file: %v", err)
			}
		})
	}
	if _, err := httpapi.LoadTokens(t.TempDir() + "/missing"); err == nil {
		t.Error("a missing file was accepted")
	}
}

func TestTokensFileReadableByOthersWarns(t *testing.T) {
	tokens, err := httpapi.LoadTokens(writeTokens(t, hashOf("t")+" org-a\n", 0o644))
	if err != nil {
		t.Fatal(err)
	}
	log := &testkit.LogBuffer{}
	reg := prometheus.NewRegistry()
	_, err = httpapi.New(httpapi.Config{Bus: queries.NewBus(), Endpoints: paymentEndpoints(t), Tokens: tokens,
		Gatherer: reg, Registerer: reg, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "readable by other users") {
		t.Errorf("no WARN for a world-readable tokens file:\n%s", log)
	}
}
