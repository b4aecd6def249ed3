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

// Setup creates the index (Names.ElasticsearchIndex(IndexVersion)) with the
// projection's mapping (projections.Document.Mapping, told the modules
// every node has; dynamic: strict), and the alias pointing at it when the alias does not
// exist yet. It is idempotent and safe when several instances run it at
// once: an index another instance created first is accepted as is, and an
// alias that already exists is left alone (it may point at another version
// during a side-by-side rebuild; the rebuild moves it). Elasticsearch
// unreachable or answering 429/5xx gives an error wrapping
// sinks.ErrTransient; credentials refused (401/403), a URL path that is not
// Elasticsearch's API or a server that is not Elasticsearch one wrapping
// sinks.ErrPermanent. The error names the URLs (without credentials).
//
// The index records its owning namespace (mapping _meta.namespace). An
// existing index without one (created before the record existed) is
// claimed; one recorded for another namespace that maps to the same index
// name fails Setup with sinks.ErrStoreOwned naming the owner, changing
// nothing: two pipelines never share one index.
func (t *Target) Setup(ctx context.Context) error {
	caps, err := t.capabilities(ctx)
	if err == nil {
		err = t.createIndex(ctx, caps)
	}
	if err == nil {
		err = t.ensureAlias(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w (elasticsearch at %s)", err, t.where)
	}
	return nil
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

func (t *Target) createIndex(ctx context.Context, caps projections.IndexCapabilities) error {
	properties, err := t.doc.Mapping(caps)
	if err != nil {
		return fmt.Errorf("elasticsearch: mapping of %s: %w", t.index, err)
	}
	body, err := indexBody(t.cfg, properties)
	if err != nil {
		return fmt.Errorf("elasticsearch: encode mapping of %s: %w", t.index, err)
	}
	status, resp, err := t.do(ctx, esapi.IndicesCreateRequest{Index: t.index, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("elasticsearch: create index %s: %w", t.index, err)
	}
	switch {
	case status == http.StatusOK:
		t.log.Info("index created", "index", t.index, "field_types", fieldTypes(properties))
		return nil
	case status == http.StatusBadRequest && errorType(resp) == "resource_already_exists_exception":
		t.log.Debug("index exists", "index", t.index)
		owner, err := t.readOwner(ctx)
		if err != nil {
			return err
		}
		return t.checkOwner(ctx, owner)
	}
	return statusError("create index "+t.index, status, resp)
}

// readOwner reads the owning namespace recorded on the existing index
// ("" when none is).
func (t *Target) readOwner(ctx context.Context) (string, error) {
	status, body, err := t.do(ctx, esapi.IndicesGetMappingRequest{Index: []string{t.index}, FilterPath: []string{"*.mappings._meta"}})
	if err != nil {
		return "", fmt.Errorf("elasticsearch: get mapping of %s: %w", t.index, err)
	}
	if status != http.StatusOK {
		return "", statusError("get mapping of "+t.index, status, body)
	}
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Namespace string `json:"namespace"`
			} `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("elasticsearch: decode mapping of %s: %w", t.index, err)
	}
	return m[t.index].Mappings.Meta.Namespace, nil
}

// checkOwner accepts an index owned by this namespace, claims one with no
// owner recorded, and refuses one owned by another namespace.
func (t *Target) checkOwner(ctx context.Context, owner string) error {
	ns := t.cfg.Names.Namespace
	switch owner {
	case ns:
		return nil
	case "":
		meta, err := json.Marshal(map[string]any{"_meta": map[string]any{"namespace": ns}})
		if err != nil {
			return fmt.Errorf("elasticsearch: encode _meta: %w", err)
		}
		status, body, err := t.do(ctx, esapi.IndicesPutMappingRequest{Index: []string{t.index}, Body: bytes.NewReader(meta)})
		if err != nil {
			return fmt.Errorf("elasticsearch: record namespace %s on %s: %w", ns, t.index, err)
		}
		if status != http.StatusOK {
			return statusError("record namespace on "+t.index, status, body)
		}
		t.log.Info("index claimed for the namespace", "index", t.index, "namespace", ns)
		return nil
	}
	return fmt.Errorf("elasticsearch index %s belongs to namespace %q, not %q: %w (pick another namespace)",
		t.index, owner, ns, sinks.ErrStoreOwned)
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
