// Package nin parses, validates and generates Norwegian person identity
// numbers: birth numbers (fødselsnummer), D-numbers and H-numbers, including
// the synthetic test numbers issued by Skatteetaten's Tenor test data service.
//
// An identity number has 11 digits, DDMMYYIIIKK: a birth date, a three-digit
// individual number that also encodes the century, and two mod-11 control
// digits. A D-number adds 40 to the day, an H-number adds 40 to the month and
// a synthetic number adds 80 to the month.
//
// An ID never reveals its digits by accident: String, GoString, Format,
// LogValue and MarshalJSON all produce a redacted form, so an ID handed to fmt,
// log/slog or encoding/json by mistake does not leak the number. Digits is the
// only way to get the number back. Errors from this package never contain the
// input either.
package nin

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"
	"unique"
)

// Kind is the kind of an identity number.
type Kind int

// The kinds of identity number.
const (
	// BirthNumber is an ordinary birth number (fødselsnummer).
	BirthNumber Kind = iota
	// DNumber is a D-number, given to people who are not registered as
	// residents; the day of birth has 40 added.
	DNumber
	// HNumber is an H-number, an auxiliary number used in health care; the
	// month of birth has 40 added.
	HNumber
)

// String returns a short English name for k.
func (k Kind) String() string {
	switch k {
	case BirthNumber:
		return "birth number"
	case DNumber:
		return "D-number"
	case HNumber:
		return "H-number"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Date is a civil date with no time zone, such as a date of birth.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// String returns d in ISO 8601 form, YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day)
}

// valid reports whether d is a real day in the Gregorian calendar.
func (d Date) valid() bool {
	if d.Month < time.January || d.Month > time.December || d.Day < 1 {
		return false
	}
	// Day 0 of the next month is the last day of this one.
	last := time.Date(d.Year, d.Month+1, 0, 0, 0, 0, 0, time.UTC).Day()
	return d.Day <= last
}

// Errors returned by Parse and Generate. They are wrapped with more detail, so
// test for them with errors.Is. No error message contains the input.
var (
	// ErrFormat means the input is not exactly 11 ASCII digits.
	ErrFormat = errors.New("nin: not exactly eleven digits")
	// ErrControlDigit means a control digit does not match, or that no
	// valid control digit exists for the preceding digits.
	ErrControlDigit = errors.New("nin: bad control digit")
	// ErrDate means the day and month fields do not encode a calendar date.
	ErrDate = errors.New("nin: bad date")
	// ErrIndividual means the individual number does not belong to a
	// century that fits the two-digit year.
	ErrIndividual = errors.New("nin: individual number does not fit the year")
)

// redacted replaces the digits wherever an ID is printed or encoded.
const redacted = "***********"

// ID is a valid Norwegian person identity number. The zero ID is not a valid
// number; its Digits method returns the empty string.
//
// IDs are comparable: two IDs are equal exactly when their digits are.
type ID struct {
	// h holds every field behind a pointer, so that printing a struct that
	// keeps an ID in an unexported field (which fmt does by reflection,
	// bypassing Format) shows an address rather than the digits or birth
	// date. A unique.Handle keeps ID comparable by value.
	h unique.Handle[fields]
}

type fields struct {
	digits    string
	kind      Kind
	synthetic bool
	birth     Date
}

func newID(f fields) ID {
	return ID{h: unique.Make(f)}
}

func (id ID) fields() fields {
	if id.h == (unique.Handle[fields]{}) {
		return fields{}
	}
	return id.h.Value()
}

// Digits returns the 11 digits of the number. It is the only method that
// reveals them; handle the result as personal data.
func (id ID) Digits() string { return id.fields().digits }

// Kind returns the kind of the number.
func (id ID) Kind() Kind { return id.fields().kind }

// Synthetic reports whether the number is a synthetic test number (month
// plus 80). Synthetic numbers never belong to a real person.
func (id ID) Synthetic() bool { return id.fields().synthetic }

// BirthDate returns the date of birth encoded in the number.
func (id ID) BirthDate() Date { return id.fields().birth }

// String returns a redacted form, "nin:***********".
func (id ID) String() string { return "nin:" + redacted }

// GoString returns a redacted form for the %#v verb.
func (id ID) GoString() string { return "nin.ID{" + redacted + "}" }

// Format implements fmt.Formatter so that every verb, including %d, %x and
// %+v, prints the redacted form rather than the struct's fields.
func (id ID) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		io.WriteString(f, id.GoString())
	case verb == 'q':
		io.WriteString(f, strconv.Quote(id.String()))
	default:
		io.WriteString(f, id.String())
	}
}

// LogValue implements slog.LogValuer; it logs the redacted form.
func (id ID) LogValue() slog.Value { return slog.StringValue(id.String()) }

// MarshalJSON encodes the ID as the redacted string "***********". To store
// or send the number, encode Digits explicitly.
func (id ID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + redacted + `"`), nil
}

// Control digit weights for the first nine and the first ten digits.
var (
	weights1 = []int{3, 7, 6, 1, 8, 9, 4, 5, 2}
	weights2 = []int{5, 4, 3, 2, 7, 6, 5, 4, 3, 2}
)

// control returns the mod-11 control digit for the leading digits of d, one
// per weight. It reports false if the result would be 10, which no valid
// number uses.
func control(d []int, weights []int) (int, bool) {
	sum := 0
	for i, w := range weights {
		sum += w * d[i]
	}
	k := (11 - sum%11) % 11
	return k, k != 10
}

