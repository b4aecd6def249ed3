package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/prism-cqrs/prism/projections"
	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
)

// Store is the Elasticsearch sink's rebuild.Store for one aggregate.
// Version v is the index Names.ElasticsearchIndex(v); the current version
// is the one the alias points at (no alias yet: Config.IndexVersion, 1 by
// default). The live sink writes through the alias (Target), so a Switch
// (one _aliases request) moves readers and running sinks at once.
type Store struct {
	cfg Config
	doc projections.Document
	// admin is a live target whose client and helpers the store uses.
	admin *Target
}

var _ rebuild.Store = (*Store)(nil)

// NewStore validates cfg and builds the store of the aggregate whose names
// cfg.Names holds and whose documents doc renders: the same arguments as
// NewTarget (cfg.Direct is ignored). It makes no request.
func NewStore(cfg Config, doc projections.Document) (*Store, error) {
	cfg.Direct = false
	admin, err := NewTarget(cfg, doc)
	if err != nil {
		return nil, err
	}
	return &Store{cfg: cfg, doc: doc, admin: admin}, nil
}

// Sink returns Name.
func (s *Store) Sink() string { return Name }

// index is version v's index name.
func (s *Store) index(v int) string { return s.cfg.Names.ElasticsearchIndex(v) }

// clearing is the empty index readers see while Clear recreates the
// current version v (see Clear).
func (s *Store) clearing(v int) string { return s.index(v) + "-clearing" }

// version parses the version of one of the store's index names: <alias>-v<N>,
// and <alias>-v<N>-clearing when clearing is true (ok false otherwise).
func (s *Store) version(index string, clearing bool) (int, bool) {
	rest, ok := strings.CutPrefix(index, s.admin.alias+"-v")
	if !ok {
		return 0, false
	}
	if clearing {
		rest = strings.TrimSuffix(rest, "-clearing")
	}
	if rest == "" || strings.TrimLeft(rest, "0123456789") != "" || rest[0] == '0' {
		return 0, false
	}
	v, err := strconv.Atoi(rest)
	return v, err == nil
}

// current returns the current version and the index the alias points at
// ("" when there is no alias).
func (s *Store) current(ctx context.Context) (int, string, error) {
	index, err := s.admin.aliasIndex(ctx)
	if err != nil {
		return 0, "", err
	}
	if index == "" {
		return s.cfg.IndexVersion, "", nil
	}
	// An interrupted Clear leaves the alias on the clearing index.
	v, ok := s.version(index, true)
	if !ok {
		return 0, index, fmt.Errorf("elasticsearch: alias %s points at %s, not a version <alias>-v<N>", s.admin.alias, index)
	}
	return v, index, nil
}

// Current returns the version of the index the alias points at
// (Config.IndexVersion when there is no alias yet).
func (s *Store) Current(ctx context.Context) (int, error) {
	v, _, err := s.current(ctx)
	return v, err
}

