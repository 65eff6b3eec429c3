package clock

import (
	"testing"
	"time"

	"privacycore/shared/domain/nin"
)

func date(y int, m time.Month, d int) nin.Date { return nin.Date{Year: y, Month: m, Day: d} }

// utc parses an RFC 3339 time, failing the test if it is malformed.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad test time %q: %v", s, err)
	}
	return tm
}

func TestOslo(t *testing.T) {
	tests := []struct {
		name   string
		at     string
		offset int // hours east of UTC
	}{
		{"winter", "2026-01-15T12:00:00Z", 1},
		{"summer", "2026-07-15T12:00:00Z", 2},
		{"just before spring forward", "2026-03-29T00:59:59Z", 1},
		{"spring forward", "2026-03-29T01:00:00Z", 2},
		{"just before fall back", "2026-10-25T00:59:59Z", 2},
		{"fall back", "2026-10-25T01:00:00Z", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := utc(t, tt.at).In(Oslo).Zone()
			if want := tt.offset * 3600; got != want {
				t.Errorf("offset = %ds, want %ds", got, want)
			}
		})
	}
	if got, want := Oslo.String(), "Europe/Oslo"; got != want {
		t.Errorf("Oslo.String() = %q, want %q", got, want)
	}
}

func TestDateOf(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want nin.Date
	}{
		{"winter, before Oslo midnight", utc(t, "2026-01-14T22:59:59Z"), date(2026, time.January, 14)},
		{"winter, after Oslo midnight", utc(t, "2026-01-14T23:30:00Z"), date(2026, time.January, 15)},
		{"summer, before Oslo midnight", utc(t, "2026-06-14T21:59:59Z"), date(2026, time.June, 14)},
		{"summer, after Oslo midnight", utc(t, "2026-06-14T22:30:00Z"), date(2026, time.June, 15)},
		{"mid March, UTC+1", utc(t, "2026-03-14T23:30:00Z"), date(2026, time.March, 15)},
		{"New York evening", time.Date(2026, time.June, 14, 18, 30, 0, 0, newYork), date(2026, time.June, 15)},
		{"Oslo midnight exactly", time.Date(2026, time.June, 15, 0, 0, 0, 0, Oslo), date(2026, time.June, 15)},
		{"new year", utc(t, "2025-12-31T23:00:00Z"), date(2026, time.January, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DateOf(tt.at); got != tt.want {
				t.Errorf("DateOf(%v) = %v, want %v", tt.at, got, tt.want)
			}
		})
	}
}

func TestBirthday(t *testing.T) {
	tests := []struct {
		name  string
		birth nin.Date
		year  int
		want  nin.Date
	}{
		{"ordinary", date(2010, time.June, 15), 2026, date(2026, time.June, 15)},
		{"28 February", date(2011, time.February, 28), 2026, date(2026, time.February, 28)},
		{"1 March", date(2011, time.March, 1), 2028, date(2028, time.March, 1)},
		{"29 February in leap year", date(2012, time.February, 29), 2028, date(2028, time.February, 29)},
		{"29 February in non-leap year", date(2012, time.February, 29), 2026, date(2026, time.March, 1)},
		{"29 February in 2000", date(1996, time.February, 29), 2000, date(2000, time.February, 29)},
		{"29 February in 2100", date(1996, time.February, 29), 2100, date(2100, time.March, 1)},
		{"year of birth", date(2012, time.February, 29), 2012, date(2012, time.February, 29)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Birthday(tt.birth, tt.year); got != tt.want {
				t.Errorf("Birthday(%v, %d) = %v, want %v", tt.birth, tt.year, got, tt.want)
			}
		})
	}
}

