package payment

import (
	"encoding/json"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prism-cqrs/prism/internal/readmetest"
	redissink "github.com/prism-cqrs/prism/sinks/redis"
	"github.com/prism-cqrs/prism/topology"
)

// TestREADMERedisFormat holds the README's "Redis" section to the code:
// every key of the table is what the Redis sink's Keys build from
// RedisCache's layout, and the example document decodes into RedisDocument
// with no unknown and no missing field.
func TestREADMERedisFormat(t *testing.T) {
	sec := readmetest.Section(t, "### Redis (prefix")

	k := redissink.NewKeys(topology.Names{Namespace: "<ns>"}, RedisCache{}.CacheLayout()) // the README's placeholders, as written
	built := map[string]bool{
		k.Doc("<id>"):             true,
		k.Recent("<orgId>"):       true,
		k.CacheVersion("<orgId>"): true,
		k.InvalidateChannel():     true,
		k.Offset("<topic>", 7):    true, // <partition> below
		k.Pointer():               true,
		k.Switching():             true,
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([^`]+)`").FindAllStringSubmatch(sec, -1) {
		documented = append(documented, strings.ReplaceAll(m[1], "<partition>", "7"))
	}
	if len(documented) != len(built) {
		t.Errorf("README lists keys %v, the sink builds %v", documented, slices.Sorted(maps.Keys(built)))
	}
	for _, d := range documented {
		if !built[d] {
			t.Errorf("README key %q is not one the sink builds (%v)", d, slices.Sorted(maps.Keys(built)))
		}
	}

	example := readmetest.JSONExample(t, sec)
	var doc RedisDocument
	readmetest.DecodeStrict(t, example, &doc)
	var exampleKeys, docKeys map[string]any
	round, _ := json.Marshal(doc)
	if err := json.Unmarshal([]byte(example), &exampleKeys); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(round, &docKeys); err != nil {
		t.Fatal(err)
	}
	if a, b := slices.Sorted(maps.Keys(exampleKeys)), slices.Sorted(maps.Keys(docKeys)); !slices.Equal(a, b) {
		t.Errorf("README example fields %v, RedisDocument has %v", a, b)
	}
	if !strings.HasPrefix(strings.TrimSpace(example), `{"version":`) {
		t.Errorf("README example does not start with version, which the apply script reads first")
	}
}
