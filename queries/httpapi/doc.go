// Package httpapi is the HTTP layer of `prism serve`: it turns requests into
// queries on a queries.Bus (routes from each query set's queries.Endpoint),
// forwards POST /v1/commands to a command gateway, authenticates callers by
// bearer token (tokens file, stored hashed) and serves /openapi.json,
// /metrics, /healthz, /readyz and, given a status source, the status page
// (/status; its JSON /v1/status for operator tokens; status.go). Answers
// and errors are JSON; the error mapping is in errors.go, the OpenAPI
// document in openapi.json.
package httpapi
