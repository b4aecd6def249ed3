package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// envDefaults reads flag defaults from PRISM_* variables. A malformed value
// keeps the built-in default and is remembered, so the command reports every
// bad variable at once (envErr) instead of running with a surprise.
type envDefaults struct {
	envErrs []error
}

// envBits parses an integer of the given bit size.
func (e *envDefaults) envBits(name string, def int64, bits int) int64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.ParseInt(v, 10, bits)
	if err != nil {
		e.envErrs = append(e.envErrs, fmt.Errorf("%s=%q: want a %d-bit integer", name, v, bits))
		return def
	}
	return n
}

func (e *envDefaults) envInt64(name string, def int64) int64 { return e.envBits(name, def, 64) }

func (e *envDefaults) envInt(name string, def int) int {
	return int(e.envBits(name, int64(def), strconv.IntSize))
}

func (e *envDefaults) envDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		e.envErrs = append(e.envErrs, fmt.Errorf("%s=%q: want a duration such as 200ms or 168h", name, v))
		return def
	}
	return d
}

// envErr reports every malformed variable read so far.
func (e *envDefaults) envErr() error { return errors.Join(e.envErrs...) }
