package notices

import (
	"encoding/json"
	"fmt"
	"time"
)

// Encode renders n as a message of the current version, the form Parse
// reads: what the register feed sends to the notices queue. It refuses a
// notice Parse would refuse, so nothing unreadable is ever sent.
func Encode(n Notice) ([]byte, error) {
	w := wire{Version: Version, NoticeID: n.ID, Type: n.Type, EventTime: n.EventTime.UTC().Truncate(time.Second)}
	digits := func(set bool, d string) *string {
		if !set {
			return nil
		}
		return &d
	}
	switch n.Type {
	case Death:
		w.Person = digits(true, n.Person.Digits())
	case DeathAnnulled:
		w.Person, w.Annuls = digits(true, n.Person.Digits()), digits(true, n.Annuls)
	case ParentalResponsibilitySet, ParentalResponsibilityEnds, FosterCareSet, FosterCareEnded:
		w.Parent, w.Child = digits(true, n.Parent.Digits()), digits(true, n.Child.Digits())
	case PersonIDChanged:
		w.Previous, w.Current = digits(true, n.Previous.Digits()), digits(true, n.Current.Digits())
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode notice: %w", err)
	}
	if _, err := Parse(b); err != nil {
		return nil, fmt.Errorf("encode notice: %w", err)
	}
	return b, nil
}
