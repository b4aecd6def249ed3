package elasticsearch

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/prism-cqrs/prism/redact"
	"github.com/prism-cqrs/prism/topology"
)

// Defaults of Config.
const (
	DefaultIndexVersion = 1
	DefaultShards       = 1
	DefaultReplicas     = 0
	DefaultGCDeletes    = time.Hour
	DefaultTimeout      = 30 * time.Second
)

// Config configures the Elasticsearch target. Start from DefaultConfig.
type Config struct {
	// URLs of the Elasticsearch nodes (http:// or https://).
	URLs []string
	// Username and Password for basic authentication (both empty: none).
	Username, Password string
	// Names gives the alias and index names.
	Names topology.Names
	// IndexVersion is the version of the index Setup creates
	// (Names.ElasticsearchIndex(IndexVersion)) and points the alias at
	// when the alias does not exist yet. Once it exists the target writes
	// and reads through the alias, whatever version it points at, so a
	// running sink follows a side-by-side rebuild's switch (rebuild.go).
	IndexVersion int
	// Direct makes the target write and read index IndexVersion itself,
	// never the alias, and Setup create that index alone, leaving the
	// alias as it is: the builder of a side-by-side rebuild (Store.Target).
	Direct bool
	// Shards and Replicas of a newly created index.
	Shards, Replicas int
	// GCDeletes is the index's index.gc_deletes: how long Elasticsearch
	// remembers the version of a deleted document, so that an older event
	// replayed within this time cannot bring it back.
	GCDeletes time.Duration
	// Timeout bounds each request to Elasticsearch.
	Timeout time.Duration
}

// DefaultConfig returns the configuration with every default set. rawURLs
// is one URL or several separated by commas.
func DefaultConfig(rawURLs string, names topology.Names) Config {
	var urls []string
	for _, u := range strings.Split(rawURLs, ",") {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return Config{
		URLs:         urls,
		Names:        names,
		IndexVersion: DefaultIndexVersion,
		Shards:       DefaultShards,
		Replicas:     DefaultReplicas,
		GCDeletes:    DefaultGCDeletes,
		Timeout:      DefaultTimeout,
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.URLs) == 0 {
		errs = append(errs, errors.New("elasticsearch: no URL"))
	}
	for _, raw := range c.URLs {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("elasticsearch: URL %q: want http(s)://host:port", redact.URL(raw)))
		}
	}
	if c.Names.Namespace == "" {
		errs = append(errs, errors.New("elasticsearch: Names has no namespace"))
	}
	if c.IndexVersion < 1 {
		errs = append(errs, fmt.Errorf("elasticsearch: IndexVersion %d: want at least 1", c.IndexVersion))
	}
	if c.Shards < 1 {
		errs = append(errs, fmt.Errorf("elasticsearch: Shards %d: want at least 1", c.Shards))
	}
	if c.Replicas < 0 {
		errs = append(errs, fmt.Errorf("elasticsearch: Replicas %d: want 0 or more", c.Replicas))
	}
	if c.GCDeletes < time.Second {
		errs = append(errs, fmt.Errorf("elasticsearch: GCDeletes %s: want at least 1s", c.GCDeletes))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("elasticsearch: Timeout %s: want more than 0", c.Timeout))
	}
	return errors.Join(errs...)
}
