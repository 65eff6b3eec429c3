package nin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The vectors below were computed independently of this package (with a
// separate script) and can be checked by hand. For example 17058512311:
//
//	k1: 3·1 + 7·7 + 6·0 + 1·5 + 8·8 + 9·5 + 4·1 + 5·2 + 2·3 = 186,
//	    186 mod 11 = 10, 11 − 10 = 1
//	k2: 5·1 + 4·7 + 3·0 + 2·5 + 7·8 + 6·5 + 5·1 + 4·2 + 3·3 + 2·1 = 153,
//	    153 mod 11 = 10, 11 − 10 = 1
//
// checkControl, below, recomputes the control digits of every vector without
// using the package's own code.

func date(y int, m time.Month, d int) Date { return Date{Year: y, Month: m, Day: d} }

// checkControl reports whether both control digits of s are right, computed
// the long way round, independently of control.
func checkControl(s string) bool {
	if len(s) != 11 {
		return false
	}
	digit := func(i int) int { return int(s[i] - '0') }
	k1 := 11 - (3*digit(0)+7*digit(1)+6*digit(2)+1*digit(3)+8*digit(4)+
		9*digit(5)+4*digit(6)+5*digit(7)+2*digit(8))%11
	k2 := 11 - (5*digit(0)+4*digit(1)+3*digit(2)+2*digit(3)+7*digit(4)+
		6*digit(5)+5*digit(6)+4*digit(7)+3*digit(8)+2*digit(9))%11
	if k1 == 11 {
		k1 = 0
	}
	if k2 == 11 {
		k2 = 0
	}
	return k1 == digit(9) && k2 == digit(10)
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		kind      Kind
		synthetic bool
		birth     Date
	}{
		{"1900s individual 000-499", "17058512311", BirthNumber, false, date(1985, time.May, 17)},
		{"first day of 1900", "01010000110", BirthNumber, false, date(1900, time.January, 1)},
		{"last individual of 1900s low range", "31129949980", BirthNumber, false, date(1999, time.December, 31)},
		{"2000s individual 500-999", "04031051296", BirthNumber, false, date(2010, time.March, 4)},
		{"2000 individual 500", "01010050053", BirthNumber, false, date(2000, time.January, 1)},
		{"2039 individual 999", "31123999935", BirthNumber, false, date(2039, time.December, 31)},
		{"2039 individual 900", "01013990057", BirthNumber, false, date(2039, time.January, 1)},
		{"1800s individual 500-749", "24127560095", BirthNumber, false, date(1875, time.December, 24)},
		{"1854 individual 500", "01015450068", BirthNumber, false, date(1854, time.January, 1)},
		{"1899 individual 748", "31129974810", BirthNumber, false, date(1899, time.December, 31)},
		{"1900s individual 900-999", "01075595057", BirthNumber, false, date(1955, time.July, 1)},
		{"1940 individual 900", "01014090017", BirthNumber, false, date(1940, time.January, 1)},
		{"D-number", "55019012300", DNumber, false, date(1990, time.January, 15)},
		{"H-number", "15419012480", HNumber, false, date(1990, time.January, 15)},
		{"synthetic", "15819012382", BirthNumber, true, date(1990, time.January, 15)},
		{"synthetic D-number", "55819012376", DNumber, true, date(1990, time.January, 15)},
		{"synthetic D-number day 1", "41819012359", DNumber, true, date(1990, time.January, 1)},
		{"29 February 2000", "29020060040", BirthNumber, false, date(2000, time.February, 29)},
		{"29 February 1996", "29029610086", BirthNumber, false, date(1996, time.February, 29)},
		{"synthetic 29 February 2024", "29822460036", BirthNumber, true, date(2024, time.February, 29)},
		{"1905 individual 123", "01010512340", BirthNumber, false, date(1905, time.January, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !checkControl(tt.in) {
				t.Fatalf("test vector has wrong control digits")
			}
			id, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := id.Digits(); got != tt.in {
				t.Errorf("Digits() = %q, want %q", got, tt.in)
			}
			if got := id.Kind(); got != tt.kind {
				t.Errorf("Kind() = %v, want %v", got, tt.kind)
			}
			if got := id.Synthetic(); got != tt.synthetic {
				t.Errorf("Synthetic() = %v, want %v", got, tt.synthetic)
			}
			if got := id.BirthDate(); got != tt.birth {
				t.Errorf("BirthDate() = %v, want %v", got, tt.birth)
			}
			if !Valid(tt.in) {
				t.Errorf("Valid() = false, want true")
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrFormat},
		{"one digit", "1", ErrFormat},
		{"ten digits", "1705851231", ErrFormat},
		{"twelve digits", "170585123110", ErrFormat},
		{"letter", "1705851231a", ErrFormat},
		{"leading space", " 17058512311", ErrFormat},
		{"trailing space", "17058512311 ", ErrFormat},
		{"inner space", "170585 12311", ErrFormat},
		{"dash", "170585-12311", ErrFormat},
		{"sign", "+1705851231", ErrFormat},
		{"full-width digits", "１７０５８５１２３１１", ErrFormat},
		{"non-ASCII same length", "1705851231é"[:11], ErrFormat},
		{"bad k1", "17058512321", ErrControlDigit},
		{"bad k2", "17058512312", ErrControlDigit},
		{"k1 would be 10", "15419012300", ErrControlDigit},
		{"k2 would be 10", "29022360050", ErrControlDigit},
		{"transposed digits", "71058512311", ErrControlDigit},
		{"all zeros", "00000000000", ErrDate},
		{"day 00", "00019012360", ErrDate},
		{"day 32", "32019012351", ErrDate},
		{"D-number day 00", "40019012354", ErrDate},
		{"D-number day 32", "72019012345", ErrDate},
		{"month 00", "01009012490", ErrDate},
		{"month 13", "01139012328", ErrDate},
		{"H-number month 13", "01539012300", ErrDate},
		{"synthetic month 13", "01939012393", ErrDate},
		{"D and H together", "55419012393", ErrDate},
		{"31 April as D-number", "71049012386", ErrDate},
		{"31 April", "31040012349", ErrDate},
		{"30 February 2000", "30020060170", ErrDate},
		{"29 February 1900", "29020010027", ErrDate},
		{"29 February 2023", "29022360130", ErrDate},
		{"individual 750-899 with year 40-99", "01015080082", ErrIndividual},
		{"individual 500-749 with year 40-53", "01014560013", ErrIndividual},
		{"individual 500 with year 53", "31125350189", ErrIndividual},
		{"individual 750 with year 99", "31129975019", ErrIndividual},
		{"individual 500 with year 40", "01014050066", ErrIndividual},
		{"all nines", "99999999928", ErrDate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse() error = %v, want %v", err, tt.want)
			}
			if id != (ID{}) {
				t.Errorf("Parse() returned a non-zero ID with an error")
			}
			if Valid(tt.in) {
				t.Errorf("Valid() = true, want false")
			}
			if tt.in != "" && strings.Contains(err.Error(), tt.in) {
				t.Errorf("error %q contains the input", err)
			}
		})
	}
}