func TestAddYears(t *testing.T) {
	tests := []struct {
		name string
		d    nin.Date
		n    int
		want nin.Date
	}{
		{"zero", date(2010, time.June, 15), 0, date(2010, time.June, 15)},
		{"sixteen", date(2010, time.June, 15), 16, date(2026, time.June, 15)},
		{"negative", date(2010, time.June, 15), -10, date(2000, time.June, 15)},
		{"29 February plus one", date(2012, time.February, 29), 1, date(2013, time.March, 1)},
		{"29 February plus four", date(2012, time.February, 29), 4, date(2016, time.February, 29)},
		{"29 February 2000 plus 100", date(2000, time.February, 29), 100, date(2100, time.March, 1)},
		{"29 February 2000 plus 400", date(2000, time.February, 29), 400, date(2400, time.February, 29)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AddYears(tt.d, tt.n); got != tt.want {
				t.Errorf("AddYears(%v, %d) = %v, want %v", tt.d, tt.n, got, tt.want)
			}
		})
	}
}

func TestAge(t *testing.T) {
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	noon := func(y int, m time.Month, d int) time.Time {
		return time.Date(y, m, d, 12, 0, 0, 0, Oslo)
	}
	tests := []struct {
		name  string
		birth nin.Date
		at    time.Time
		want  int
	}{
		// Birthday relative to the day.
		{"birthday yesterday", date(2010, time.June, 15), noon(2026, time.June, 16), 16},
		{"birthday today", date(2010, time.June, 15), noon(2026, time.June, 15), 16},
		{"birthday tomorrow", date(2010, time.June, 15), noon(2026, time.June, 14), 15},
		{"day of birth", date(2026, time.June, 15), noon(2026, time.June, 15), 0},
		{"day before first birthday", date(2025, time.June, 15), noon(2026, time.June, 14), 0},
		{"first birthday", date(2025, time.June, 15), noon(2026, time.June, 15), 1},
		{"later month", date(2010, time.December, 1), noon(2026, time.June, 15), 15},
		{"earlier month", date(2010, time.January, 31), noon(2026, time.June, 15), 16},
		{"day before birth", date(2026, time.June, 15), noon(2026, time.June, 14), -1},

		// Oslo midnight versus UTC midnight.
		{"summer, 23:59 in Oslo", date(2010, time.June, 15), utc(t, "2026-06-14T21:59:59Z"), 15},
		{"summer, 00:30 in Oslo, 22:30 UTC", date(2010, time.June, 15), utc(t, "2026-06-14T22:30:00Z"), 16},
		{"winter, 23:59 in Oslo", date(2014, time.January, 15), utc(t, "2026-01-14T22:59:59Z"), 11},
		{"winter, 00:30 in Oslo, 23:30 UTC", date(2014, time.January, 15), utc(t, "2026-01-14T23:30:00Z"), 12},
		{"March, 00:30 in Oslo", date(2011, time.March, 15), utc(t, "2026-03-14T23:30:00Z"), 15},
		{"birthday over in Oslo, not in UTC", date(2010, time.June, 15), utc(t, "2026-06-15T22:30:00Z"), 16},
		{"New York evening is next day in Oslo", date(2010, time.June, 15), time.Date(2026, time.June, 14, 18, 30, 0, 0, newYork), 16},

		// 29 February births.
		{"leap-day birth, 28 Feb non-leap year", date(2012, time.February, 29), noon(2027, time.February, 28), 14},
		{"leap-day birth, 1 Mar non-leap year", date(2012, time.February, 29), noon(2027, time.March, 1), 15},
		{"leap-day birth, 28 Feb non-leap year, 23:59", date(2012, time.February, 29), utc(t, "2027-02-28T22:59:59Z"), 14},
		{"leap-day birth, 1 Mar non-leap year, 00:00", date(2012, time.February, 29), utc(t, "2027-02-28T23:00:00Z"), 15},
		{"leap-day birth, 28 Feb leap year", date(2012, time.February, 29), noon(2028, time.February, 28), 15},
		{"leap-day birth, 29 Feb leap year", date(2012, time.February, 29), noon(2028, time.February, 29), 16},
		{"leap-day birth, 1 Mar leap year", date(2012, time.February, 29), noon(2028, time.March, 1), 16},
		{"leap-day birth, 2100 is not a leap year", date(2000, time.February, 29), noon(2100, time.February, 28), 99},
		{"leap-day birth, 1 Mar 2100", date(2000, time.February, 29), noon(2100, time.March, 1), 100},
		{"28 Feb birth in leap year", date(2011, time.February, 28), noon(2028, time.February, 28), 17},
		{"1 Mar birth, 29 Feb leap year", date(2011, time.March, 1), noon(2028, time.February, 29), 16},

		// Age limits: the instant a child turns 12 and 16 in Oslo.
		{"11 at 23:59:59", date(2014, time.September, 1), utc(t, "2026-08-31T21:59:59Z"), 11},
		{"12 at midnight", date(2014, time.September, 1), utc(t, "2026-08-31T22:00:00Z"), 12},
		{"15 at 23:59:59", date(2010, time.September, 1), utc(t, "2026-08-31T21:59:59Z"), 15},
		{"16 at midnight", date(2010, time.September, 1), utc(t, "2026-08-31T22:00:00Z"), 16},
		{"11 in winter", date(2014, time.December, 1), utc(t, "2026-11-30T22:59:59Z"), 11},
		{"12 in winter", date(2014, time.December, 1), utc(t, "2026-11-30T23:00:00Z"), 12},

		// Daylight saving time: 29 March 2026 02:00 CET becomes 03:00 CEST,
		// and 25 October 2026 03:00 CEST becomes 02:00 CET.
		{"spring, eve of DST day (UTC+1)", date(2010, time.March, 29), utc(t, "2026-03-28T22:59:59Z"), 15},
		{"spring, DST day starts (UTC+1)", date(2010, time.March, 29), utc(t, "2026-03-28T23:00:00Z"), 16},
		{"spring, DST day, after the switch", date(2010, time.March, 29), utc(t, "2026-03-29T01:00:00Z"), 16},
		{"spring, end of DST day (UTC+2)", date(2010, time.March, 30), utc(t, "2026-03-29T21:59:59Z"), 15},
		{"spring, day after DST day (UTC+2)", date(2010, time.March, 30), utc(t, "2026-03-29T22:00:00Z"), 16},
		{"autumn, eve of DST day (UTC+2)", date(2010, time.October, 25), utc(t, "2026-10-24T21:59:59Z"), 15},
		{"autumn, DST day starts (UTC+2)", date(2010, time.October, 25), utc(t, "2026-10-24T22:00:00Z"), 16},
		{"autumn, repeated hour, first pass", date(2010, time.October, 26), utc(t, "2026-10-25T00:30:00Z"), 15},
		{"autumn, repeated hour, second pass", date(2010, time.October, 26), utc(t, "2026-10-25T01:30:00Z"), 15},
		{"autumn, end of DST day (UTC+1)", date(2010, time.October, 26), utc(t, "2026-10-25T22:59:59Z"), 15},
		{"autumn, day after DST day (UTC+1)", date(2010, time.October, 26), utc(t, "2026-10-25T23:00:00Z"), 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Age(tt.birth, tt.at); got != tt.want {
				t.Errorf("Age(%v, %v) = %d, want %d", tt.birth, tt.at, got, tt.want)
			}
		})
	}
}

// TestAgeMatchesAddYears checks, for every day over several years, that Age
// goes up by one exactly on the date AddYears gives.
func TestAgeMatchesAddYears(t *testing.T) {
	births := []nin.Date{
		date(2012, time.February, 29),
		date(2011, time.February, 28),
		date(2011, time.March, 1),
		date(2010, time.December, 31),
		date(2010, time.January, 1),
		date(2010, time.October, 25),
	}
	for _, birth := range births {
		t.Run(birth.String(), func(t *testing.T) {
			start := time.Date(birth.Year, birth.Month, birth.Day, 12, 0, 0, 0, Oslo)
			prev := 0
			for day := start; day.Year() < birth.Year+17; day = day.AddDate(0, 0, 1) {
				got := Age(birth, day)
				switch {
				case got == prev:
				case got == prev+1:
					if d, want := DateOf(day), AddYears(birth, got); d != want {
						t.Fatalf("turned %d on %v, want %v", got, d, want)
					}
				default:
					t.Fatalf("Age(%v, %v) = %d after %d", birth, day, got, prev)
				}
				prev = got
			}
			if prev != 16 {
				t.Errorf("final age = %d, want 16", prev)
			}
		})
	}
}
