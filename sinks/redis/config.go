package redis

import (
	"errors"
	"fmt"
	"time"

	"github.com/prism-cqrs/prism/topology"
)

// Defaults of Config.
const (
	DefaultTTL         = 24 * time.Hour
	DefaultRecentSize  = 1000
	DefaultChunkEvents = 256
	// MaxChunkEvents bounds ChunkEvents: the script passes a chunk's
	// recent-index changes to one ZADD, within Lua's argument limit.
	MaxChunkEvents = 2000
)

// Config configures the Redis target. Start from DefaultConfig.
type Config struct {
	// URL is a redis:// or rediss:// URL (go-redis ParseURL syntax:
	// user, password, database, TLS, timeouts as query parameters).
	URL string
	// Names are the aggregate's names (aggregates.Definition.Names): the
	// key prefix (Names.RedisPrefix) is the namespace's.
	Names topology.Names
	// TTL of a document key; 0 keeps it forever.
	TTL time.Duration
	// RecentSize is how many ids each organization's recent index keeps
	// (the highest scores: Payment's newest by createdAt).
	RecentSize int
	// ChunkEvents is the number of events one Lua script call applies. A
	// larger chunk means fewer calls but a longer time during which Redis
	// runs only this script.
	ChunkEvents int
}

// DefaultConfig returns the configuration with every default set.
func DefaultConfig(url string, names topology.Names) Config {
	return Config{
		URL:         url,
		Names:       names,
		TTL:         DefaultTTL,
		RecentSize:  DefaultRecentSize,
		ChunkEvents: DefaultChunkEvents,
	}
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("redis: URL is empty"))
	}
	if c.Names.Namespace == "" {
		errs = append(errs, errors.New("redis: Names has no namespace"))
	}
	if c.TTL < 0 || (c.TTL > 0 && c.TTL < time.Second) {
		errs = append(errs, fmt.Errorf("redis: TTL %s: want 0 (no expiry) or at least 1s", c.TTL))
	}
	if c.RecentSize < 1 {
		errs = append(errs, fmt.Errorf("redis: RecentSize %d: want at least 1", c.RecentSize))
	}
	if c.ChunkEvents < 1 || c.ChunkEvents > MaxChunkEvents {
		errs = append(errs, fmt.Errorf("redis: ChunkEvents %d: want 1 to %d", c.ChunkEvents, MaxChunkEvents))
	}
	return errors.Join(errs...)
}