// TestErrorsNeverContainInput checks every error message against inputs of
// every length, not just the table above.
func TestErrorsNeverContainInput(t *testing.T) {
	inputs := []string{"0", "12", "123", "3", "6", "01", "00000000001", "17058512321"}
	for _, in := range inputs {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%q) succeeded, want an error", in)
		}
		// An error message must not leak even a short input, so it may
		// contain no digits at all.
		if strings.ContainsAny(err.Error(), "0123456789") {
			t.Errorf("Parse(%q) error %q contains digits", in, err)
		}
	}
}

func TestRedaction(t *testing.T) {
	const digits = "17058512311"
	id, err := Parse(digits)
	if err != nil {
		t.Fatal(err)
	}
	type exported struct{ ID ID }
	type unexported struct{ id ID }
	type nested struct {
		name string
		u    unexported
	}

	var text, js bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("x", "id", id, "p", &id, "s", unexported{id})
	slog.New(slog.NewJSONHandler(&js, nil)).Info("x", "id", id, "p", &id, "s", exported{id})
	jsonOut, err := json.Marshal(exported{id})
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	tests := []struct {
		name string
		got  string
	}{
		{"Sprint", fmt.Sprint(id)},
		{"Sprintln", fmt.Sprintln(id)},
		{"%v %+v %#v", fmt.Sprintf("%v %+v %#v", id, id, id)},
		{"%s %q %x %X %d", fmt.Sprintf("%s %q %x %X %d", id, id, id, id, id)},
		{"pointer", fmt.Sprintf("%v %+v %#v %d", &id, &id, &id, &id)},
		{"slice", fmt.Sprintf("%v %+v %#v %d", []ID{id}, []ID{id}, []ID{id}, []ID{id})},
		{"map", fmt.Sprintf("%v %#v", map[string]ID{"k": id}, map[string]ID{"k": id})},
		{"exported field", fmt.Sprintf("%v %+v %#v %d", exported{id}, exported{id}, exported{id}, exported{id})},
		{"unexported field", fmt.Sprintf("%v %+v %#v %d", unexported{id}, unexported{id}, unexported{id}, unexported{id})},
		{"nested unexported field", fmt.Sprintf("%v %+v %#v", nested{"a", unexported{id}}, nested{"a", unexported{id}}, nested{"a", unexported{id}})},
		{"error wrapping", fmt.Errorf("lookup %v: %w", id, errors.New("x")).Error()},
		{"json.Marshal", string(jsonOut)},
		{"slog text", text.String()},
		{"slog JSON", js.String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The birth date is personal data too, so check it is not
			// printed in any form either. (Short digit strings could turn
			// up by chance in the hexadecimal addresses fmt prints.)
			for _, secret := range []string{digits, "170585", "1985 ", "1985-", "May"} {
				if strings.Contains(tt.got, secret) {
					t.Errorf("output %q contains %q", tt.got, secret)
				}
			}
		})
	}

	t.Run("redacted forms", func(t *testing.T) {
		if got, want := id.String(), "nin:***********"; got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
		if got, want := string(jsonOut), `{"ID":"***********"}`; got != want {
			t.Errorf("json.Marshal = %s, want %s", got, want)
		}
		if got, want := fmt.Sprintf("%#v", id), "nin.ID{***********}"; got != want {
			t.Errorf("%%#v = %q, want %q", got, want)
		}
		if got, want := fmt.Sprintf("%q", id), `"nin:***********"`; got != want {
			t.Errorf("%%q = %q, want %q", got, want)
		}
	})
}

