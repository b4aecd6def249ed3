package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Target is the Elasticsearch sink target (sinks.Target). Several instances
// may write the same index at once.
type Target struct {
	cfg   Config
	index string
	alias string
	// mode says what the target writes: the alias (the live sink), the
	// index itself (Config.Direct), or, for a Store's Target, what Setup
	// finds (the alias when the alias points at index).
	mode mode
	// write is the name the bulk and the _mget address: alias or index.
	write string
	// first is the version Setup of an auto target creates with the alias
	// when there is none (the Store's Config.IndexVersion).
	first int
	// where names the nodes for messages: the URLs without credentials.
	where  string
	client *es.Client
	log    *slog.Logger
	// doc renders the aggregate's documents and mapping; live names the
	// fields the stale check reads back.
	doc  projections.Document
	live projections.LiveFields
}

var (
	_ sinks.Target  = (*Target)(nil)
	_ sinks.Pinger  = (*Target)(nil)
	_ sinks.Checker = (*Target)(nil)
)

// NewTarget validates cfg and builds a client for the aggregate whose
// names cfg.Names holds and whose documents doc renders; it makes no
// request, so an Elasticsearch that is down does not fail this call.
func NewTarget(cfg Config, doc projections.Document) (*Target, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("elasticsearch: no document projection")
	}
	live := doc.Live()
	if live.Version == "" {
		return nil, errors.New("elasticsearch: the document projection names no version field")
	}
	client, err := es.NewClient(es.Config{
		Addresses:  cfg.URLs,
		Username:   cfg.Username,
		Password:   cfg.Password,
		MaxRetries: 2,
		Transport: &http.Transport{
			MaxIdleConnsPerHost:   16,
			ResponseHeaderTimeout: cfg.Timeout,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: new client: %w", err)
	}
	t := &Target{
		cfg:    cfg,
		where:  redactedURLs(cfg.URLs),
		index:  cfg.Names.ElasticsearchIndex(cfg.IndexVersion),
		alias:  cfg.Names.ElasticsearchAlias(),
		mode:   modeAlias,
		first:  cfg.IndexVersion,
		client: client,
		log:    slog.Default().With("sink", "elasticsearch"),
		doc:    doc,
		live:   live,
	}
	t.write = t.alias
	if cfg.Direct {
		t.mode, t.write = modeDirect, t.index
	}
	return t, nil
}

// mode is what a target writes.
type mode int

const (
	// modeAlias: the alias, whatever index it points at (the live sink).
	modeAlias mode = iota
	// modeDirect: the index of the configured version (Config.Direct).
	modeDirect
	// modeAuto: decided by Setup, the alias when it points at the
	// configured version (or is missing and that version is the first),
	// the index otherwise (Store.Target).
	modeAuto
)

// Name is the sink's name: its consumer group is Names.SinkGroup(Name).
const Name = "elasticsearch"

// Name returns Name.
func (t *Target) Name() string { return Name }

// Index is the index of the configured version (Config.IndexVersion):
// the one a Direct target writes, and the one Setup creates with the alias
// when the alias does not exist yet.
func (t *Target) Index() string { return t.index }

// Writes is the name the target writes and reads: the alias, or the index
// for a Direct target (and a Store's Target of a version other than the
// current one, once set up).
func (t *Target) Writes() string { return t.write }

// Alias is the alias the query side reads.
func (t *Target) Alias() string { return t.alias }

// CommittedOffsets returns nil: Elasticsearch stores no offsets, the
// runtime uses the group's committed offsets (external versions make the
// redelivered tail a no-op).
func (t *Target) CommittedOffsets(context.Context, string, []int32) (map[int32]int64, error) {
	return nil, nil
}

// Ping asks the cluster health (sinks.Pinger): an error when Elasticsearch
// does not answer (wrapping sinks.ErrTransient), answers with an error
// status, or reports the cluster red. (HEAD / is not used: the
// integration-test distribution answers it with 405.)
func (t *Target) Ping(ctx context.Context) error {
	status, body, err := t.do(ctx, esapi.ClusterHealthRequest{FilterPath: []string{"status"}})
	if err != nil {
		return fmt.Errorf("elasticsearch: ping: %w", err)
	}
	if status != http.StatusOK {
		return statusError("ping", status, body)
	}
	var h struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return fmt.Errorf("elasticsearch: ping: decode cluster health: %w", err)
	}
	if h.Status == "red" {
		return fmt.Errorf("elasticsearch: ping: %w: cluster health is red", sinks.ErrTransient)
	}
	return nil
}

// Close releases idle connections.
func (t *Target) Close() error {
	if tr, ok := t.client.Transport.(interface{ CloseIdleConnections() }); ok {
		tr.CloseIdleConnections()
	}
	return nil
}

// do performs req and reads the whole response. A request that gets no
// response (refused, reset, timed out) returns an error wrapping
// sinks.ErrTransient; a cancelled context is returned as is.
func (t *Target) do(ctx context.Context, req esapi.Request) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	res, err := req.Do(ctx, t.client)
	if err != nil {
		return 0, nil, transportError(ctx, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, transportError(ctx, err)
	}
	return res.StatusCode, body, nil
}

// redactedURLs joins urls with any user information removed.
func redactedURLs(urls []string) string {
	out := make([]string, len(urls))
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			out[i] = "(unparsable URL)"
			continue
		}
		u.User = nil
		out[i] = u.String()
	}
	return strings.Join(out, ",")
}
