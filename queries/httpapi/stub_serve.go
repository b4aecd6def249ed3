// Package httpapi STUB: replaced at merge by the httpapi helper's package.
// Only the API cmd/prism uses (CONTRACT.md), so branch serve compiles.
package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/queries"
)

// CommandGateway STUB.
type CommandGateway interface {
	Submit(ctx context.Context, scope queries.Scope, body []byte, wait time.Duration) (status int, answer []byte, err error)
}

// Tokens STUB.
type Tokens struct{}

// LoadTokens STUB.
func LoadTokens(path string) (*Tokens, error) { return nil, errors.New("STUB LoadTokens " + path) }

// Scope STUB.
func (*Tokens) Scope(string) (queries.Scope, bool) { return queries.Scope{}, false }

// HashToken STUB (the contract's behaviour: sha256 hex).
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// Config STUB.
type Config struct {
	Bus                  *queries.Bus
	Endpoints            []queries.Endpoint
	Tokens               *Tokens
	Gateway              CommandGateway
	Health               func() []queries.SourceHealth
	Ready                func() error
	EventsTopics         []string
	Gatherer             prometheus.Gatherer
	Registerer           prometheus.Registerer
	DefaultWait, MaxWait time.Duration
	Logger               *slog.Logger
}

// Server STUB.
type Server struct{}

// New STUB.
func New(Config) (*Server, error) { return &Server{}, nil }

// Handler STUB.
func (*Server) Handler() http.Handler { return http.NotFoundHandler() }
