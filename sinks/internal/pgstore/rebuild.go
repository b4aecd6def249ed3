package pgstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/prism-cqrs/prism/rebuild"
	"github.com/prism-cqrs/prism/sinks"
	"github.com/prism-cqrs/prism/topology"
)

// StoreConfig describes one Postgres sink's tables of one aggregate for
// NewStore.
type StoreConfig struct {
	Sink   string         // the sink's name (offsets rows, lock, version row)
	Config Config         // the live target's configuration
	Names  topology.Names // the aggregate's names (Plural names the versions)
	// Tables are every table the sink writes for the aggregate.
	Tables []string
	// Projections maps each projection to its tables (a partition of
	// Tables); nil for a sink without projections.
	Projections map[string][]string
	// NewTarget builds the sink's target on cfg (the live one, or one
	// whose Schema is a version's).
	NewTarget func(cfg Config) (sinks.Target, error)
}

// Store is the part of rebuild.Store the Postgres sinks share (all but
// Forget): versions live in schemas, the current one in the namespace's
// schema under the tables' usual names (docs/rebuild.md, "Postgres
// stores").
type Store struct {
	sc     StoreConfig
	schema string // the live schema
	pool   *pgxpool.Pool
}

// MaxIdentifierLen is Postgres' limit on a name (NAMEDATALEN - 1 bytes).
const MaxIdentifierLen = 63

// versionsTable records the current version of each (sink, aggregate)
// in the live schema.
const versionsTable = "store_versions"

var versionsMigrations = []Migration{{Version: 1, Name: "store versions", SQL: `
CREATE TABLE IF NOT EXISTS {{schema}}.store_versions (
	sink        text NOT NULL,
	aggregate   text NOT NULL,
	version     int  NOT NULL,
	switched_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (sink, aggregate));`}}