// Versions lists the versions whose index exists (open or closed),
// ascending.
func (s *Store) Versions(ctx context.Context) ([]int, error) {
	pattern := s.admin.alias + "-v*"
	status, body, err := s.admin.do(ctx, esapi.IndicesGetRequest{
		Index:           []string{pattern},
		ExpandWildcards: "open,closed",
		FilterPath:      []string{"*.settings.index.provided_name"},
	})
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: list indices %s: %w", pattern, err)
	}
	if status != http.StatusOK {
		return nil, statusError("list indices "+pattern, status, body)
	}
	var indices map[string]json.RawMessage
	if err := json.Unmarshal(body, &indices); err != nil {
		return nil, fmt.Errorf("elasticsearch: decode indices %s: %w", pattern, err)
	}
	var out []int
	for name := range indices {
		if v, ok := s.version(name, false); ok {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Target returns a target of version v. Its Setup decides what it writes:
// when v is current (the alias points at index v, or there is no alias and
// v is Config.IndexVersion) it is the live sink's target, writing through
// the alias (Setup creates the index and the alias when missing); otherwise
// it writes index v directly and Setup creates that index alone, never
// touching the alias (a side-by-side rebuild's version N+1). Elasticsearch
// stores no offsets: the target's CommittedOffsets is nil.
func (s *Store) Target(v int) (sinks.Target, error) {
	if v < 1 {
		return nil, fmt.Errorf("elasticsearch: version %d: want at least 1", v)
	}
	cfg := s.cfg
	cfg.IndexVersion = v
	t, err := NewTarget(cfg, s.doc)
	if err != nil {
		return nil, err
	}
	t.mode, t.write, t.first = modeAuto, t.index, s.cfg.IndexVersion
	return t, nil
}

// Clear empties version v: its index is deleted and created again with the
// projection's mapping of today (a rebuild from the log start also applies
// a changed mapping, and a new index remembers no deleted document's
// version, see Forget). Elasticsearch keeps no offsets, so topic is not
// used. For the current version readers never find the alias missing: one
// _aliases request moves it to an empty index <alias>-v<N>-clearing with
// the same mapping; Grace later index v is deleted and created again;
// another request moves the alias back to it, and Grace later the clearing
// index is deleted. Readers see an empty index, then the rebuild filling
// it (an in-place rebuild is not free of downtime: a side-by-side rebuild
// is). An interrupted Clear may leave the alias on the clearing index;
// Current still answers v and Clear(v) again finishes the job. Without an
// alias (the index was deleted by hand, which drops the alias too), Clear
// of version Config.IndexVersion creates the index and the alias.
// projections must be nil: Elasticsearch has none
// (rebuild.ErrNoSuchProjection).
func (s *Store) Clear(ctx context.Context, v int, topic string, projections []string) error {
	if projections != nil {
		return fmt.Errorf("elasticsearch: clear projections %v: %w (the elasticsearch sink has none)", projections, rebuild.ErrNoSuchProjection)
	}
	cur, on, err := s.current(ctx)
	if err != nil {
		return err
	}
	index, t := s.index(v), s.admin
	switch {
	case v == cur && on != "":
		tmp := s.clearing(v)
		if on == index {
			if err := s.deleteIndices(ctx, tmp); err != nil {
				return err
			}
			if err := s.createFresh(ctx, tmp); err != nil {
				return err
			}
			if err := s.aliases(ctx, "move alias "+t.alias+" from "+index+" to "+tmp,
				action("remove", index, t.alias, true), action("add", tmp, t.alias, false)); err != nil {
				return err
			}
			if err := s.grace(ctx); err != nil {
				return err
			}
		}
		if err := s.deleteIndices(ctx, index); err != nil {
			return err
		}
		if err := s.createFresh(ctx, index); err != nil {
			return err
		}
		if err := s.aliases(ctx, "move alias "+t.alias+" from "+tmp+" to "+index,
			action("remove", tmp, t.alias, true), action("add", index, t.alias, false)); err != nil {
			return err
		}
		if err := s.grace(ctx); err != nil {
			return err
		}
		if err := s.deleteIndices(ctx, tmp); err != nil {
			return err
		}
	case v == cur:
		if err := s.deleteIndices(ctx, index); err != nil {
			return err
		}
		if err := s.createFresh(ctx, index); err != nil {
			return err
		}
		if err := t.ensureAlias(ctx); err != nil {
			return err
		}
	default:
		if err := s.deleteIndices(ctx, index, s.clearing(v)); err != nil {
			return err
		}
		if err := s.createFresh(ctx, index); err != nil {
			return err
		}
	}
	t.log.Info("index cleared", "index", index, "current", v == cur)
	return nil
}

// forgetChunk is the number of deletes per _bulk request of Forget.
const forgetChunk = 1000

// Forget deletes the documents of ids from version v's index so that the
// replay of the range writes them again; Elasticsearch keeps no offsets,
// so next is not used (the engine moves the sink group's offsets).
//
// The documents carry external versions (the offset + 1 of the event that
// wrote them; more after a change by hand) and Elasticsearch remembers a
// deleted document's version for index.gc_deletes: a replayed event, at a
// lower or equal offset, would be refused (409) until then. So Forget sets
// the index's index.gc_deletes to -1 (forget at once), deletes the
// documents, refreshes the index (which prunes the remembered versions) and
// sets index.gc_deletes back to its value. Every deleted document's version
// of the index is forgotten with them, not only those of ids: harmless in
// place, where nothing writes but the rebuild (the sink group has no
// members). A missing index has nothing to forget. Called with nil ids it
// changes nothing: Elasticsearch can be rebuilt from any start.
func (s *Store) Forget(ctx context.Context, v int, topic string, ids []string, next map[int32]int64) error {
	if len(ids) == 0 {
		return nil
	}
	index, t := s.index(v), s.admin
	prev, found, err := s.gcDeletes(ctx, index)
	if err != nil || !found {
		return err
	}
	if err := s.putGCDeletes(ctx, index, "-1"); err != nil {
		return err
	}
	err = s.deleteDocs(ctx, index, ids)
	if err == nil {
		err = s.refresh(ctx, index)
	}
	// Back to the index's value, also when the deletes failed or ctx ended.
	restore, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Timeout)
	defer cancel()
	if rerr := s.putGCDeletes(restore, index, prev); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("elasticsearch: forget %d documents of %s: %w", len(ids), index, err)
	}
	t.log.Info("documents forgotten", "index", index, "documents", len(ids))
	return nil
}

