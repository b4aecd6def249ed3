// Package openapicheck validates responses of `prism serve` against its
// OpenAPI document (queries/httpapi/openapi.json) in tests.
package openapicheck

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/prism-cqrs/prism/queries/httpapi"
)

// The status page's HTML, script and style are text to the checker
// (kin-openapi decodes JSON and text/plain only).
func init() {
	text := func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	}
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, text)
	}
}

// Checker validates responses against the document. It is safe for
// concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
}

// New loads the embedded document and validates it (OpenAPI 3 rules,
// references, schemas, examples); a bad document fails t.
func New(t testing.TB) *Checker {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("openapicheck: load the OpenAPI document: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapicheck: the OpenAPI document is invalid: %v", err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapicheck: routes of the OpenAPI document: %v", err)
	}
	return &Checker{doc: doc, router: router}
}

// Doc is the loaded document.
func (c *Checker) Doc() *openapi3.T { return c.doc }

// Check fails t (without stopping it) unless the response (status, header,
// body) to req is one the document describes: a declared status of req's
// operation, its required headers, its content type and a body that
// validates against its schema. A request the document has no operation
// for must have been answered 404 or 405 with the JSON error shape.
func (c *Checker) Check(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		c.checkUnrouted(t, req, status, header, body)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		t.Errorf("openapicheck: %s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.RequestURI(), status, err, clip(body))
	}
}

// checkUnrouted: no operation for req; the server answers 404 or 405 with
// an Error.
func (c *Checker) checkUnrouted(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		t.Errorf("openapicheck: %s %s: no operation in the OpenAPI document, yet answered %d (want 404 or 405)", req.Method, req.URL.RequestURI(), status)
		return
	}
	if mt, _, err := mime.ParseMediaType(header.Get("Content-Type")); err != nil || mt != "application/json" {
		t.Errorf("openapicheck: %s %s → %d: Content-Type %q, want application/json", req.Method, req.URL.RequestURI(), status, header.Get("Content-Type"))
		return
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("openapicheck: %s %s → %d: body is not JSON: %v", req.Method, req.URL.RequestURI(), status, err)
		return
	}
	schema := c.doc.Components.Schemas["Error"]
	if schema == nil || schema.Value == nil {
		t.Errorf("openapicheck: the document has no Error schema")
		return
	}
	if err := schema.Value.VisitJSON(v); err != nil {
		t.Errorf("openapicheck: %s %s → %d: body is not an Error: %v\nbody: %s", req.Method, req.URL.RequestURI(), status, err, clip(body))
	}
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}
