package payments_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/prism-cqrs/prism/internal/testkit"
	"github.com/prism-cqrs/prism/payment"
	"github.com/prism-cqrs/prism/payment/schemas"
	"github.com/prism-cqrs/prism/queries"
	"github.com/prism-cqrs/prism/queries/payments"
	"github.com/prism-cqrs/prism/records"
	"github.com/prism-cqrs/prism/topology"
)

func TestRedisReader(t *testing.T) {
	ctx := testkit.Context(t, time.Minute)
	opts, err := redis.ParseURL(testkit.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { _ = rdb.Close() })
	ns := testkit.Namespace(t)
	names := topology.Names{Namespace: ns}.Aggregate("payments")
	// The keys as README "Redis" names them, written by hand.
	doc := ns + ":payment:pay-1"
	offset := ns + ":sink:redis:offset:" + names.EventsTopic() + ":3"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), doc, offset).Err() })
	// The document as the sink stores it (payment.RedisDocument: version
	// first, times in RFC 3339 with the stored precision).
	stored := `{"version":4,"id":"pay-1","organizationId":"org-a","userId":"user-9","amountMinor":10005,"amount":"10.005",` +
		`"currency":"KWD","description":"Café Zürich, invoice 42","status":"CAPTURED",` +
		`"createdAt":"2026-01-03T22:30:00.123456Z","updatedAt":"2026-02-01T08:00:00Z"}`
	if err := rdb.Set(ctx, doc, stored, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	r := payments.NewRedisReader(rdb, names)

	got, err := r.ByID(ctx, "pay-1")
	if err != nil {
		t.Fatal(err)
	}
	want := payments.Payment{ID: "pay-1", OrganizationID: "org-a", UserID: "user-9", Amount: "10.005", AmountMinor: 10005,
		Currency: "KWD", Description: "Café Zürich, invoice 42", Status: "CAPTURED",
		CreatedAt: "2026-01-03T22:30:00.123Z", UpdatedAt: "2026-02-01T08:00:00.000Z", Version: 4}
	esSameJSON(t, "ByID", got, want)

	if _, err := r.ByID(ctx, "pay-2"); !errors.Is(err, queries.ErrNotFound) {
		t.Errorf("ByID of an absent key: %v, want ErrNotFound", err)
	}

	token := queries.Token{Topic: names.EventsTopic(), Partition: 3, Offset: 41}
	if next, err := r.Applied(ctx, token); err != nil || next != 0 {
		t.Errorf("Applied without an offset key = %d, %v; want 0", next, err)
	}
	if err := rdb.Set(ctx, offset, "42", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if next, err := r.Applied(ctx, token); err != nil || next != 42 {
		t.Errorf("Applied = %d, %v; want 42", next, err)
	}
	if next, err := r.Applied(ctx, queries.Token{Topic: names.EventsTopic(), Partition: 2, Offset: 41}); err != nil || next != 0 {
		t.Errorf("Applied on another partition = %d, %v; want 0", next, err)
	}

	// A document rendered by the sink's own projection reads back the same.
	state := &schemas.Payment{ID: "pay-3", OrganizationID: "org-b", UserID: "user-1", AmountMinor: 1234, Currency: "JPY",
		Description: "Оплата 17", Status: "REFUNDED", Version: 7,
		CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 999_999_000, time.UTC), UpdatedAt: time.Date(2026, 3, 2, 1, 2, 3, 4_000_000, time.UTC)}
	cd, err := payment.RedisCache{}.CacheDoc(&records.Event{EventID: "e-1", Type: schemas.TypePaymentStatusChanged, AggregateID: "pay-3",
		OrganizationID: "org-b", Version: 7, State: state})
	if err != nil {
		t.Fatal(err)
	}
	doc3 := ns + ":payment:pay-3"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), doc3).Err() })
	if err := rdb.Set(ctx, doc3, cd.JSON, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	got, err = r.ByID(ctx, "pay-3")
	if err != nil {
		t.Fatal(err)
	}
	esSameJSON(t, "ByID of the sink's document", got, payments.Payment{ID: "pay-3", OrganizationID: "org-b", UserID: "user-1",
		Amount: "1234", AmountMinor: 1234, Currency: "JPY", Description: "Оплата 17", Status: "REFUNDED",
		CreatedAt: "2026-03-01T00:00:00.999Z", UpdatedAt: "2026-03-02T01:02:03.004Z", Version: 7})

	// A rebuild switched to version 2 (README "Redis": the pointer names
	// it, its keys under <ns>:v2:): the reader follows the pointer.
	pointer, doc1v2, offsetV2 := ns+":sink:redis:version:payment", ns+":v2:payment:pay-1", ns+":v2:sink:redis:offset:"+names.EventsTopic()+":3"
	t.Cleanup(func() { _ = rdb.Del(context.Background(), pointer, doc1v2, offsetV2).Err() })
	if err := rdb.Set(ctx, doc1v2, strings.Replace(stored, `"version":4`, `"version":5`, 1), time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, offsetV2, "50", time.Hour)
	if got, err := r.ByID(ctx, "pay-1"); err != nil || got.Version != 4 {
		t.Fatalf("ByID before the switch = %+v, %v; want version 1's document (4)", got, err)
	}
	rdb.Set(ctx, pointer, "2", 0)
	if got, err := r.ByID(ctx, "pay-1"); err != nil || got.Version != 5 {
		t.Errorf("ByID after the switch = %+v, %v; want version 2's document (5)", got, err)
	}
	if _, err := r.ByID(ctx, "pay-3"); !errors.Is(err, queries.ErrNotFound) {
		t.Errorf("ByID of a document only version 1 holds, after the switch: %v, want ErrNotFound", err)
	}
	if next, err := r.Applied(ctx, token); err != nil || next != 50 {
		t.Errorf("Applied after the switch = %d, %v; want version 2's 50", next, err)
	}

	// Redis down (a closed client): a failure, not "not found".
	down := redis.NewClient(opts)
	_ = down.Close()
	if _, err := payments.NewRedisReader(down, names).ByID(ctx, "pay-1"); err == nil || errors.Is(err, queries.ErrNotFound) {
		t.Errorf("ByID with Redis unreachable: %v, want a failure", err)
	}
}
