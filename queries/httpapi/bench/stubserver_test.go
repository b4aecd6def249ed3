//go:build !benchgateway

package bench

// STUB until queries/httpapi is merged: a minimal HTTP layer following
// CONTRACT.md's success path, so the harness runs before the real server
// exists. Replaced by httpapi's server at the merge.

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
)

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

func newHTTPServer(b *testing.B, d httpDeps) http.Handler {
	raw, err := os.ReadFile(d.tokensFile)
	if err != nil {
		b.Fatal(err)
	}
	hash, org, _ := strings.Cut(strings.TrimSpace(string(raw)), " ")
	scope, err := queries.Organizations(org)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	for _, ep := range d.set.Endpoints() {
		mux.HandleFunc(ep.Method+" "+ep.Path, func(w http.ResponseWriter, r *http.Request) {
			sum := sha256.Sum256([]byte(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")))
			if hex.EncodeToString(sum[:]) != hash {
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			params, err := ep.Params(r.PathValue, r.URL.Query())
			if err != nil {
				http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
				return
			}
			q, err := queries.NewQuery(ep.QueryType, params, scope)
			if err != nil {
				http.Error(w, `{"error":"bad"}`, http.StatusBadRequest)
				return
			}
			a, err := d.bus.Ask(r.Context(), q)
			if err != nil {
				http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusServiceUnavailable)
				return
			}
			level := string(a.Cache)
			if level == "" {
				level = "miss"
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Prism-Source", a.Source)
			w.Header().Set("X-Prism-Cache", level)
			_, _ = w.Write(a.JSON)
		})
	}
	return mux
}
