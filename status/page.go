package status

import (
	"embed"
	"io/fs"
)

//go:embed web
var web embed.FS

// Page is the status page (index.html, status.css, status.js): plain
// HTML, CSS and JavaScript, no build step, nothing loaded from elsewhere.
// It polls GET /v1/status.
func Page() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil { // "web" is embedded above: cannot fail
		panic(err)
	}
	return sub
}
