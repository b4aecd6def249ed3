package projections

// Document is how an aggregate renders into its Elasticsearch document and mapping (sinks/elasticsearch).
type Document interface{}
