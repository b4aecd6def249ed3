package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/prism-cqrs/prism/producers"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/records"
)

// command is a parsed POST body.
type command struct {
	cmd    records.Command
	meta   records.CommandMeta
	plural string
	// aggregate is the aggregate's name (payment), the aggregate label of
	// the metrics as the processor's and the sinks' carry it.
	aggregate string
	hash      string // hex SHA-256 of the canonical command
	// idempotent: the body gave the commandId, so the store keys it.
	idempotent bool
}

// parse reads the body into a command; a non-nil answer is a refusal.
func (g *Gateway) parse(body []byte, scope queries.Scope) (command, *answer) {
	refuse := func(status int, msg, param string) (command, *answer) {
		a := errorAnswer(status, msg, param)
		return command{}, &a
	}
	line, err := oneLine(body)
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error(), "body")
	}
	cmd, err := g.cmds.Parse(line)
	if err != nil {
		return refuse(http.StatusBadRequest, err.Error(), "body")
	}
	var head struct {
		CommandID      *string `json:"commandId"`
		CorrelationID  *string `json:"correlationId"`
		OrganizationID *string `json:"organizationId"`
	}
	if err := json.Unmarshal(line, &head); err != nil { // the command set parsed it: not expected
		return refuse(http.StatusBadRequest, "invalid JSON: "+err.Error(), "body")
	}
	c := command{idempotent: head.CommandID != nil && *head.CommandID != ""}
	if c.idempotent && head.CorrelationID == nil {
		// The parser would generate a random correlationId: a retry would
		// be another command. Default it as the producer does (the
		// command id) and parse again.
		if withID, ok := withField(line, "correlationId", *head.CommandID); ok {
			if cmd2, err := g.cmds.Parse(withID); err == nil {
				cmd = cmd2
			}
		}
	}
	c.cmd, c.meta = cmd, cmd.CommandMeta()
	if agg, err := g.p.AggregateOf(c.meta.Type); err == nil {
		c.plural, c.aggregate = agg.Plural, agg.Name
		if c.plural == "" {
			c.plural = agg.Name
		}
	}
	if head.OrganizationID == nil || !inScope(scope, *head.OrganizationID) {
		a := errorAnswer(http.StatusForbidden, "organization not in your scope", "")
		return c, &a
	}
	canon, err := json.Marshal(cmd)
	if err != nil {
		return refuse(http.StatusBadRequest, "command cannot be encoded: "+err.Error(), "body")
	}
	sum := sha256.Sum256(canon)
	c.hash = hex.EncodeToString(sum[:])
	return c, nil
}

// oneLine returns the one JSON Lines command of body: a UTF-8 byte order
// mark and blank lines around it are ignored, a second command is an error.
func oneLine(body []byte) ([]byte, error) {
	if len(body) > producers.MaxLineBytes {
		return nil, fmt.Errorf("body is longer than %d bytes", producers.MaxLineBytes)
	}
	body = bytes.TrimPrefix(body, []byte{0xEF, 0xBB, 0xBF})
	var line []byte
	n := 0
	for l := range bytes.SplitSeq(body, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		n++
		line = bytes.TrimSuffix(l, []byte("\r"))
	}
	switch {
	case n == 0:
		return nil, errors.New("body is empty: want one JSON Lines command")
	case n > 1:
		return nil, fmt.Errorf("body holds %d lines: want exactly one JSON Lines command", n)
	}
	return line, nil
}

// withField returns the JSON object line with the string field key=value
// added first; ok is false when line does not start with '{'.
func withField(line []byte, key, value string) ([]byte, bool) {
	trimmed := bytes.TrimLeft(line, " \t\r")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	out := make([]byte, 0, len(line)+len(k)+len(v)+3)
	out = append(out, '{')
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, v...)
	out = append(out, ',')
	return append(out, trimmed[1:]...), true
}

func inScope(s queries.Scope, org string) bool {
	if s.All() {
		return true
	}
	_, ok := slices.BinarySearch(s.Orgs(), org)
	return ok && org != ""
}