// NewStore builds the store; it connects lazily.
func NewStore(sc StoreConfig) (*Store, error) {
	var errs []error
	if err := sc.Config.Validate(sc.Sink); err != nil {
		errs = append(errs, err)
	}
	if sc.Names.Plural == "" {
		errs = append(errs, fmt.Errorf("%s store: names without an aggregate", sc.Sink))
	}
	if len(sc.Tables) == 0 {
		errs = append(errs, fmt.Errorf("%s store: no table", sc.Sink))
	}
	if sc.NewTarget == nil {
		errs = append(errs, fmt.Errorf("%s store: no target constructor", sc.Sink))
	}
	owner := map[string]string{}
	for _, p := range slices.Sorted(maps.Keys(sc.Projections)) {
		for _, t := range sc.Projections[p] {
			if o, ok := owner[t]; ok {
				errs = append(errs, fmt.Errorf("%s store: table %s is in projections %s and %s", sc.Sink, t, o, p))
			}
			owner[t] = p
			if !slices.Contains(sc.Tables, t) {
				errs = append(errs, fmt.Errorf("%s store: projection %s names table %s the sink does not write", sc.Sink, p, t))
			}
		}
	}
	if sc.Projections != nil {
		for _, t := range sc.Tables {
			if _, ok := owner[t]; !ok {
				errs = append(errs, fmt.Errorf("%s store: table %s belongs to no projection", sc.Sink, t))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Store{sc: sc, schema: sc.Config.Schema}
	if _, err := s.versionSchema(1); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(sc.Config.URL)
	if err != nil {
		return nil, fmt.Errorf("%s store: parse URL: %w", sc.Sink, err)
	}
	pc.MaxConns = max(sc.Config.MaxConns, 2)
	s.pool, err = pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("%s store: pool: %w", sc.Sink, err)
	}
	return s, nil
}

// Sink implements rebuild.Store.
func (s *Store) Sink() string { return s.sc.Sink }

// Close implements rebuild.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Projections implements rebuild.Store: the projections' names, sorted
// (nil without projections).
func (s *Store) Projections() []string {
	if s.sc.Projections == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(s.sc.Projections))
}

// versionSchema is the schema version v is built in while it is not
// current, and where a kept old version stays:
// <schema>_r<v>_<sink>_<plural>.
func (s *Store) versionSchema(v int) (string, error) {
	if v < 1 {
		return "", fmt.Errorf("%s store: version %d < 1", s.sc.Sink, v)
	}
	name := s.versionPrefix() + strconv.Itoa(v) + s.versionSuffix()
	if len(name) > MaxIdentifierLen {
		return "", fmt.Errorf("%s store: schema name %s of version %d is %d bytes, over Postgres' limit of %d (use a shorter namespace)",
			s.sc.Sink, name, v, len(name), MaxIdentifierLen)
	}
	return name, nil
}

func (s *Store) versionPrefix() string { return s.schema + "_r" }
func (s *Store) versionSuffix() string { return "_" + s.sc.Sink + "_" + s.sc.Names.Plural }

// SchemaOf returns the schema holding version v's tables (the live schema
// for the current version) and whether v is current.
func (s *Store) SchemaOf(ctx context.Context, v int) (string, bool, error) {
	cur, err := s.Current(ctx)
	if err != nil {
		return "", false, err
	}
	if v == cur {
		return s.schema, true, nil
	}
	name, err := s.versionSchema(v)
	return name, false, err
}

// Current implements rebuild.Store: the version recorded in
// <schema>.store_versions, 1 when none is.
func (s *Store) Current(ctx context.Context) (int, error) {
	return current(ctx, s.pool, s.schema, s.sc.Sink, s.sc.Names.Plural)
}

func current(ctx context.Context, q Querier, schema, sink, aggregate string) (int, error) {
	rows, err := q.Query(ctx, `SELECT version FROM `+Table(schema, versionsTable)+` WHERE sink = $1 AND aggregate = $2`, sink, aggregate)
	if err == nil {
		var vs []int32
		vs, err = pgx.CollectRows(rows, pgx.RowTo[int32])
		if err == nil {
			if len(vs) == 0 {
				return 1, nil
			}
			return int(vs[0]), nil
		}
	}
	if missingRelation(err) {
		return 1, nil
	}
	return 0, Classify(fmt.Errorf("%s store: read the current version: %w", sink, err))
}

// missingRelation reports whether err says a schema or table does not
// exist.
func missingRelation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "42P01" || pg.Code == "3F000")
}

// Versions implements rebuild.Store: the current version and every
// version schema present, ascending.
func (s *Store) Versions(ctx context.Context) ([]int, error) {
	cur, err := s.Current(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE left(nspname, length($1)) = $1`, s.versionPrefix())
	if err != nil {
		return nil, Classify(fmt.Errorf("%s store: list schemas: %w", s.sc.Sink, err))
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, Classify(fmt.Errorf("%s store: list schemas: %w", s.sc.Sink, err))
	}
	vs := []int{cur}
	for _, n := range names {
		rest, ok := strings.CutPrefix(n, s.versionPrefix())
		if !ok {
			continue
		}
		num, ok := strings.CutSuffix(rest, s.versionSuffix())
		if !ok {
			continue
		}
		v, err := strconv.Atoi(num)
		if err != nil || v < 1 || strconv.Itoa(v) != num {
			continue
		}
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return slices.Compact(vs), nil
}

// targetTimeout bounds Target's read of the current version (Target has no
// context: rebuild.Store's signature).
const targetTimeout = 30 * time.Second

// Target implements rebuild.Store: the sink's own target, on the live
// schema for the current version, on the version's schema otherwise.
func (s *Store) Target(v int) (sinks.Target, error) {
	ctx, cancel := context.WithTimeout(context.Background(), targetTimeout)
	defer cancel()
	schema, _, err := s.SchemaOf(ctx, v)
	if err != nil {
		return nil, err
	}
	cfg := s.sc.Config
	cfg.Schema = schema
	return s.sc.NewTarget(cfg)
}

// tablesOf returns the tables of projections (nil: all of them), sorted.
func (s *Store) tablesOf(projections []string) ([]string, error) {
	if projections == nil {
		return slices.Sorted(slices.Values(s.sc.Tables)), nil
	}
	if s.sc.Projections == nil {
		return nil, fmt.Errorf("the %s sink has no projections to rebuild alone (asked for %s): %w",
			s.sc.Sink, strings.Join(projections, ", "), rebuild.ErrNoSuchProjection)
	}
	var out []string
	for _, p := range projections {
		ts, ok := s.sc.Projections[p]
		if !ok {
			return nil, fmt.Errorf("the %s sink of %s has no projection %q (it has %s): %w",
				s.sc.Sink, s.sc.Names.Plural, p, strings.Join(s.Projections(), ", "), rebuild.ErrNoSuchProjection)
		}
		out = append(out, ts...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// existing returns those of tables that exist in schema.
func existing(ctx context.Context, q Querier, schema string, tables []string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`, schema, tables)
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", schema, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list the tables of %s: %w", schema, err)
	}
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, nil
}