// year returns the four-digit year for an individual number and a two-digit
// year, and false if the individual number is not used with that year.
func year(individual, yy int) (int, bool) {
	switch {
	case individual <= 499:
		return 1900 + yy, true
	case individual <= 749 && yy >= 54:
		return 1800 + yy, true
	case yy <= 39:
		return 2000 + yy, true
	case individual >= 900:
		return 1900 + yy, true
	}
	return 0, false
}

// Parse parses s, which must be exactly 11 ASCII digits with no spaces or
// other separators, and checks both control digits, the individual number's
// century and the birth date.
func Parse(s string) (ID, error) {
	if len(s) != 11 {
		return ID{}, ErrFormat
	}
	var d [11]int
	for i := range len(s) {
		c := s[i]
		if c < '0' || c > '9' {
			return ID{}, ErrFormat
		}
		d[i] = int(c - '0')
	}

	if k1, ok := control(d[:], weights1); !ok {
		return ID{}, fmt.Errorf("%w: first control digit cannot exist", ErrControlDigit)
	} else if k1 != d[9] {
		return ID{}, fmt.Errorf("%w: first control digit", ErrControlDigit)
	}
	if k2, ok := control(d[:], weights2); !ok {
		return ID{}, fmt.Errorf("%w: second control digit cannot exist", ErrControlDigit)
	} else if k2 != d[10] {
		return ID{}, fmt.Errorf("%w: second control digit", ErrControlDigit)
	}

	day, month := d[0]*10+d[1], d[2]*10+d[3]
	kind, synthetic := BirthNumber, false
	if day >= 41 && day <= 71 {
		kind, day = DNumber, day-40
	}
	switch {
	case month >= 81 && month <= 92:
		synthetic, month = true, month-80
	case month >= 41 && month <= 52:
		if kind == DNumber {
			return ID{}, fmt.Errorf("%w: both day and month offset", ErrDate)
		}
		kind, month = HNumber, month-40
	}
	if day < 1 || day > 31 {
		return ID{}, fmt.Errorf("%w: day out of range", ErrDate)
	}
	if month < 1 || month > 12 {
		return ID{}, fmt.Errorf("%w: month out of range", ErrDate)
	}

	y, ok := year(d[6]*100+d[7]*10+d[8], d[4]*10+d[5])
	if !ok {
		return ID{}, ErrIndividual
	}
	birth := Date{Year: y, Month: time.Month(month), Day: day}
	if !birth.valid() {
		return ID{}, fmt.Errorf("%w: no such day", ErrDate)
	}
	return newID(fields{digits: s, kind: kind, synthetic: synthetic, birth: birth}), nil
}

// Valid reports whether s is a valid identity number; see Parse.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

// Generate builds the identity number of the given kind for a birth date and
// an individual number (0–999), computing the control digits. It is meant for
// tests and seed data.
//
// The individual number must belong to a century that gives birth.Year (so
// birth.Year must be between 1854 and 2039), otherwise the error wraps
// ErrIndividual. About one individual number in six has no valid control
// digits; then the error wraps ErrControlDigit and the caller can try the
// next one. H-numbers cannot be synthetic.
func Generate(birth Date, individual int, kind Kind, synthetic bool) (ID, error) {
	if !birth.valid() {
		return ID{}, fmt.Errorf("%w: no such day", ErrDate)
	}
	if birth.Year < 1854 || birth.Year > 2039 {
		return ID{}, fmt.Errorf("%w: year out of range", ErrIndividual)
	}
	if individual < 0 || individual > 999 {
		return ID{}, fmt.Errorf("%w: out of range", ErrIndividual)
	}
	if y, ok := year(individual, birth.Year%100); !ok || y != birth.Year {
		return ID{}, ErrIndividual
	}

	day, month := birth.Day, int(birth.Month)
	switch kind {
	case BirthNumber:
	case DNumber:
		day += 40
	case HNumber:
		if synthetic {
			return ID{}, errors.New("nin: an H-number cannot be synthetic")
		}
		month += 40
	default:
		return ID{}, fmt.Errorf("nin: unknown %v", kind)
	}
	if synthetic {
		month += 80
	}

	yy := birth.Year % 100
	d := []int{
		day / 10, day % 10,
		month / 10, month % 10,
		yy / 10, yy % 10,
		individual / 100, individual / 10 % 10, individual % 10,
		0, 0,
	}
	var ok bool
	if d[9], ok = control(d, weights1); !ok {
		return ID{}, fmt.Errorf("%w: none for this individual number", ErrControlDigit)
	}
	if d[10], ok = control(d, weights2); !ok {
		return ID{}, fmt.Errorf("%w: none for this individual number", ErrControlDigit)
	}
	b := make([]byte, len(d))
	for i, x := range d {
		b[i] = byte('0' + x)
	}
	return newID(fields{digits: string(b), kind: kind, synthetic: synthetic, birth: birth}), nil
}

// ForTest returns a birth number for the given date, using the lowest
// individual number that gives a valid number. It panics if there is none,
// which happens only for an invalid date or a year outside 1854–2039.
func ForTest(birth Date, synthetic bool) ID {
	for individual := range 1000 {
		if id, err := Generate(birth, individual, BirthNumber, synthetic); err == nil {
			return id
		}
	}
	panic("nin: ForTest: no identity number for " + birth.String())
}
