package httpapi

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/prism-cqrs/prism/queries"
)

// Tokens maps bearer tokens, known only by their SHA-256 digests, to the
// organizations their holders may see. Build it with LoadTokens; it is
// read-only and safe for concurrent use.
type Tokens struct {
	entries []tokenEntry
	// readableByOthers: the file could be read by users other than its
	// owner and group (New logs a WARN).
	readableByOthers bool
	path             string
}

type tokenEntry struct {
	digest [sha256.Size]byte
	scope  queries.Scope
}

// HashToken is a token as the tokens file stores it: the SHA-256 of its
// bytes, lower-case hex (what `prism serve hash-token` prints).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// LoadTokens reads a tokens file: one entry per line,
//
//	<sha256 hex of the token> <org>[,<org>...]
//	<sha256 hex of the token> *
//
// ("*": every organization, for operators); lines starting with # and blank
// lines are ignored. Errors name the file and the line number and what is
// wrong, never the line's content (it may hold a token pasted by mistake).
// A file without any entry is an error (nobody could call).
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens file: %w", err)
	}
	t := &Tokens{path: path}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o004 != 0 {
		t.readableByOthers = true
	}
	seen := map[[sha256.Size]byte]int{}
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseTokenLine(line)
		if err != nil {
			errs = append(errs, fmt.Errorf("tokens file %s: line %d: %w", path, n, err))
			continue
		}
		if first, dup := seen[e.digest]; dup {
			errs = append(errs, fmt.Errorf("tokens file %s: line %d: the same token hash as line %d", path, n, first))
			continue
		}
		seen[e.digest] = n
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("tokens file %s: no token (every request would be refused)", path)
	}
	return t, nil
}

// parseTokenLine reads one entry; its errors never quote the line.
func parseTokenLine(line string) (tokenEntry, error) {
	fields := strings.Fields(line)
	if len(fields) != 2 {
		return tokenEntry{}, errors.New("want two fields: <sha256 hex of the token> <org>[,<org>...] or <sha256 hex> *")
	}
	var e tokenEntry
	if len(fields[0]) != 2*sha256.Size {
		return e, fmt.Errorf("the token hash must be %d hexadecimal characters (the SHA-256 of the token, see prism serve hash-token)", 2*sha256.Size)
	}
	if _, err := hex.Decode(e.digest[:], []byte(fields[0])); err != nil {
		return e, errors.New("the token hash is not hexadecimal")
	}
	if fields[1] == "*" {
		e.scope = queries.AllOrganizations()
		return e, nil
	}
	orgs := strings.Split(fields[1], ",")
	for _, o := range orgs {
		switch {
		case o == "":
			return e, errors.New("empty organization id in the list")
		case o == "*":
			return e, errors.New("* (every organization) must stand alone")
		case len(o) > 128:
			return e, errors.New("organization id longer than 128 bytes")
		}
	}
	s, err := queries.Organizations(orgs...)
	if err != nil {
		return e, errors.New("bad organization list")
	}
	e.scope = s
	return e, nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Scope returns the organizations of the bearer token, false for an unknown
// token. The token's digest is compared with every entry's in constant time.
func (t *Tokens) Scope(bearer string) (queries.Scope, bool) {
	sum := sha256.Sum256([]byte(bearer))
	var found queries.Scope
	ok := false
	for _, e := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], e.digest[:]) == 1 {
			found, ok = e.scope, true
		}
	}
	return found, ok
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header (scheme case-insensitive); ok is false when there is none or the
// header is malformed.
func bearerToken(r *http.Request) (token string, present, ok bool) {
	h := r.Header.Values("Authorization")
	if len(h) == 0 {
		return "", false, false
	}
	if len(h) > 1 {
		return "", true, false
	}
	scheme, rest, found := strings.Cut(h[0], " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", true, false
	}
	token = strings.TrimSpace(rest)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", true, false
	}
	return token, true, true
}

// authenticate returns the caller's scope, or writes 401 and returns false.
// With no Tokens (--auth none) every caller sees every organization.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (queries.Scope, bool) {
	if s.cfg.Tokens == nil {
		return queries.AllOrganizations(), true
	}
	token, present, ok := bearerToken(r)
	if !present {
		s.unauthorized(w, "missing bearer token (Authorization: Bearer <token>)")
		return queries.Scope{}, false
	}
	if !ok {
		s.unauthorized(w, "malformed Authorization header (want Bearer <token>)")
		return queries.Scope{}, false
	}
	scope, known := s.cfg.Tokens.Scope(token)
	if !known {
		s.unauthorized(w, "unknown bearer token")
		return queries.Scope{}, false
	}
	return scope, true
}

func (s *Server) unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", "Bearer")
	writeError(w, http.StatusUnauthorized, errorBody{Error: msg})
}
