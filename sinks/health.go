package sinks

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// HealthStatus is the runner's view of Kafka and of its target.
type HealthStatus struct {
	Sink    string `json:"sink"`
	Healthy bool   `json:"healthy"`
	// LastError says why the sink is unhealthy: "kafka ...: <error>" while
	// no broker answers, then the target's error, one per line when both
	// fail. Empty while healthy.
	LastError string    `json:"lastError,omitempty"`
	Since     time.Time `json:"since"` // when Healthy last changed
}

// health combines two independent states: whether a Kafka broker answers
// and whether the target accepts writes. The sink is healthy when both do.
type health struct {
	mu        sync.Mutex
	s         HealthStatus
	kafkaErr  error
	targetErr error
	// onChange is called (under mu) when Healthy flips.
	onChange func(healthy bool)
}

// setTarget records the target's state: nil once it accepts writes again.
func (h *health) setTarget(err error) { h.update(func() { h.targetErr = err }) }

// setKafka records whether a broker answers: nil once one does again.
func (h *health) setKafka(err error) { h.update(func() { h.kafkaErr = err }) }

func (h *health) update(change func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	change()
	h.s.LastError = ""
	for _, err := range []error{h.kafkaErr, h.targetErr} {
		if err == nil {
			continue
		}
		if h.s.LastError != "" {
			h.s.LastError += "\n"
		}
		h.s.LastError += err.Error()
	}
	healthy := h.kafkaErr == nil && h.targetErr == nil
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

func (h *health) targetFailing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.targetErr != nil
}

// Health returns whether the sink can do its work and, when not, why. A
// runner is unhealthy until Run has checked its topics and set the target
// up; then it turns unhealthy while no Kafka broker answers (probed every
// ProbeInterval) and while its target fails (a failed Setup,
// CommittedOffsets, Write or Ping), and healthy again once both answer.
func (r *Runner) Health() HealthStatus { return r.health.get() }

// HealthHandler serves the health as JSON: 200 when healthy, 503 while
// Kafka or the target is failing (lastError says which and why).
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