// lockSink takes, in tx, the sink's advisory lock of topic in schema
// exclusively: it waits for the batches in flight to commit and holds
// every later one (QueueLockOffsets) until tx ends.
func (s *Store) lockSink(ctx context.Context, tx pgx.Tx, schema, topic string) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, SinkLockKey(schema, s.sc.Sink, topic)); err != nil {
		return fmt.Errorf("lock the %s sink of %s: %w", s.sc.Sink, topic, err)
	}
	return nil
}

// inTx runs f in one transaction on the store's pool.
func (s *Store) inTx(ctx context.Context, what string, f func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, f)
	if err != nil {
		return Classify(fmt.Errorf("%s store of %s: %s: %w", s.sc.Sink, s.sc.Names.Plural, what, err))
	}
	return nil
}

// Clear implements rebuild.Store: in one transaction, under the sink's
// lock, TRUNCATE the tables of version v (those that exist) and delete its
// offsets rows of topic.
//
// The offsets are shared by every table of the sink, so projections
// cannot narrow the clear of the live version (the other tables would
// then be written again from the log start: sums counted twice); Clear
// refuses it. For another version (a side-by-side scratch version, whose
// other tables a projection switch drops) it clears every table.
func (s *Store) Clear(ctx context.Context, v int, topic string, projections []string) error {
	if _, err := s.tablesOf(projections); err != nil {
		return err
	}
	schema, cur, err := s.SchemaOf(ctx, v)
	if err != nil {
		return err
	}
	if projections != nil && cur {
		return fmt.Errorf("%s store of %s: clearing the tables of %s alone in the live version %d is not possible: their offsets are shared with the other tables (rebuild a projection side by side)",
			s.sc.Sink, s.sc.Names.Plural, strings.Join(projections, ", "), v)
	}
	tables := slices.Sorted(slices.Values(s.sc.Tables))
	return s.inTx(ctx, fmt.Sprintf("clear version %d", v), func(tx pgx.Tx) error {
		if err := s.lockSink(ctx, tx, schema, topic); err != nil {
			return err
		}
		have, err := existing(ctx, tx, schema, append(slices.Clone(tables), "sink_offsets"))
		if err != nil {
			return err
		}
		var qs []string
		for _, t := range tables {
			if have[t] {
				qs = append(qs, Table(schema, t))
			}
		}
		if len(qs) > 0 {
			if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(qs, ", ")); err != nil {
				return fmt.Errorf("truncate: %w", err)
			}
		}
		if have["sink_offsets"] {
			if _, err := tx.Exec(ctx, `DELETE FROM `+Table(schema, "sink_offsets")+` WHERE sink = $1 AND topic = $2`, s.sc.Sink, topic); err != nil {
				return fmt.Errorf("delete offsets: %w", err)
			}
		}
		return nil
	})
}