// LiveOffsets returns nil, nil: Elasticsearch stores no offsets (the sink
// group's committed offsets are the truth).
func (s *Store) LiveOffsets(context.Context, int, string) (map[int32]int64, error) {
	return nil, nil
}

// Switch makes sw.To current: index To is refreshed (readers see all of it
// at once), then one _aliases request removes the alias from From (it must
// be there: a concurrent or repeated switch fails, changing nothing) and
// adds it to To, atomically for every search and every running sink, which
// writes through the alias from its next batch. Then sw.CatchUp(ctx, nil)
// brings To up to what the running sinks wrote into From just before
// (external versions make the overlap harmless), and index From is deleted
// unless sw.KeepOld (no sooner than Grace after the move, so that searches
// already running on it finish). When CatchUp fails, the alias stays on To
// and From is kept. sw.Projections must be nil.
func (s *Store) Switch(ctx context.Context, sw rebuild.Switch) error {
	if sw.Projections != nil {
		return fmt.Errorf("elasticsearch: switch projections %v: %w (the elasticsearch sink has none)", sw.Projections, rebuild.ErrNoSuchProjection)
	}
	if sw.From == sw.To {
		return fmt.Errorf("elasticsearch: switch from version %d to itself", sw.From)
	}
	t, from, to := s.admin, s.index(sw.From), s.index(sw.To)
	if err := s.refresh(ctx, to); err != nil {
		return fmt.Errorf("elasticsearch: switch to %s: %w", to, err)
	}
	_, on, err := s.current(ctx)
	if err != nil {
		return err
	}
	actions := []map[string]any{action("add", to, t.alias, false)}
	if on != "" {
		actions = []map[string]any{action("remove", from, t.alias, true), actions[0]}
	}
	if err := s.aliases(ctx, "switch alias "+t.alias+" from "+from+" to "+to, actions...); err != nil {
		return err
	}
	moved := time.Now()
	t.log.Info("alias switched", "alias", t.alias, "from", from, "to", to)
	if sw.CatchUp != nil {
		if err := sw.CatchUp(ctx, nil); err != nil {
			return fmt.Errorf("elasticsearch: catch up %s after the switch (the alias points at it; %s kept): %w", to, from, err)
		}
	}
	if sw.KeepOld {
		return nil
	}
	if wait := Grace - time.Since(moved); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("elasticsearch: after the switch to %s, before deleting %s: %w", to, from, ctx.Err())
		}
	}
	if err := s.deleteIndices(ctx, from); err != nil {
		return fmt.Errorf("elasticsearch: after the switch to %s: %w", to, err)
	}
	t.log.Info("old index deleted", "index", from)
	return nil
}

