package schemas

import (
	"reflect"
	"testing"
)

// The flat wire structs must carry every envelope field (same name, type and
// avro tag), so a field added to types.go cannot be silently dropped.
func TestWireStructsMirrorTheEnvelopes(t *testing.T) {
	check := func(env, wire reflect.Type) {
		for i := range env.NumField() {
			f := env.Field(i)
			if f.Name == "Payload" {
				continue
			}
			w, ok := wire.FieldByName(f.Name)
			if !ok || w.Type != f.Type || w.Tag.Get("avro") != f.Tag.Get("avro") {
				t.Errorf("%s.%s (%s, avro:%q) is not mirrored in %s", env.Name(), f.Name, f.Type, f.Tag.Get("avro"), wire.Name())
			}
		}
		if wire.NumField() != env.NumField() {
			t.Errorf("%s has %d fields, %s has %d", wire.Name(), wire.NumField(), env.Name(), env.NumField())
		}
	}
	check(reflect.TypeFor[CommandEnvelope](), reflect.TypeFor[commandWire]())
	check(reflect.TypeFor[EventEnvelope](), reflect.TypeFor[eventWire]())
}