// LiveOffsets implements rebuild.Store: version v's offsets rows of topic
// (empty when it has none).
func (s *Store) LiveOffsets(ctx context.Context, v int, topic string) (map[int32]int64, error) {
	schema, _, err := s.SchemaOf(ctx, v)
	if err != nil {
		return nil, err
	}
	offs, err := allOffsets(ctx, s.pool, schema, s.sc.Sink, topic)
	if missingRelation(err) {
		return map[int32]int64{}, nil
	}
	if err != nil {
		return nil, Classify(fmt.Errorf("%s store: version %d: %w", s.sc.Sink, v, err))
	}
	return offs, nil
}

// allOffsets reads every offsets row of sink and topic in schema.
func allOffsets(ctx context.Context, q Querier, schema, sink, topic string) (map[int32]int64, error) {
	rows, err := q.Query(ctx, `SELECT partition, next_offset FROM `+Table(schema, "sink_offsets")+`
		WHERE sink = $1 AND topic = $2`, sink, topic)
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s in %s: %w", sink, schema, err)
	}
	out := map[int32]int64{}
	var p int32
	var o int64
	if _, err := pgx.ForEachRow(rows, []any{&p, &o}, func() error { out[p] = o; return nil }); err != nil {
		return nil, fmt.Errorf("read offsets of %s in %s: %w", sink, schema, err)
	}
	return out, nil
}

// SetOffsets upserts, in tx, the offsets rows of sink and topic in schema
// to next.
func SetOffsets(ctx context.Context, tx pgx.Tx, schema, sink, topic string, next map[int32]int64) error {
	if len(next) == 0 {
		return nil
	}
	parts := slices.Sorted(maps.Keys(next))
	offs := make([]int64, len(parts))
	for i, p := range parts {
		offs[i] = next[p]
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+Table(schema, "sink_offsets")+` (sink, topic, partition, next_offset)
		SELECT $1, $2, p, n FROM unnest($3::int[], $4::bigint[]) AS v(p, n)
		ON CONFLICT (sink, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
		sink, topic, parts, offs)
	if err != nil {
		return fmt.Errorf("set offsets of %s in %s: %w", sink, schema, err)
	}
	return nil
}

// ForgetRows implements the postgres sink's Forget: in one transaction
// on version v, under the sink's lock, delete the rows of ids from table
// (idColumn holds them) and set the offsets of topic to next. The
// version's tables are created first when missing (setup runs the
// target's migrations).
func (s *Store) ForgetRows(ctx context.Context, v int, topic, table, idColumn string, ids []string, next map[int32]int64) error {
	if ids == nil && next == nil {
		return nil
	}
	schema, _, err := s.SchemaOf(ctx, v)
	if err != nil {
		return err
	}
	tg, err := s.Target(v)
	if err != nil {
		return err
	}
	err = tg.Setup(ctx)
	_ = tg.Close()
	if err != nil {
		return fmt.Errorf("%s store: set up version %d: %w", s.sc.Sink, v, err)
	}
	return s.inTx(ctx, fmt.Sprintf("forget %d ids in version %d", len(ids), v), func(tx pgx.Tx) error {
		if err := s.lockSink(ctx, tx, schema, topic); err != nil {
			return err
		}
		if len(ids) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM `+Table(schema, table)+` WHERE `+Ident(idColumn)+` = ANY($1)`, ids); err != nil {
				return fmt.Errorf("delete rows: %w", err)
			}
		}
		return SetOffsets(ctx, tx, schema, s.sc.Sink, topic, next)
	})
}

