package projections

// Cache is how an aggregate renders into its Redis document (sinks/redis).
type Cache interface{}
