package rebuild

import (
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// SpecFlags are the start flags bound to a flag set (BindFlags); Spec and
// Partitions read them after the flag set is parsed.
type SpecFlags struct {
	fs         *pflag.FlagSet
	earliest   bool
	latest     bool
	values     map[string]*string // to-datetime, by-duration, to-offset, shift-by
	partitions []int32
}

// BindFlags adds --to-earliest, --to-latest, --to-datetime, --by-duration,
// --to-offset, --shift-by and --partitions to fs.
func BindFlags(fs *pflag.FlagSet) *SpecFlags {
	f := &SpecFlags{fs: fs, values: map[string]*string{}}
	fs.BoolVar(&f.earliest, FlagToEarliest, false, "start at each partition's log start offset (the default)")
	fs.BoolVar(&f.latest, FlagToLatest, false, "start at each partition's end offset (read nothing now)")
	f.values[FlagToDatetime] = fs.String(FlagToDatetime, "", "start at the first record at or after this time (RFC 3339 with a zone, e.g. 2026-11-01T00:00:00Z)")
	f.values[FlagByDuration] = fs.String(FlagByDuration, "", "start at the first record at or after now minus this ISO 8601 duration (PnDTnHnMnS, e.g. P7D)")
	f.values[FlagToOffset] = fs.String(FlagToOffset, "", "start at this offset (clamped to [log start, end]); narrow with --partitions")
	f.values[FlagShiftBy] = fs.String(FlagShiftBy, "", "start at the group's committed offset plus N (e.g. -100), clamped to [log start, end]")
	fs.Int32SliceVar(&f.partitions, FlagPartitions, nil, "plan only these partitions (comma separated; default all)")
	return f
}

// Spec returns the one start spec the flags chose: --to-earliest when none
// is set; an error naming the flags when more than one is, or naming the
// flag whose value does not parse.
func (f *SpecFlags) Spec() (Spec, error) {
	var set []string
	if f.fs.Changed(FlagToEarliest) && f.earliest {
		set = append(set, FlagToEarliest)
	}
	if f.fs.Changed(FlagToLatest) && f.latest {
		set = append(set, FlagToLatest)
	}
	for name := range f.values {
		if f.fs.Changed(name) {
			set = append(set, name)
		}
	}
	sort.Strings(set)
	switch len(set) {
	case 0:
		return Spec{Kind: ToEarliest}, nil
	case 1:
	default:
		return Spec{}, fmt.Errorf("choose one start: --%s are set together", strings.Join(set, ", --"))
	}
	name := set[0]
	var v string
	if p, ok := f.values[name]; ok {
		v = *p
	}
	return ParseSpec(name, v)
}

// Partitions returns the partitions --partitions named (nil: all), refusing
// negative or repeated ones.
func (f *SpecFlags) Partitions() ([]int32, error) {
	seen := map[int32]bool{}
	for _, p := range f.partitions {
		if p < 0 {
			return nil, fmt.Errorf("--%s: partition %d is negative", FlagPartitions, p)
		}
		if seen[p] {
			return nil, fmt.Errorf("--%s: partition %d is named twice", FlagPartitions, p)
		}
		seen[p] = true
	}
	return f.partitions, nil
}