// Drop implements rebuild.Store: drops version v's schema (nothing when
// it has none); the current version is refused.
func (s *Store) Drop(ctx context.Context, v int) error {
	cur, err := s.Current(ctx)
	if err != nil {
		return err
	}
	if v == cur {
		return fmt.Errorf("%s store of %s: version %d is current: it cannot be dropped", s.sc.Sink, s.sc.Names.Plural, v)
	}
	schema, err := s.versionSchema(v)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+Ident(schema)+` CASCADE`); err != nil {
		return Classify(fmt.Errorf("%s store: drop version %d (%s): %w", s.sc.Sink, v, schema, err))
	}
	return nil
}

// Switch implements rebuild.Store in one transaction:
//
//  1. take the sink's advisory lock of sw.Topic in the live schema
//     exclusively: the batches in flight commit first, later ones wait
//     (whatever their partitions, rows or none);
//  2. check that sw.From is current, read the live offsets rows and call
//     sw.CatchUp with them; then version To's offsets must equal them
//     (absent = 0), or nothing is changed;
//  3. per table (sw.Projections' only, when set), ALTER TABLE ... SET
//     SCHEMA: the live one into a scratch schema, To's into the live
//     schema, the old one into To's schema;
//  4. record To as current in <schema>.store_versions (and, for a whole
//     switch, To's schema_migrations rows in the live schema's);
//  5. KeepOld: To's schema (its offsets are the frozen ones, those of the
//     old tables) is renamed to From's version schema; else dropped.
//
// A projection switch makes To current too: the live tables are then
// version To, those not switched carried over from From; with KeepOld,
// From's schema holds only the replaced tables.
func (s *Store) Switch(ctx context.Context, sw rebuild.Switch) error {
	tables, err := s.tablesOf(sw.Projections)
	if err != nil {
		return err
	}
	if sw.To == sw.From {
		return fmt.Errorf("%s store of %s: switch from version %d to itself", s.sc.Sink, s.sc.Names.Plural, sw.From)
	}
	if sw.CatchUp == nil {
		return fmt.Errorf("%s store of %s: switch without CatchUp", s.sc.Sink, s.sc.Names.Plural)
	}
	toSchema, err := s.versionSchema(sw.To)
	if err != nil {
		return err
	}
	fromSchema, err := s.versionSchema(sw.From)
	if err != nil {
		return err
	}
	// The versions table, created in its own transaction (the migrations'
	// lock is not held during the switch).
	if err := Classify(Migrate(ctx, s.pool, s.schema, s.sc.Config.Namespace, Series{Component: versionsTable, Migrations: versionsMigrations})); err != nil {
		return fmt.Errorf("%s store: %w", s.sc.Sink, err)
	}
	what := fmt.Sprintf("switch %s from version %d to %d", strings.Join(tables, ", "), sw.From, sw.To)
	return s.inTx(ctx, what, func(tx pgx.Tx) error {
		if err := s.lockSink(ctx, tx, s.schema, sw.Topic); err != nil {
			return err
		}
		cur, err := current(ctx, tx, s.schema, s.sc.Sink, s.sc.Names.Plural)
		if err != nil {
			return err
		}
		if cur != sw.From {
			return fmt.Errorf("version %d is current, not %d", cur, sw.From)
		}
		have, err := existing(ctx, tx, toSchema, tables)
		if err != nil {
			return err
		}
		for _, t := range tables {
			if !have[t] {
				return fmt.Errorf("version %d has no table %s (schema %s)", sw.To, t, toSchema)
			}
		}
		live, err := allOffsets(ctx, tx, s.schema, s.sc.Sink, sw.Topic)
		if err != nil {
			return err
		}
		if err := sw.CatchUp(ctx, maps.Clone(live)); err != nil {
			return fmt.Errorf("catch up: %w", err)
		}
		built, err := allOffsets(ctx, tx, toSchema, s.sc.Sink, sw.Topic)
		if err != nil {
			return err
		}
		if err := sameOffsets(live, built); err != nil {
			return fmt.Errorf("after the catch-up version %d is not where the live version is: %w", sw.To, err)
		}
		if err := s.move(ctx, tx, tables, toSchema, fromSchema); err != nil {
			return err
		}
		if sw.Projections == nil {
			// The migrations To's tables went through, recorded live too
			// (a live Setup must not run them again on the moved tables).
			if _, err := tx.Exec(ctx, `INSERT INTO `+Table(s.schema, "schema_migrations")+` (component, version, name, applied_at)
				SELECT component, version, name, applied_at FROM `+Table(toSchema, "schema_migrations")+` ON CONFLICT DO NOTHING`); err != nil {
				return fmt.Errorf("record version %d's migrations: %w", sw.To, err)
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+Table(s.schema, versionsTable)+` (sink, aggregate, version) VALUES ($1, $2, $3)
			ON CONFLICT (sink, aggregate) DO UPDATE SET version = EXCLUDED.version, switched_at = now()`,
			s.sc.Sink, s.sc.Names.Plural, sw.To); err != nil {
			return fmt.Errorf("record version %d: %w", sw.To, err)
		}
		if !sw.KeepOld {
			if _, err := tx.Exec(ctx, `DROP SCHEMA `+Ident(toSchema)+` CASCADE`); err != nil {
				return fmt.Errorf("drop the old tables: %w", err)
			}
			return nil
		}
		// Keep From: To's schema holds the old tables now; the others of
		// To (a projection switch) go.
		for _, t := range slices.Sorted(slices.Values(s.sc.Tables)) {
			if !slices.Contains(tables, t) {
				if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+Table(toSchema, t)); err != nil {
					return fmt.Errorf("drop version %d's %s: %w", sw.To, t, err)
				}
			}
		}
		if _, err := tx.Exec(ctx, `ALTER SCHEMA `+Ident(toSchema)+` RENAME TO `+Ident(fromSchema)); err != nil {
			return fmt.Errorf("keep version %d as %s: %w", sw.From, fromSchema, err)
		}
		return nil
	})
}

