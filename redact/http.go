package redact

import (
	"bytes"
	"net/http"
	"strconv"
)

// HTTPHandler serves h with its response bodies masked by r: /healthz
// carries the last error of a target, which may quote a connection string.
// The body is buffered, so h must not stream (health and metrics do not).
func HTTPHandler(h http.Handler, r *Redactor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &bufferedResponse{header: http.Header{}, code: http.StatusOK}
		// A compressed body could not be searched: ask h for plain text.
		req = req.Clone(req.Context())
		req.Header.Del("Accept-Encoding")
		h.ServeHTTP(rec, req)
		body := []byte(r.String(rec.body.String()))
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body)
	})
}

type bufferedResponse struct {
	header      http.Header
	body        bytes.Buffer
	code        int
	wroteHeader bool
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if !b.wroteHeader {
		b.code, b.wroteHeader = code, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}
