package queries

import "net/url"

// Endpoint maps an HTTP route to a query type. A query set (one per
// aggregate, e.g. queries/payments) lists its endpoints; the HTTP layer
// (queries/httpapi) serves them without knowing the aggregate.
type Endpoint struct {
	// Method and Path form a net/http pattern, e.g. "GET" and
	// "/v1/payments/{id}".
	Method, Path string
	// QueryType is the bus's query type the endpoint asks.
	QueryType string
	// Params builds the query's normalized parameters (defaults filled in,
	// values canonical: equal questions give equal values) from the path
	// values (path("id")) and the URL query. The HTTP layer removes its own
	// parameters first (minVersion, consistencyToken, wait). A bad or
	// unknown parameter is a *ParamError naming it.
	Params func(path func(name string) string, query url.Values) (url.Values, error)
	// OrganizationPathValue names the path value holding an organization
	// id ("org" for /v1/organizations/{org}/...), "" when none. A caller
	// whose scope lacks it gets 404 before the query is asked.
	OrganizationPathValue string
	// MinVersion says the endpoint accepts minVersion=N (by-id reads).
	MinVersion bool
}
