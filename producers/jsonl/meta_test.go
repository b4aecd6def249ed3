package jsonl

import (
	"errors"
	"testing"
	"time"
)

func TestParseMeta(t *testing.T) {
	v := int64(4)
	m, err := ParseMeta("c1", "", &v, "2026-01-02T16:04:05.5+01:00")
	if err != nil {
		t.Fatal(err)
	}
	v = 9 // the caller's value is copied
	if m.CommandID != "c1" || len(m.CorrelationID) != 36 || *m.ExpectedVersion != 4 ||
		!m.IssuedAt.Equal(time.Date(2026, 1, 2, 15, 4, 5, 5e8, time.UTC)) || m.IssuedAt.Location() != time.UTC {
		t.Fatalf("meta %+v", m)
	}
	// Kept to the millisecond, as the record's timestamp-millis holds it
	// (rounded down, also before 1970).
	for in, want := range map[string]time.Time{
		"2026-01-02T16:04:05.123456789+01:00": time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC),
		"1969-12-31T23:59:59.9995Z":           time.Date(1969, 12, 31, 23, 59, 59, 999e6, time.UTC),
	} {
		if m, err := ParseMeta("c", "w", nil, in); err != nil || !m.IssuedAt.Equal(want) {
			t.Errorf("issuedAt %s: %v, %v; want %v", in, m.IssuedAt, err, want)
		}
	}
	if m, _ := ParseMeta("", "w", nil, ""); len(m.CommandID) != 36 || m.CorrelationID != "w" || m.ExpectedVersion != nil || !m.IssuedAt.IsZero() {
		t.Fatalf("defaults %+v", m)
	}
	neg := int64(-1)
	for _, tc := range []struct {
		version *int64
		at      string
		want    string
	}{
		{&neg, "", "field expectedVersion: must be >= 0, got -1"},
		{nil, "yesterday", `field issuedAt: "yesterday" is not an RFC 3339 time like 2026-01-02T15:04:05Z`},
	} {
		_, err := ParseMeta("c", "w", tc.version, tc.at)
		var fe *FieldError
		if !errors.As(err, &fe) || err.Error() != tc.want {
			t.Errorf("ParseMeta(%v, %q) = %v, want %s", tc.version, tc.at, err, tc.want)
		}
	}
}
