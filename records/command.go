package records

// CommandCodec is an aggregate's command side as the producer and the JSON
// Lines reader see it. Filled in by the producer work (producers/).
type CommandCodec interface{}
