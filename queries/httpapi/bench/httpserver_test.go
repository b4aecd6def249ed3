package bench

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/httpapi"
	"github.com/prism-cqrs/prism/queries/payments"
)

// httpDeps are what the HTTP layer serves.
type httpDeps struct {
	bus         *queries.Bus
	set         *payments.Set
	router      *queries.Router
	reg         *prometheus.Registry
	log         *slog.Logger
	tokensFile  string
	gateway     commandGateway
	eventsTopic string
}

// newHTTPServer is queries/httpapi's server as cmd/prism/serve.go builds
// it: tokens from the file, the set's endpoints, the router's health, the
// gateway when there is one, metrics on one registry.
func newHTTPServer(b *testing.B, d httpDeps) http.Handler {
	tokens, err := httpapi.LoadTokens(d.tokensFile)
	if err != nil {
		b.Fatal(err)
	}
	cfg := httpapi.Config{Bus: d.bus, Endpoints: d.set.Endpoints(), Tokens: tokens, Health: d.router.Health,
		EventsTopics: []string{d.eventsTopic}, Gatherer: d.reg, Registerer: d.reg, Logger: d.log}
	if d.gateway != nil {
		cfg.Gateway = d.gateway
	}
	s, err := httpapi.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return s.Handler()
}
