package elasticsearch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/topology"
)

// esServer is the real Elasticsearch of the tests, spoken to with plain
// HTTP, independently of the sink.
type esServer struct{ url string }

// newESServer returns the test Elasticsearch; the test's end deletes the
// indices of names (which drops their alias).
func newESServer(t *testing.T, names topology.Names) *esServer {
	t.Helper()
	s := &esServer{url: strings.TrimRight(testkit.ElasticsearchURL(t), "/")}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = s.call(ctx, http.MethodDelete, "/"+names.ElasticsearchAlias()+"-v*", nil, nil)
	})
	return s
}

// call sends a request to the cluster (testkit.JSONCall) and returns the
// status.
func (s *esServer) call(ctx context.Context, method, path string, body, out any) (int, error) {
	return testkit.JSONCall(ctx, method, s.url+path, body, out)
}

// esHit is one document as search and get return it, its source left raw.
type esHit struct {
	ID      string          `json:"_id"`
	Version int64           `json:"_version"`
	SeqNo   int64           `json:"_seq_no"`
	Found   bool            `json:"found"`
	Source  json.RawMessage `json:"_source"`
}

// search refreshes alias and returns every document it reads, by id (at
// most 10,000: the tests write fewer).
func (s *esServer) search(ctx context.Context, alias string) (map[string]esHit, error) {
	if st, err := s.call(ctx, http.MethodPost, "/"+alias+"/_refresh", nil, nil); err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("refresh %s: status %d: %v", alias, st, err)
	}
	const size = 10000
	q := map[string]any{"size": size, "version": true, "track_total_hits": true, "query": map[string]any{"match_all": map[string]any{}}}
	var res struct {
		Hits struct {
			Total struct {
				Value int `json:"value"`
			} `json:"total"`
			Hits []esHit `json:"hits"`
		} `json:"hits"`
	}
	st, err := s.call(ctx, http.MethodPost, "/"+alias+"/_search", q, &res)
	if err != nil || st != http.StatusOK {
		return nil, fmt.Errorf("search %s: status %d: %v", alias, st, err)
	}
	if res.Hits.Total.Value > size {
		return nil, fmt.Errorf("search %s: %d documents, the test reads at most %d", alias, res.Hits.Total.Value, size)
	}
	out := make(map[string]esHit, len(res.Hits.Hits))
	for _, h := range res.Hits.Hits {
		out[h.ID] = h
	}
	return out, nil
}

// get reads the document id of index by id (realtime); nil when absent.
func (s *esServer) get(t *testing.T, ctx context.Context, index, id string) *esHit {
	t.Helper()
	var h esHit
	st, err := s.call(ctx, http.MethodGet, "/"+index+"/_doc/"+id, nil, &h)
	if err != nil {
		t.Fatal(err)
	}
	if st == http.StatusNotFound {
		return nil
	}
	if st != http.StatusOK || !h.Found {
		t.Fatalf("GET %s/_doc/%s: status %d", index, id, st)
	}
	return &h
}
