package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/sinks"
)

// Setup prepares what the target writes. The live sink's target (the
// default) writes through the alias: when the alias exists, Setup creates
// nothing and the target follows whatever index it points at (after a
// side-by-side rebuild's switch, the new version: a restarted sink neither
// moves the alias back nor recreates the old index); when it does not,
// Setup creates the index Names.ElasticsearchIndex(IndexVersion) with the
// projection's mapping (projections.Document.Mapping, told the modules
// every node has; dynamic: strict) and points the alias at it. A Direct
// target (a rebuild's version N+1) gets its index created and the alias
// left alone. It is idempotent and safe when several instances run it at
// once: an index another instance created first is accepted as is.
// Elasticsearch unreachable or answering 429/5xx gives an error wrapping
// sinks.ErrTransient; credentials refused (401/403), a URL path that is not
// Elasticsearch's API or a server that is not Elasticsearch one wrapping
// sinks.ErrPermanent. The error names the URLs (without credentials).
//
// The index records its owning namespace (mapping _meta.namespace). An
// existing index without one (created before the record existed) is
// claimed; one recorded for another namespace that maps to the same index
// name fails Setup with sinks.ErrStoreOwned naming the owner, changing
// nothing: two pipelines never share one index. The index the alias points
// at is checked the same way.
func (t *Target) Setup(ctx context.Context) error {
	if err := t.setup(ctx); err != nil {
		return fmt.Errorf("%w (elasticsearch at %s)", err, t.where)
	}
	return nil
}

func (t *Target) setup(ctx context.Context) error {
	if t.mode == modeDirect {
		return t.createIndex(ctx, t.index)
	}
	current, err := t.aliasIndex(ctx)
	if err != nil {
		return err
	}
	if t.mode == modeAuto {
		// A Store's Target: the live target when its version is current.
		if current != t.index && (current != "" || t.cfg.IndexVersion != t.first) {
			t.write = t.index
			return t.createIndex(ctx, t.index)
		}
		t.write = t.alias
	}
	if current == "" {
		return t.createLive(ctx)
	}
	owner, err := t.readOwner(ctx, current)
	if err != nil {
		return err
	}
	if err := t.checkOwner(ctx, current, owner); err != nil {
		return err
	}
	if current != t.index {
		t.log.Info("alias points at another version than the configured one; writing through the alias",
			"alias", t.alias, "index", current, "configured", t.index)
	}
	return nil
}

// createLive creates the index of the configured version and the alias
// pointing at it (the alias does not exist).
func (t *Target) createLive(ctx context.Context) error {
	if err := t.createIndex(ctx, t.index); err != nil {
		return err
	}
	return t.ensureAlias(ctx)
}

// aliasIndex returns the index the alias points at ("" when the alias does
// not exist).
func (t *Target) aliasIndex(ctx context.Context) (string, error) {
	status, body, err := t.do(ctx, esapi.IndicesGetAliasRequest{Name: []string{t.alias}})
	if err != nil {
		return "", fmt.Errorf("elasticsearch: read alias %s: %w", t.alias, err)
	}
	switch status {
	case http.StatusNotFound:
		return "", nil
	case http.StatusOK:
	default:
		return "", statusError("read alias "+t.alias, status, body)
	}
	var indices map[string]json.RawMessage
	if err := json.Unmarshal(body, &indices); err != nil {
		return "", fmt.Errorf("elasticsearch: decode alias %s: %w", t.alias, err)
	}
	if len(indices) != 1 {
		return "", fmt.Errorf("elasticsearch: alias %s points at %d indices (%s), want one",
			t.alias, len(indices), strings.Join(slices.Sorted(maps.Keys(indices)), ", "))
	}
	for index := range indices {
		return index, nil
	}
	return "", nil
}

