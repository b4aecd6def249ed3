package demo

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/prism-cqrs/prism/payment"
)

// Sources is what the demo read back from each read source.
type Sources struct {
	// LivePayments per source: postgres, redis, elasticsearch.
	LivePayments map[string]int64
	// Summary is payment_summary: organization × status × currency, the
	// rows with payments.
	Summary []payment.SummaryRow
	// TimelineRows is the number of rows of payment_timeline.
	TimelineRows int64
	// Sample is one payment as each source returns it (JSON), by source:
	// the Redis and Elasticsearch documents as stored, the Postgres row as
	// payment.ReadPayments reads it (the payment's JSON form).
	SampleID string
	Sample   map[string]string
	// SampleOrganization is the sample payment's organization.
	SampleOrganization string
}

// Agree reports whether every source holds the same number of live payments
// and the summary counts add up to it.
func (s Sources) Agree() error {
	var want int64 = -1
	for _, n := range s.LivePayments {
		if want < 0 {
			want = n
		} else if n != want {
			return fmt.Errorf("read sources disagree on live payments: %v", s.LivePayments)
		}
	}
	var sum int64
	for _, r := range s.Summary {
		sum += r.Count
	}
	if want >= 0 && sum != want {
		return fmt.Errorf("payment_summary counts %d payments, the sources hold %d", sum, want)
	}
	return nil
}

// Print writes the report and returns Agree's verdict.
func (s Sources) Print(w io.Writer) error {
	srcs := make([]string, 0, len(s.LivePayments))
	for k := range s.LivePayments {
		srcs = append(srcs, k)
	}
	sort.Strings(srcs)
	fmt.Fprintln(w, "\nlive payments per read source:")
	for _, k := range srcs {
		fmt.Fprintf(w, "  %-14s %d\n", k, s.LivePayments[k])
	}
	fmt.Fprintf(w, "payment_timeline rows: %d\n", s.TimelineRows)
	fmt.Fprintln(w, "\npayment_summary (first 10 rows):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  ORGANIZATION\tSTATUS\tCURRENCY\tCOUNT\tTOTAL (minor units)")
	for i, r := range s.Summary {
		if i == 10 {
			break
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%d\n", r.OrganizationID, r.Status, r.Currency, r.Count, r.TotalAmountMinor)
	}
	_ = tw.Flush()
	if s.SampleID != "" {
		fmt.Fprintf(w, "\npayment %s as each source returns it:\n", s.SampleID)
		keys := make([]string, 0, len(s.Sample))
		for k := range s.Sample {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %-14s %s\n", k, s.Sample[k])
		}
	}
	if err := s.Agree(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nOK: Postgres, Redis and Elasticsearch hold the same payments; the read models add up.")
	return nil
}
