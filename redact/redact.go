// Package redact keeps secrets out of everything Prism prints: flag
// defaults, errors, logs and HTTP bodies. It depends on nothing in Prism, so
// every package can use it.
//
// Two tools: URL masks the password of one connection string (URL or
// key/value DSN), and a Redactor masks every known secret value, plus any
// URL password or password=... pair, wherever it appears in a string.
package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// Mask replaces a secret. It is the same text net/url's URL.Redacted uses.
const Mask = "xxxxx"

// MinLiteralLen is the shortest secret a Redactor searches for in free
// text. Shorter passwords (such as the development default "prism", which is
// also the namespace) are still masked inside URLs and password=... pairs,
// but searching for them everywhere would mask topic and group names.
const MinLiteralLen = 6

// URL returns the connection string s with its password replaced by Mask:
// the userinfo password of a URL (postgres://u:PASS@h/db, redis://:PASS@h)
// and the password=... pair of a key/value DSN (host=h password=PASS). A
// string with no password is returned unchanged.
func URL(s string) string {
	return dsnPassword.ReplaceAllString(urlPassword.ReplaceAllString(s, "${1}"+Mask+"@"), "${1}"+Mask)
}

// Address returns the connection string s without its user information:
// a URL without user and password (postgres://h:5432/db), a password=...
// pair (key/value DSN, URL query) masked as URL masks it. It names a server
// in a message.
func Address(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		s = u.String()
	}
	return URL(s)
}

// Password returns the password held in the connection string s (URL
// userinfo or a password=... pair), or "" when it holds none.
func Password(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			return p
		}
	}
	if m := dsnPassword.FindStringSubmatch(s); m != nil {
		v := m[2]
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], `\'`, `'`)
		}
		return v
	}
	return ""
}

var (
	// urlPassword matches "scheme://user:" up to the last "@" before the
	// host; group 1 keeps "scheme://user:".
	urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)[^/?#\s]*@`)
	// dsnPassword matches password=VALUE (VALUE bare or 'quoted'), the
	// key/value form of libpq connection strings; group 1 keeps "password=".
	dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)`)
)

// Redactor masks a fixed set of secret values, and any URL password or
// password=... pair, in the strings it is given. The zero value masks only
// URL passwords and password=... pairs. A Redactor is safe for concurrent use.
type Redactor struct {
	secrets []string
}

// New returns a Redactor of the given secret values; empty values and
// values shorter than MinLiteralLen are skipped (see MinLiteralLen).
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	for _, s := range secrets {
		if len(s) >= MinLiteralLen {
			r.secrets = append(r.secrets, s)
		}
	}
	return r
}

// String returns s with every secret masked.
func (r *Redactor) String(s string) string {
	s = URL(s)
	if r == nil {
		return s
	}
	for _, secret := range r.secrets {
		s = strings.ReplaceAll(s, secret, Mask)
	}
	return s
}

// Error returns err with its message masked; errors.Is and errors.As still
// see the wrapped error. A nil err stays nil.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.String(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
