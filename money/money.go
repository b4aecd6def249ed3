// Package money parses and formats amounts of ISO 4217 currencies as int64
// minor units. Prism never carries money as a float.
package money

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrUnknownCurrency is returned for a code that is not an ISO 4217 currency
// Prism knows.
var ErrUnknownCurrency = errors.New("unknown ISO 4217 currency")

// minorDigits is the number of decimals of each supported currency.
var minorDigits = map[string]int{
	"AED": 2, "ARS": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2,
	"CLP": 0, "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EGP": 2, "EUR": 2, "GBP": 2,
	"HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0,
	"KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2,
	"PLN": 2, "QAR": 2, "RON": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3,
	"TRY": 2, "TWD": 2, "UAH": 2, "USD": 2, "VND": 0, "ZAR": 2,
}

// Digits returns the number of minor-unit decimals of currency.
func Digits(currency string) (int, error) {
	d, ok := minorDigits[currency]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	return d, nil
}

// Known reports whether currency is a supported ISO 4217 code.
func Known(currency string) bool {
	_, ok := minorDigits[currency]
	return ok
}

// Parse turns a decimal string ("100.00", "7", "0.5") into minor units of
// currency. It rejects floats in exponent form, signs other than a leading
// '-', more decimals than the currency allows and values beyond int64.
func Parse(s, currency string) (int64, error) {
	digits, err := Digits(currency)
	if err != nil {
		return 0, err
	}
	orig := s
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("amount %q is not a decimal number like \"100.00\"", orig)
	}
	if len(frac) > digits {
		return 0, fmt.Errorf("amount %q has %d decimals, %s allows %d", orig, len(frac), currency, digits)
	}
	frac += strings.Repeat("0", digits-len(frac))
	v, err := strconv.ParseInt(intPart+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is out of range", orig)
	}
	if neg {
		v = -v
	}
	return v, nil
}

// Format renders minor units of currency as a decimal string ("100.00").
func Format(minor int64, currency string) (string, error) {
	digits, err := Digits(currency)
	if err != nil {
		return "", err
	}
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = uint64(-minor)
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Currencies returns the supported ISO 4217 codes, sorted.
func Currencies() []string {
	out := make([]string, 0, len(minorDigits))
	for c := range minorDigits {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}
