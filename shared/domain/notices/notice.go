// Package notices handles the population register's (Folkeregisteret's)
// notices: death, death annulled, parental responsibility set or ended, and
// a change of person id. It parses the versioned JSON message, applies each
// notice exactly once and knows nothing about SQS or DynamoDB.
package notices

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"

	"privacycore/shared/domain/nin"
)

// Version is the only notice format version this code understands.
const Version = 1

// MaxSize is the largest notice accepted (SQS's own limit is 256 KiB).
const MaxSize = 16 << 10

// Type is the kind of a notice.
type Type string

// The notice types.
const (
	Death                      Type = "death"
	DeathAnnulled              Type = "death_annulled"
	ParentalResponsibilitySet  Type = "parental_responsibility_set"
	ParentalResponsibilityEnds Type = "parental_responsibility_ended"
	PersonIDChanged            Type = "person_id_changed"
	// Foster care gives no access through the portal; it is recorded so a
	// decision can say so (rule foster_parent) instead of "no relation".
	FosterCareSet   Type = "foster_care_set"
	FosterCareEnded Type = "foster_care_ended"
)

// ErrUnsupported marks a notice of an unknown type or version: well formed,
// but not for this code. It must reach the dead-letter queue, never be dropped.
var ErrUnsupported = errors.New("unsupported notice")

// ErrRefused marks a well-formed notice that must not be applied, such as
// an id change that would close a cycle; the error says why.
var ErrRefused = errors.New("notice refused")

// ErrInvalid marks a notice that is malformed or fails validation.
var ErrInvalid = errors.New("invalid notice")

// Notice is one validated register notice. Only the fields of its type are set.
type Notice struct {
	ID        string
	Type      Type
	EventTime time.Time
	Person    nin.ID // death, death_annulled
	Annuls    string // death_annulled: the id of the death notice it annuls
	Parent    nin.ID // parental_responsibility_*, foster_care_* (the foster parent)
	Child     nin.ID // parental_responsibility_*
	Previous  nin.ID // person_id_changed
	Current   nin.ID // person_id_changed
}

// wire is the JSON form. Person ids are strings of 11 digits.
type wire struct {
	Version   int       `json:"version"`
	NoticeID  string    `json:"noticeId"`
	Type      Type      `json:"type"`
	EventTime time.Time `json:"eventTime"`
	Person    *string   `json:"person,omitempty"`
	Annuls    *string   `json:"annuls,omitempty"`
	Parent    *string   `json:"parent,omitempty"`
	Child     *string   `json:"child,omitempty"`
	Previous  *string   `json:"previous,omitempty"`
	Current   *string   `json:"current,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// NoticeID returns the notice id of a message if it has a well-formed one,
// for logging a message that fails to parse.
func NoticeID(body []byte) string {
	var w struct {
		NoticeID string `json:"noticeId"`
	}
	if json.Unmarshal(body, &w) != nil || !idPattern.MatchString(w.NoticeID) {
		return ""
	}
	return w.NoticeID
}

// Parse validates a notice message. Errors wrap ErrUnsupported or
// ErrInvalid and never contain a person id.
func Parse(body []byte) (Notice, error) {
	if len(body) > MaxSize {
		return Notice{}, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxSize)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return Notice{}, fmt.Errorf("%w: not a notice object (%s)", ErrInvalid, jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Notice{}, fmt.Errorf("%w: trailing data after the notice", ErrInvalid)
	}
	if w.Version != Version {
		return Notice{}, fmt.Errorf("%w: version %d (this code reads version %d)", ErrUnsupported, w.Version, Version)
	}
	if !idPattern.MatchString(w.NoticeID) {
		return Notice{}, fmt.Errorf("%w: noticeId must be 1-128 characters of A-Z a-z 0-9 . _ : -", ErrInvalid)
	}
	if w.EventTime.IsZero() {
		return Notice{}, fmt.Errorf("%w: eventTime is required", ErrInvalid)
	}
	n := Notice{ID: w.NoticeID, Type: w.Type, EventTime: w.EventTime}
	var err error
	switch w.Type {
	case Death:
		err = only(w, "person")
		if err == nil {
			n.Person, err = personID("person", w.Person)
		}
	case DeathAnnulled:
		err = only(w, "person", "annuls")
		if err == nil {
			n.Person, err = personID("person", w.Person)
		}
		if err == nil && (w.Annuls == nil || !idPattern.MatchString(*w.Annuls)) {
			err = fmt.Errorf("%w: annuls must name the death notice's id", ErrInvalid)
		}
		if err == nil {
			n.Annuls = *w.Annuls
		}
	case ParentalResponsibilitySet, ParentalResponsibilityEnds, FosterCareSet, FosterCareEnded:
		err = only(w, "parent", "child")
		if err == nil {
			n.Parent, err = personID("parent", w.Parent)
		}
		if err == nil {
			n.Child, err = personID("child", w.Child)
		}
		if err == nil && n.Parent == n.Child {
			err = fmt.Errorf("%w: parent and child are the same person", ErrInvalid)
		}
	case PersonIDChanged:
		err = only(w, "previous", "current")
		if err == nil {
			n.Previous, err = personID("previous", w.Previous)
		}
		if err == nil {
			n.Current, err = personID("current", w.Current)
		}
		if err == nil && n.Previous == n.Current {
			err = fmt.Errorf("%w: previous and current are the same id", ErrInvalid)
		}
	default:
		return Notice{}, fmt.Errorf("%w: type %q", ErrUnsupported, truncate(string(w.Type)))
	}
	if err != nil {
		return Notice{}, err
	}
	return n, nil
}

// only checks that no person field outside allowed is set, so a notice
// cannot smuggle a second person into a type that has one.
func only(w wire, allowed ...string) error {
	fields := map[string]*string{"person": w.Person, "annuls": w.Annuls, "parent": w.Parent, "child": w.Child, "previous": w.Previous, "current": w.Current}
	for name, v := range fields {
		if v == nil {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == name
		}
		if !ok {
			return fmt.Errorf("%w: field %s does not belong to this notice type", ErrInvalid, name)
		}
	}
	return nil
}

func personID(field string, s *string) (nin.ID, error) {
	if s == nil {
		return nin.ID{}, fmt.Errorf("%w: %s is required", ErrInvalid, field)
	}
	id, err := nin.Parse(*s)
	if err != nil {
		return nin.ID{}, fmt.Errorf("%w: %s is not a valid person id", ErrInvalid, field)
	}
	return id, nil
}

// jsonProblem describes a decoding error without quoting the input.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type", truncate(typ.Field))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	default:
		return "unknown field or bad value"
	}
}

// truncate keeps log lines short and masks digit runs that could be ids.
func truncate(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	out := []byte(s)
	for i := range out {
		if out[i] >= '0' && out[i] <= '9' {
			out[i] = '#'
		}
	}
	return string(out)
}
