// Package clock computes civil dates and ages in Norwegian time
// (Europe/Oslo). It reads no clock itself: code that needs the time is given
// a Now func() time.Time (time.Now in production, a fixed or movable clock in
// tests) and passes the instant in.
//
// The time zone database is embedded in the binary (time/tzdata), so the
// results do not depend on the zone files installed on the host.
//
// # Leap-day birthdays
//
// A person born on 29 February turns a year older on 1 March in years that
// have no 29 February. They have not lived a full year until 28 February has
// ended, and the rule never makes anyone older early, which is the safe
// direction for age limits such as the age of consent. Birthday, AddYears and
// Age all follow this rule.
package clock

import (
	"time"
	// Embed the time zone database so that Oslo loads everywhere,
	// including minimal container images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"privacycore/shared/domain/nin"
)

// Oslo is the Europe/Oslo time zone, in which all civil dates are computed.
var Oslo = mustLoad("Europe/Oslo")

func mustLoad(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		// Cannot happen: the zone database is embedded.
		panic("clock: " + err.Error())
	}
	return loc
}

// DateOf returns the civil date of t in Oslo.
func DateOf(t time.Time) nin.Date {
	y, m, d := t.In(Oslo).Date()
	return nin.Date{Year: y, Month: m, Day: d}
}

// Birthday returns the date in the given year on which a person born on
// birth turns a year older. For a 29 February birth in a year that is not a
// leap year this is 1 March; see the package documentation.
func Birthday(birth nin.Date, year int) nin.Date {
	if birth.Month == time.February && birth.Day == 29 && !isLeap(year) {
		return nin.Date{Year: year, Month: time.March, Day: 1}
	}
	return nin.Date{Year: year, Month: birth.Month, Day: birth.Day}
}

// AddYears returns the date of the n-th birthday of a person born on d, that
// is, the date on which they turn n years old. It is Birthday(d, d.Year+n).
func AddYears(d nin.Date, n int) nin.Date {
	return Birthday(d, d.Year+n)
}

// Age returns the age in whole years, on the civil date of at in Oslo, of a
// person born on birth. The time zone of at does not matter: 2026-03-14
// 23:30 UTC is already 15 March in Oslo. A person is a year older from the
// start of their birthday (see Birthday). Age is negative if at is before
// birth.
func Age(birth nin.Date, at time.Time) int {
	today := DateOf(at)
	age := today.Year - birth.Year
	if before(today, Birthday(birth, today.Year)) {
		age--
	}
	return age
}

// before reports whether a is earlier than b.
func before(a, b nin.Date) bool {
	if a.Year != b.Year {
		return a.Year < b.Year
	}
	if a.Month != b.Month {
		return a.Month < b.Month
	}
	return a.Day < b.Day
}

func isLeap(year int) bool {
	return year%4 == 0 && (year%100 != 0 || year%400 == 0)
}

// Today returns a function giving the civil date in Oslo of now(), as the
// person-id rules (nin.Rules.Today) take it.
func Today(now func() time.Time) func() nin.Date {
	return func() nin.Date { return DateOf(now()) }
}