// move swaps tables between the live schema and toSchema, in tx, through
// scratch (From's version schema, which a left-over of is dropped: index
// and constraint names are per schema, so the live table leaves before
// To's arrives).
func (s *Store) move(ctx context.Context, tx pgx.Tx, tables []string, toSchema, scratch string) error {
	liveHas, err := existing(ctx, tx, s.schema, tables)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DROP SCHEMA IF EXISTS `+Ident(scratch)+` CASCADE`); err != nil {
		return fmt.Errorf("drop a left-over %s: %w", scratch, err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA `+Ident(scratch)); err != nil {
		return fmt.Errorf("create the scratch schema %s: %w", scratch, err)
	}
	for _, t := range tables {
		steps := [][2]string{{toSchema, s.schema}}
		if liveHas[t] {
			steps = [][2]string{{s.schema, scratch}, {toSchema, s.schema}, {scratch, toSchema}}
		}
		for _, st := range steps {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+Table(st[0], t)+` SET SCHEMA `+Ident(st[1])); err != nil {
				return fmt.Errorf("move %s from %s to %s: %w", t, st[0], st[1], err)
			}
		}
	}
	if _, err := tx.Exec(ctx, `DROP SCHEMA `+Ident(scratch)); err != nil {
		return fmt.Errorf("drop the scratch schema %s: %w", scratch, err)
	}
	return nil
}

// sameOffsets reports how two offsets maps differ (absent = 0).
func sameOffsets(live, built map[int32]int64) error {
	parts := maps.Clone(live)
	maps.Copy(parts, built)
	var diffs []string
	for _, p := range slices.Sorted(maps.Keys(parts)) {
		if live[p] != built[p] {
			diffs = append(diffs, fmt.Sprintf("partition %d: live %d, built %d", p, live[p], built[p]))
		}
	}
	if len(diffs) > 0 {
		return errors.New(strings.Join(diffs, "; "))
	}
	return nil
}