// Drop deletes version v's index (and a clearing index of v left by an
// interrupted Clear); a missing one is no error. The current version is
// refused.
func (s *Store) Drop(ctx context.Context, v int) error {
	cur, _, err := s.current(ctx)
	if err != nil {
		return err
	}
	if v == cur {
		return fmt.Errorf("elasticsearch: drop version %d: it is the current one (alias %s)", v, s.admin.alias)
	}
	if err := s.deleteIndices(ctx, s.index(v), s.clearing(v)); err != nil {
		return err
	}
	s.admin.log.Info("index dropped", "index", s.index(v))
	return nil
}

// Projections returns nil: the index is one projection, rebuilt whole.
func (s *Store) Projections() []string { return nil }

// Close releases idle connections.
func (s *Store) Close() error { return s.admin.Close() }

// action is one add or remove action of an _aliases request.
func action(kind, index, alias string, mustExist bool) map[string]any {
	a := map[string]any{"index": index, "alias": alias}
	if mustExist {
		a["must_exist"] = true
	}
	return map[string]any{kind: a}
}

// Grace is how long an index the alias has left is kept before it is
// deleted: a search that resolved the alias to it just before the move
// fails if the index is deleted under it.
const Grace = time.Second

// grace waits Grace (or until ctx ends).
func (s *Store) grace(ctx context.Context) error {
	select {
	case <-time.After(Grace):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// aliases sends the actions as one _aliases request (atomic: all or none);
// what names the step for errors.
func (s *Store) aliases(ctx context.Context, what string, actions ...map[string]any) error {
	body, err := json.Marshal(map[string]any{"actions": actions})
	if err != nil {
		return fmt.Errorf("elasticsearch: %s: encode: %w", what, err)
	}
	status, resp, err := s.admin.do(ctx, esapi.IndicesUpdateAliasesRequest{Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("elasticsearch: %s: %w", what, err)
	}
	if status != http.StatusOK {
		return statusError(what, status, resp)
	}
	// Some failed actions are reported with 200 and "errors": true.
	var r struct {
		Errors bool `json:"errors"`
	}
	if json.Unmarshal(resp, &r) == nil && r.Errors {
		return fmt.Errorf("elasticsearch: %s: some actions failed: %s", what, resp)
	}
	return nil
}

// deleteIndices deletes the indices; missing ones are no error.
func (s *Store) deleteIndices(ctx context.Context, indices ...string) error {
	ignore := true
	status, body, err := s.admin.do(ctx, esapi.IndicesDeleteRequest{Index: indices, IgnoreUnavailable: &ignore})
	if err != nil {
		return fmt.Errorf("elasticsearch: delete index %s: %w", strings.Join(indices, ","), err)
	}
	if status != http.StatusOK && !(status == http.StatusNotFound && errorType(body) == "index_not_found_exception") {
		return statusError("delete index "+strings.Join(indices, ","), status, body)
	}
	return nil
}

// createFresh creates index with the projection's mapping; it must not
// exist.
func (s *Store) createFresh(ctx context.Context, index string) error {
	status, resp, properties, err := s.admin.create(ctx, index)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return statusError("create index "+index, status, resp)
	}
	s.admin.log.Info("index created", "index", index, "field_types", fieldTypes(properties))
	return nil
}

// refresh makes everything written to index visible to searches.
func (s *Store) refresh(ctx context.Context, index string) error {
	status, body, err := s.admin.do(ctx, esapi.IndicesRefreshRequest{Index: []string{index}})
	if err != nil {
		return fmt.Errorf("elasticsearch: refresh %s: %w", index, err)
	}
	if status != http.StatusOK {
		return statusError("refresh "+index, status, body)
	}
	return nil
}

// gcDeletes reads index.gc_deletes of index (its default when not set);
// found is false when the index does not exist.
func (s *Store) gcDeletes(ctx context.Context, index string) (string, bool, error) {
	include := true
	status, body, err := s.admin.do(ctx, esapi.IndicesGetSettingsRequest{
		Index:           []string{index},
		Name:            []string{"index.gc_deletes"},
		IncludeDefaults: &include,
	})
	if err != nil {
		return "", false, fmt.Errorf("elasticsearch: read index.gc_deletes of %s: %w", index, err)
	}
	if status == http.StatusNotFound && errorType(body) == "index_not_found_exception" {
		return "", false, nil
	}
	if status != http.StatusOK {
		return "", false, statusError("read index.gc_deletes of "+index, status, body)
	}
	type gc struct {
		Index struct {
			GCDeletes string `json:"gc_deletes"`
		} `json:"index"`
	}
	var r map[string]struct {
		Settings gc `json:"settings"`
		Defaults gc `json:"defaults"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", false, fmt.Errorf("elasticsearch: decode settings of %s: %w", index, err)
	}
	got := r[index]
	if v := got.Settings.Index.GCDeletes; v != "" {
		return v, true, nil
	}
	if v := got.Defaults.Index.GCDeletes; v != "" {
		return v, true, nil
	}
	return "", false, fmt.Errorf("elasticsearch: settings of %s: no index.gc_deletes in %s", index, body)
}

// putGCDeletes sets index.gc_deletes of index.
func (s *Store) putGCDeletes(ctx context.Context, index, value string) error {
	body, err := json.Marshal(map[string]any{"index.gc_deletes": value})
	if err != nil {
		return err
	}
	status, resp, err := s.admin.do(ctx, esapi.IndicesPutSettingsRequest{Index: []string{index}, Body: bytes.NewReader(body)})
	if err != nil {
		return fmt.Errorf("elasticsearch: set index.gc_deletes of %s to %s: %w", index, value, err)
	}
	if status != http.StatusOK {
		return statusError("set index.gc_deletes of "+index+" to "+value, status, resp)
	}
	return nil
}

// deleteDocs deletes the documents of ids from index (plain deletes, in
// chunks); absent ones are no error.
func (s *Store) deleteDocs(ctx context.Context, index string, ids []string) error {
	name, err := json.Marshal(index)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(ids, forgetChunk) {
		var buf []byte
		for _, id := range chunk {
			idJSON, err := json.Marshal(id)
			if err != nil {
				return err
			}
			buf = append(append(append(append(buf, `{"delete":{"_index":`...), name...), `,"_id":`...), idJSON...)
			buf = append(buf, "}}\n"...)
		}
		status, resp, err := s.admin.do(ctx, esapi.BulkRequest{
			Body:       bytes.NewReader(buf),
			FilterPath: []string{"errors", "items.*.status", "items.*.error"},
		})
		if err != nil {
			return fmt.Errorf("bulk delete: %w", err)
		}
		if status != http.StatusOK {
			return statusError("bulk delete", status, resp)
		}
		var br bulkResponse
		if err := json.Unmarshal(resp, &br); err != nil {
			return fmt.Errorf("decode bulk delete response: %w", err)
		}
		var failed []error
		for i, item := range br.Items {
			for _, it := range item {
				if (it.Status < 200 || it.Status >= 300) && it.Status != http.StatusNotFound {
					failed = append(failed, fmt.Errorf("delete %s: status %d: %s", chunk[i], it.Status, it.Error))
				}
			}
		}
		if len(failed) > 0 {
			return fmt.Errorf("%d deletes failed: %w", len(failed), errors.Join(failed...))
		}
	}
	return nil
}
