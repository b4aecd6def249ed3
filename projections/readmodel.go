package projections

// ReadModel is how an aggregate renders into its read models (sinks/readmodels).
type ReadModel interface{}
