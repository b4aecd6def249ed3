package sinks

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// HealthStatus is the runner's view of its target.
type HealthStatus struct {
	Sink      string    `json:"sink"`
	Healthy   bool      `json:"healthy"`
	LastError string    `json:"lastError,omitempty"`
	Since     time.Time `json:"since"` // when Healthy last changed
}

type health struct {
	mu sync.Mutex
	s  HealthStatus
	// onChange is called (under mu) when Healthy flips.
	onChange func(healthy bool)
}

func (h *health) set(healthy bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.s.LastError = err.Error()
	} else if healthy {
		h.s.LastError = ""
	}
	if h.s.Healthy != healthy || h.s.Since.IsZero() {
		h.s.Healthy = healthy
		h.s.Since = time.Now().UTC()
		if h.onChange != nil {
			h.onChange(healthy)
		}
	}
}

func (h *health) get() HealthStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.s
}

// Health returns whether the target is currently accepting writes and the
// last error seen. A runner starts healthy; it turns unhealthy on the first
// failed Setup, CommittedOffsets or Write, and healthy again on the next
// success.
func (r *Runner) Health() HealthStatus { return r.health.get() }

// HealthHandler serves the health as JSON: 200 when healthy, 503 when the
// target is failing (the body names the last error).
func (r *Runner) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s := r.Health()
		w.Header().Set("Content-Type", "application/json")
		if !s.Healthy {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(s)
	})
}
