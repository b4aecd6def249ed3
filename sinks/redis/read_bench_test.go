package redis_test

import (
	"context"
	"testing"

	"github.com/prism-cqrs/prism/payment"
)

// BenchmarkRead compares a reader's one-round-trip read of the pointer and
// the document (Keys.GetDoc, a Lua script) with a bare GET of the
// document, which is all a reader did before versions existed.
func BenchmarkRead(b *testing.B) {
	st := newStore(b, "payments", payment.RedisCache{})
	ctx := context.Background()
	doc := `{"version":4,"id":"pay-1","organizationId":"org-a","userId":"u","amountMinor":10005,"amount":"100.05","currency":"EUR","description":"d","status":"CAPTURED","createdAt":"2026-01-03T22:30:00.123Z","updatedAt":"2026-02-01T08:00:00Z"}`
	if err := st.client.Set(ctx, st.keys.Doc("pay-1"), doc, 0).Err(); err != nil {
		b.Fatal(err)
	}
	b.Run("GET", func(b *testing.B) {
		for b.Loop() {
			if err := st.client.Get(ctx, st.keys.Doc("pay-1")).Err(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GetDoc", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := st.keys.GetDoc(ctx, st.client, "pay-1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
