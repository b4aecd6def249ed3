package gen

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/records"
)

func TestDefaultsAndProblems(t *testing.T) {
	c := Defaults(records.GeneratorConfig{Seed: 7})
	if c.Organizations != 10 || c.IDPrefix != "s7" || c.Interval != time.Second {
		t.Fatalf("defaults: %+v", c)
	}
	if errs := Problems(c); len(errs) != 0 {
		t.Fatalf("defaults have problems: %v", errs)
	}
	err := errors.Join(Problems(records.GeneratorConfig{Count: -1, Organizations: -2, InvalidRatio: 1.5, Interval: -time.Second})...)
	for _, want := range []string{"count -1", "organizations -2", "invalid ratio 1.5", "interval -1s"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %q", err, want)
		}
	}
	if n := Invalids(records.GeneratorConfig{Count: 200, InvalidRatio: 0.125}); n != 25 {
		t.Errorf("Invalids = %d, want 25", n)
	}
}

func TestIssuedAt(t *testing.T) {
	if s := IssuedAt(records.GeneratorConfig{Interval: time.Second}, 3); s != "" {
		t.Errorf("no start: %q, want none", s)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	if s := IssuedAt(records.GeneratorConfig{Start: start, Interval: 1500 * time.Millisecond}, 3); s != "2026-01-02T02:04:08Z" {
		t.Errorf("IssuedAt = %q", s)
	}
}

type line struct {
	N int `json:"n"`
}

type cmd struct{ n int }

func (cmd) CommandMeta() records.CommandMeta { return records.CommandMeta{} }

func TestSourceWritesEachLineThenReturnsItsCommand(t *testing.T) {
	n := 0
	next := func() (int, line, bool) {
		if n == 3 {
			return 0, line{}, false
		}
		n++
		return n, line{N: n * 10}, true
	}
	var got []int
	envelope := func(l *line) (records.Command, error) {
		if l.N == 30 {
			return nil, errors.New("bad")
		}
		got = append(got, l.N)
		return cmd{l.N}, nil
	}
	var out bytes.Buffer
	src := Source(next, envelope, &out, true)
	for range 2 {
		if c, ok, err := src(); !ok || err != nil || c == nil {
			t.Fatal(c, ok, err)
		}
	}
	if _, _, err := src(); err == nil || !strings.Contains(err.Error(), "generated command 3 is invalid") {
		t.Fatalf("third: %v", err)
	}
	if out.String() != "{\"n\":10}\n{\"n\":20}\n{\"n\":30}\n" || len(got) != 2 || got[1] != 20 {
		t.Fatalf("wrote %q, converted %v", out.String(), got)
	}
	if _, ok, err := src(); ok || err != nil {
		t.Fatal("after the last:", ok, err)
	}
}
