package projections

// Table is how an aggregate renders into its Postgres table (sinks/postgres).
type Table interface{}
