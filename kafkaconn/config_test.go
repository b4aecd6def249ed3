package kafkaconn

import (
	"strings"
	"testing"
)

func TestValidInstanceIDFollowsKafkasRule(t *testing.T) {
	for id, want := range map[string]bool{
		"a":                      true,
		"host-1.eu_west":         true,
		strings.Repeat("x", 249): true,
		"":                       false,
		strings.Repeat("x", 250): false,
		"a b":                    false,
		"a/b":                    false,
		"é":                      false,
	} {
		if got := ValidInstanceID(id); got != want {
			t.Errorf("ValidInstanceID(%.20q) = %v, want %v", id, got, want)
		}
	}
}
