package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/sinks"
)

// Setup creates the index (Names.ElasticsearchIndex(IndexVersion)) with its
// explicit mapping, and the alias pointing at it when the alias does not
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
	scaled, err := t.hasModule(ctx, "mapper-extras")
	if err == nil {
		err = t.createIndex(ctx, scaled)
	}
	if err == nil {
		err = t.ensureAlias(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w (elasticsearch at %s)", err, t.where)
	}
	return nil
}

// hasModule reports whether every node has the module or plugin name. The
// integration-test distribution of Elasticsearch ships core modules only,
// without mapper-extras (and so without scaled_float).
func (t *Target) hasModule(ctx context.Context, name string) (bool, error) {
	status, body, err := t.do(ctx, esapi.NodesInfoRequest{Metric: []string{"plugins"}, FilterPath: []string{"nodes.*.modules.name", "nodes.*.plugins.name"}})
	if err != nil {
		return false, fmt.Errorf("elasticsearch: list modules: %w", err)
	}
	if status != http.StatusOK {
		return false, statusError("list modules", status, body)
	}
	var info struct {
		Nodes map[string]struct {
			Modules []struct{ Name string } `json:"modules"`
			Plugins []struct{ Name string } `json:"plugins"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return false, fmt.Errorf("elasticsearch: decode modules: %w", err)
	}
	if len(info.Nodes) == 0 {
		return false, nil
	}
	for _, n := range info.Nodes {
		found := false
		for _, m := range append(n.Modules, n.Plugins...) {
			found = found || m.Name == name
		}
		if !found {
			return false, nil
		}
	}
	return true, nil
}

func (t *Target) createIndex(ctx context.Context, scaled bool) error {
	body, err := indexBody(t.cfg, scaled)
	if err != nil {
		return fmt.Errorf("elasticsearch: encode mapping: %w", err)
	}
	status, resp, err := t.do(ctx, esapi.IndicesCreateRequest{Index: t.index, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("elasticsearch: create index %s: %w", t.index, err)
	}
	switch {
	case status == http.StatusOK:
		t.log.Info("index created", "index", t.index, "amount_type", amountType(scaled))
	case status == http.StatusBadRequest && errorType(resp) == "resource_already_exists_exception":
		t.log.Debug("index exists", "index", t.index)
		var owner string
		scaled, owner, err = t.readMapping(ctx)
		if err != nil {
			return err
		}
		if err := t.checkOwner(ctx, owner); err != nil {
			return err
		}
	default:
		return statusError("create index "+t.index, status, resp)
	}
	t.scaledFloat.Store(scaled)
	return nil
}

// readMapping reads, from an existing index, whether amount is a
// scaled_float and the owning namespace ("" when none is recorded).
func (t *Target) readMapping(ctx context.Context) (scaled bool, owner string, err error) {
	status, body, err := t.do(ctx, esapi.IndicesGetMappingRequest{Index: []string{t.index}})
	if err != nil {
		return false, "", fmt.Errorf("elasticsearch: get mapping of %s: %w", t.index, err)
	}
	if status != http.StatusOK {
		return false, "", statusError("get mapping of "+t.index, status, body)
	}
	var m map[string]struct {
		Mappings struct {
			Meta struct {
				Namespace string `json:"namespace"`
			} `json:"_meta"`
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return false, "", fmt.Errorf("elasticsearch: decode mapping of %s: %w", t.index, err)
	}
	mp := m[t.index].Mappings
	return mp.Properties["amount"].Type == "scaled_float", mp.Meta.Namespace, nil
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

func amountType(scaled bool) string {
	if scaled {
		return "scaled_float"
	}
	return "double"
}
