package projections

// Migration is one versioned schema change of a projection's Postgres
// tables. The sink applies the migrations at Setup, once per schema, and
// records each under the projection's component in
// <schema>.schema_migrations. SQL may hold several statements; {{schema}}
// stands for the quoted schema name. Never edit a released migration: add
// the next version.
type Migration struct {
	Version int
	Name    string
	SQL     string
}
