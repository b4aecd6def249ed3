package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
)

// versionText is what `prism --version` prints: the module version, the
// VCS commit the binary was built from (go build embeds it), the Go
// version, and the fingerprint of every Avro schema the binary reads and
// writes (the prism-schema header of its records, README "Kafka records").
func versionText() string {
	var b strings.Builder
	version, commit := "(unknown)", "unknown (built without VCS stamping: build from a git checkout with -buildvcs=true)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if rev != "" {
			commit = rev
			if at != "" || modified != "" {
				commit += " (" + strings.TrimPrefix(at+modified, ", ") + ")"
			}
		}
	}
	fmt.Fprintf(&b, "prism %s\ncommit: %s\ngo: %s %s/%s\n", version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	reg, err := buildRegistry()
	if err != nil {
		fmt.Fprintf(&b, "aggregates: %v\n", err)
		return b.String()
	}
	for _, d := range reg.All() {
		fmt.Fprintf(&b, "schemas of aggregate %s (kind, file, fingerprint):\n", d.Name)
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, s := range d.Schemas {
			current := ""
			if s.Current {
				current = "current"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%016x\t%s\n", s.Kind, s.File, s.Fingerprint, current)
		}
		tw.Flush()
	}
	return strings.TrimRight(b.String(), " \n") + "\n"
}
