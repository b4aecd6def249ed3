package aggregates

import (
	"strings"
	"testing"
	"time"

	"github.com/prism-cqrs/prism/processors"
	"github.com/prism-cqrs/prism/records"
)

type stubCodec struct{ types []string }

func (c stubCodec) CommandTypes() []string                     { return c.types }
func (stubCodec) AggregateIDField() string                     { return "id" }
func (stubCodec) ParseCommand([]byte) (records.Command, error) { return nil, nil }
func (stubCodec) DecodeEvent([]byte) (*records.Event, error)   { return nil, nil }
func (stubCodec) EncodeCommand(records.Command, time.Time) (records.EncodedCommand, error) {
	return records.EncodedCommand{}, nil
}

func stubDef(name string, types ...string) *Definition {
	return &Definition{Name: name, Plural: name + "s", Events: stubCodec{},
		NewProcessor: func(ProcessorOptions) (processors.Aggregate, error) { return nil, nil },
		Commands:     stubCodec{types: types}}
}

// The JSON Lines `type` picks the aggregate, so a registry refuses two
// aggregates owning one command type, and a codec owning none.
func TestRegistryRefusesACommandTypeOwnedTwice(t *testing.T) {
	if _, err := NewRegistry(stubDef("widget", "CreateWidget"), stubDef("gadget", "CreateGadget")); err != nil {
		t.Fatalf("distinct types refused: %v", err)
	}
	_, err := NewRegistry(stubDef("widget", "Create", "Paint"), stubDef("gadget", "Create"))
	if err == nil || !strings.Contains(err.Error(), `aggregates "widget" and "gadget" both own the command type "Create"`) {
		t.Fatalf("type owned twice: %v", err)
	}
	_, err = NewRegistry(stubDef("widget"))
	if err == nil || !strings.Contains(err.Error(), "owns no command type") {
		t.Fatalf("codec without types: %v", err)
	}
}
