package nin

import (
	"errors"
	"testing"
	"time"
)

func TestRules(t *testing.T) {
	today := Date{Year: 2026, Month: time.November, Day: 23}
	real := ForTest(Date{Year: 1985, Month: time.March, Day: 14}, false)
	synth := ForTest(Date{Year: 1985, Month: time.March, Day: 14}, true)
	todayBorn := ForTest(today, false)
	tomorrow := ForTest(Date{Year: 2026, Month: time.November, Day: 24}, false)
	nextYear := ForTest(Date{Year: 2027, Month: time.January, Day: 1}, true)
	tests := []struct {
		name  string
		rules Rules
		id    ID
		want  error
	}{
		{"real id, strict", Rules{Today: func() Date { return today }}, real, nil},
		{"synthetic refused by default", Rules{Today: func() Date { return today }}, synth, ErrSynthetic},
		{"synthetic allowed", Rules{AllowSynthetic: true, Today: func() Date { return today }}, synth, nil},
		{"born today", Rules{Today: func() Date { return today }}, todayBorn, nil},
		{"born tomorrow", Rules{Today: func() Date { return today }}, tomorrow, ErrFutureBirth},
		{"synthetic born next year", Rules{AllowSynthetic: true, Today: func() Date { return today }}, nextYear, ErrFutureBirth},
		{"no clock: no birth check", Rules{}, tomorrow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.rules.Parse(tt.id.Digits())
			if !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if err != nil && contains(err.Error(), tt.id.Digits()) {
				t.Errorf("error echoes the id")
			}
		})
	}
	if _, err := (Rules{AllowSynthetic: true}).Parse("12345678901"); err == nil {
		t.Error("rules accepted a malformed id")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