func TestIDEquality(t *testing.T) {
	a1, _ := Parse("17058512311")
	a2, _ := Parse(string([]byte("17058512311")))
	b, _ := Parse("04031051296")
	if a1 != a2 {
		t.Errorf("IDs with the same digits compare unequal")
	}
	if a1 == b {
		t.Errorf("IDs with different digits compare equal")
	}
	if a1 == (ID{}) {
		t.Errorf("parsed ID equals the zero ID")
	}
}

func TestZeroID(t *testing.T) {
	var id ID
	if got := id.Digits(); got != "" {
		t.Errorf("Digits() = %q, want empty", got)
	}
	if got := id.BirthDate(); got != (Date{}) {
		t.Errorf("BirthDate() = %v, want zero", got)
	}
	if got, want := id.String(), "nin:***********"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestGenerate(t *testing.T) {
	tests := []struct {
		name       string
		birth      Date
		individual int
		kind       Kind
		synthetic  bool
		want       string
	}{
		{"birth number 1985", date(1985, time.May, 17), 123, BirthNumber, false, "17058512311"},
		{"birth number 2010", date(2010, time.March, 4), 512, BirthNumber, false, "04031051296"},
		{"birth number 1875", date(1875, time.December, 24), 600, BirthNumber, false, "24127560095"},
		{"birth number 1955 individual 950", date(1955, time.July, 1), 950, BirthNumber, false, "01075595057"},
		{"leading zero individual", date(1900, time.January, 1), 1, BirthNumber, false, "01010000110"},
		{"D-number", date(1990, time.January, 15), 123, DNumber, false, "55019012300"},
		{"H-number", date(1990, time.January, 15), 124, HNumber, false, "15419012480"},
		{"synthetic", date(1990, time.January, 15), 123, BirthNumber, true, "15819012382"},
		{"synthetic D-number", date(1990, time.January, 15), 123, DNumber, true, "55819012376"},
		{"29 February 2000", date(2000, time.February, 29), 600, BirthNumber, false, "29020060040"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Generate(tt.birth, tt.individual, tt.kind, tt.synthetic)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			if got := id.Digits(); got != tt.want {
				t.Errorf("Digits() = %q, want %q", got, tt.want)
			}
			parsed, err := Parse(id.Digits())
			if err != nil {
				t.Fatalf("Parse(Generate()): %v", err)
			}
			if parsed != id {
				t.Errorf("Parse(Generate()) != Generate()")
			}
			if got := parsed.Kind(); got != tt.kind {
				t.Errorf("Kind() = %v, want %v", got, tt.kind)
			}
			if got := parsed.Synthetic(); got != tt.synthetic {
				t.Errorf("Synthetic() = %v, want %v", got, tt.synthetic)
			}
			if got := parsed.BirthDate(); got != tt.birth {
				t.Errorf("BirthDate() = %v, want %v", got, tt.birth)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	tests := []struct {
		name       string
		birth      Date
		individual int
		kind       Kind
		synthetic  bool
		want       error // nil means any error
	}{
		{"k1 would be 10", date(1990, time.January, 15), 123, HNumber, false, ErrControlDigit},
		{"k2 would be 10", date(1900, time.January, 1), 0, BirthNumber, false, ErrControlDigit},
		{"29 February 1900", date(1900, time.February, 29), 100, BirthNumber, false, ErrDate},
		{"29 February 2023", date(2023, time.February, 29), 600, BirthNumber, false, ErrDate},
		{"month 0", date(1990, 0, 1), 100, BirthNumber, false, ErrDate},
		{"month 13", date(1990, 13, 1), 100, BirthNumber, false, ErrDate},
		{"day 0", date(1990, time.January, 0), 100, BirthNumber, false, ErrDate},
		{"year 1853", date(1853, time.December, 31), 500, BirthNumber, false, ErrIndividual},
		{"year 2040", date(2040, time.January, 1), 500, BirthNumber, false, ErrIndividual},
		{"negative individual", date(1990, time.January, 1), -1, BirthNumber, false, ErrIndividual},
		{"individual 1000", date(1990, time.January, 1), 1000, BirthNumber, false, ErrIndividual},
		{"individual 500 in 1990", date(1990, time.January, 1), 500, BirthNumber, false, ErrIndividual},
		{"individual 499 in 2000", date(2000, time.January, 1), 499, BirthNumber, false, ErrIndividual},
		{"individual 900 in 1890", date(1890, time.January, 1), 900, BirthNumber, false, ErrIndividual},
		{"individual 750 in 1860", date(1860, time.January, 1), 750, BirthNumber, false, ErrIndividual},
		{"synthetic H-number", date(1990, time.January, 15), 124, HNumber, true, nil},
		{"unknown kind", date(1990, time.January, 15), 123, Kind(7), false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Generate(tt.birth, tt.individual, tt.kind, tt.synthetic)
			if err == nil {
				t.Fatalf("Generate() = %v (%s), want an error", id, id.Digits())
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Generate() error = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestGenerateRoundTrip generates every kind for days across the whole
// supported range and checks that Parse gives the same fields back.
func TestGenerateRoundTrip(t *testing.T) {
	kinds := []struct {
		kind      Kind
		synthetic bool
	}{
		{BirthNumber, false}, {DNumber, false}, {HNumber, false},
		{BirthNumber, true}, {DNumber, true},
	}
	start := time.Date(1854, time.January, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2039, time.December, 31, 0, 0, 0, 0, time.UTC)
	n := 0
	for day := start; !day.After(end); day = day.AddDate(0, 0, 13) {
		birth := date(day.Date())
		for _, k := range kinds {
			// Try a spread of individual numbers; most do not fit the
			// year or have no control digit and must fail cleanly.
			for individual := n % 7; individual < 1000; individual += 97 {
				id, err := Generate(birth, individual, k.kind, k.synthetic)
				if err != nil {
					if !errors.Is(err, ErrIndividual) && !errors.Is(err, ErrControlDigit) {
						t.Fatalf("Generate(%v, %d, %v, %v): unexpected error %v", birth, individual, k.kind, k.synthetic, err)
					}
					continue
				}
				n++
				p, err := Parse(id.Digits())
				if err != nil {
					t.Fatalf("Parse(Generate(%v, %d, %v, %v)): %v", birth, individual, k.kind, k.synthetic, err)
				}
				if p.Kind() != k.kind || p.Synthetic() != k.synthetic || p.BirthDate() != birth {
					t.Fatalf("Parse(Generate(%v, %d, %v, %v)) = %v, %v, %v",
						birth, individual, k.kind, k.synthetic, p.Kind(), p.Synthetic(), p.BirthDate())
				}
			}
		}
	}
	if n < 10000 {
		t.Errorf("only %d round trips succeeded, want at least 10000", n)
	}
}

func TestForTest(t *testing.T) {
	tests := []struct {
		name      string
		birth     Date
		synthetic bool
	}{
		{"1854", date(1854, time.January, 1), false},
		{"1899", date(1899, time.December, 31), true},
		{"1900", date(1900, time.January, 1), false},
		{"1999", date(1999, time.December, 31), false},
		{"2000 leap day", date(2000, time.February, 29), true},
		{"2014", date(2014, time.June, 15), false},
		{"2039", date(2039, time.December, 31), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := ForTest(tt.birth, tt.synthetic)
			p, err := Parse(id.Digits())
			if err != nil {
				t.Fatalf("Parse(ForTest()): %v", err)
			}
			if got := p.BirthDate(); got != tt.birth {
				t.Errorf("BirthDate() = %v, want %v", got, tt.birth)
			}
			if got := p.Synthetic(); got != tt.synthetic {
				t.Errorf("Synthetic() = %v, want %v", got, tt.synthetic)
			}
			if got := p.Kind(); got != BirthNumber {
				t.Errorf("Kind() = %v, want %v", got, BirthNumber)
			}
		})
	}
}

func TestForTestPanics(t *testing.T) {
	tests := []struct {
		name  string
		birth Date
	}{
		{"year 1853", date(1853, time.June, 1)},
		{"year 2040", date(2040, time.June, 1)},
		{"29 February 2023", date(2023, time.February, 29)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("ForTest(%v) did not panic", tt.birth)
				}
			}()
			ForTest(tt.birth, false)
		})
	}
}

func TestDateString(t *testing.T) {
	tests := []struct {
		name string
		in   Date
		want string
	}{
		{"ordinary", date(1985, time.May, 17), "1985-05-17"},
		{"padded", date(2001, time.January, 2), "2001-01-02"},
		{"small year", date(33, time.December, 31), "0033-12-31"},
		{"zero", Date{}, "0000-00-00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		in   Kind
		want string
	}{
		{BirthNumber, "birth number"},
		{DNumber, "D-number"},
		{HNumber, "H-number"},
		{Kind(9), "Kind(9)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.in.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"17058512311", "04031051296", "24127560095", "01075595057",
		"55019012300", "15419012480", "15819012382", "55819012376",
		"29020060040", "29020010027", "55419012393", "01015080082",
		"00000000000", "17058512321", "1705851231a", "", "170585-12311",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Parse(s)
		if err != nil {
			if id != (ID{}) {
				t.Fatalf("Parse returned a non-zero ID with error %v", err)
			}
			if len(s) >= 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		if len(s) != 11 || strings.Trim(s, "0123456789") != "" {
			t.Fatalf("accepted %q, which is not 11 digits", s)
		}
		if !checkControl(s) {
			t.Fatalf("accepted %q with wrong control digits", s)
		}
		if id.Digits() != s {
			t.Fatalf("Digits() = %q, want %q", id.Digits(), s)
		}
		individual := int(s[6]-'0')*100 + int(s[7]-'0')*10 + int(s[8]-'0')
		g, err := Generate(id.BirthDate(), individual, id.Kind(), id.Synthetic())
		if err != nil {
			t.Fatalf("Generate(%v, %d, %v, %v) for %q: %v", id.BirthDate(), individual, id.Kind(), id.Synthetic(), s, err)
		}
		if g.Digits() != s {
			t.Fatalf("Generate(%v, %d, %v, %v) = %q, want %q", id.BirthDate(), individual, id.Kind(), id.Synthetic(), g.Digits(), s)
		}
		if g != id {
			t.Fatalf("Generate() != Parse() for %q", s)
		}
	})
}