// capabilities lists the modules and plugins every node has, for the
// mapping of a new index. (The integration-test distribution of
// Elasticsearch ships core modules only: no mapper-extras, so no
// scaled_float.)
func (t *Target) capabilities(ctx context.Context) (projections.IndexCapabilities, error) {
	var caps projections.IndexCapabilities
	status, body, err := t.do(ctx, esapi.NodesInfoRequest{Metric: []string{"plugins"}, FilterPath: []string{"nodes.*.modules.name", "nodes.*.plugins.name"}})
	if err != nil {
		return caps, fmt.Errorf("elasticsearch: list modules: %w", err)
	}
	if status != http.StatusOK {
		return caps, statusError("list modules", status, body)
	}
	var info struct {
		Nodes map[string]struct {
			Modules []struct{ Name string } `json:"modules"`
			Plugins []struct{ Name string } `json:"plugins"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return caps, fmt.Errorf("elasticsearch: decode modules: %w", err)
	}
	// A module counts when every node has it.
	count := map[string]int{}
	for _, n := range info.Nodes {
		seen := map[string]bool{}
		for _, m := range append(n.Modules, n.Plugins...) {
			if !seen[m.Name] {
				seen[m.Name] = true
				count[m.Name]++
			}
		}
	}
	caps.Modules = make(map[string]bool, len(count))
	for name, c := range count {
		if c == len(info.Nodes) {
			caps.Modules[name] = true
		}
	}
	return caps, nil
}

// createIndex creates index with the projection's mapping, or accepts it
// when it exists and belongs to the namespace.
func (t *Target) createIndex(ctx context.Context, index string) error {
	status, resp, properties, err := t.create(ctx, index)
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
		t.log.Info("index created", "index", index, "field_types", fieldTypes(properties))
		return nil
	case status == http.StatusBadRequest && errorType(resp) == "resource_already_exists_exception":
		t.log.Debug("index exists", "index", index)
		owner, err := t.readOwner(ctx, index)
		if err != nil {
			return err
		}
		return t.checkOwner(ctx, index, owner)
	}
	return statusError("create index "+index, status, resp)
}

// create sends the creation of index with the projection's mapping (for
// the capabilities of the nodes) and returns the answer and the mapping's
// properties.
func (t *Target) create(ctx context.Context, index string) (int, []byte, json.RawMessage, error) {
	caps, err := t.capabilities(ctx)
	if err != nil {
		return 0, nil, nil, err
	}
	properties, err := t.doc.Mapping(caps)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("elasticsearch: mapping of %s: %w", index, err)
	}
	body, err := indexBody(t.cfg, properties)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("elasticsearch: encode mapping of %s: %w", index, err)
	}
	status, resp, err := t.do(ctx, esapi.IndicesCreateRequest{Index: index, Body: bytes.NewReader(body)})
	if err != nil {
		return 0, nil, nil, fmt.Errorf("elasticsearch: create index %s: %w", index, err)
	}
	return status, resp, properties, nil
}

// readOwner reads the owning namespace recorded on the existing index
// ("" when none is).
func (t *Target) readOwner(ctx context.Context, index string) (string, error) {
	status, body, err := t.do(ctx, esapi.IndicesGetMappingRequest{Index: []string{index}, FilterPath: []string{"*.mappings._meta"}})
	if err != nil {
		return "", fmt.Errorf("elasticsearch: get mapping of %s: %w", index, err)
	}
	if status != http.StatusOK {
		return "", statusError("get mapping of "+index, status, body)
	}
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Namespace string `json:"namespace"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("elasticsearch: decode mapping of %s: %w", index, err)
	}
	return m[index].Mappings.Meta.Namespace, nil
}

// checkOwner accepts an index owned by this namespace, claims one with no
// owner recorded, and refuses one owned by another namespace.
func (t *Target) checkOwner(ctx context.Context, index, owner string) error {
	ns := t.cfg.Names.Namespace
	switch owner {
	case ns:
		return nil
	case "":
		meta, err := json.Marshal(map[string]any{"_meta": map[string]any{"namespace": ns}})
		if err != nil {
			return fmt.Errorf("elasticsearch: encode _meta: %w", err)
		}
		status, body, err := t.do(ctx, esapi.IndicesPutMappingRequest{Index: []string{index}, Body: bytes.NewReader(meta)})
		if err != nil {
			return fmt.Errorf("elasticsearch: record namespace %s on %s: %w", ns, index, err)
		}
		if status != http.StatusOK {
			return statusError("record namespace on "+index, status, body)
		}
		t.log.Info("index claimed for the namespace", "index", index, "namespace", ns)
		return nil
	}
	return fmt.Errorf("elasticsearch index %s belongs to namespace %q, not %q: %w (pick another namespace)",
		index, owner, ns, sinks.ErrStoreOwned)
}

func (t *Target) ensureAlias(ctx context.Context) error {
	status, body, err := t.do(ctx, esapi.IndicesExistsAliasRequest{Name: []string{t.alias}})
	if err != nil {
		return fmt.Errorf("elasticsearch: check alias %s: %w", t.alias, err)
	}
	switch status {
	case http.StatusOK:
		return nil
	case http.StatusNotFound:
	default:
		return statusError("check alias "+t.alias, status, body)
	}
	actions := fmt.Sprintf(`{"actions":[{"add":{"index":%q,"alias":%q}}]}`, t.index, t.alias)
	status, body, err = t.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: bytes.NewReader([]byte(actions))})
	if err != nil {
		return fmt.Errorf("elasticsearch: add alias %s -> %s: %w", t.alias, t.index, err)
	}
	if status != http.StatusOK {
		return statusError("add alias "+t.alias+" -> "+t.index, status, body)
	}
	t.log.Info("alias created", "alias", t.alias, "index", t.index)
	return nil
}

func errorType(body []byte) string {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == nil {
		return ""
	}
	return eb.Error.Type
}

// fieldTypes lists "field:type" of the top-level properties, for the log
// line of a new index (what the projection chose from the capabilities).
func fieldTypes(properties json.RawMessage) string {
	var props map[string]struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(properties, &props) != nil {
		return ""
	}
	out := make([]string, 0, len(props))
	for _, name := range slices.Sorted(maps.Keys(props)) {
		out = append(out, name+":"+props[name].Type)
	}
	return strings.Join(out, ",")
}
