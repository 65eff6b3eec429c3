package profile

import (
	"slices"
	"strings"

	"privacycore/shared/domain"
)

// NewKin asks to add a next of kin.
type NewKin struct {
	Name     string
	Phone    string
	Email    string // optional
	Relation Relation
	// Closest makes the new next of kin the closest one, in the same
	// change. The first next of kin is always the closest.
	Closest bool
}

// normalize validates n and returns it in stored form.
func (n NewKin) normalize() (NewKin, error) {
	var err error
	if n.Name, err = Name(n.Name, MaxNameLen, "invalid_name", "A next of kin's name must be 1 to 100 printable characters, with at least one letter."); err != nil {
		return NewKin{}, err
	}
	if n.Phone, err = Phone(n.Phone); err != nil {
		return NewKin{}, err
	}
	if n.Email, err = OptionalEmail(n.Email); err != nil {
		return NewKin{}, err
	}
	if !n.Relation.Valid() {
		return NewKin{}, invalid("unknown_relation", "The relation must be one of spouse, partner, parent, child, sibling or other.")
	}
	return n, nil
}

// Find returns the next of kin with the id.
func (k Kin) Find(id string) (NextOfKin, bool) {
	i := slices.IndexFunc(k.Items, func(n NextOfKin) bool { return n.ID == id })
	if i < 0 {
		return NextOfKin{}, false
	}
	return k.Items[i], true
}

// add returns k with n added; the first next of kin, and one added as
// closest, becomes the closest. Items are copied, never shared with k.
func (k Kin) add(n NextOfKin, closest bool) (Kin, error) {
	if len(k.Items) >= MaxNextOfKin {
		return Kin{}, domain.Errorf(domain.EConflict, "too_many_next_of_kin", "You can register at most %d next of kin. Remove one first.", MaxNextOfKin)
	}
	for _, o := range k.Items {
		if o.Phone == n.Phone && strings.EqualFold(o.Name, n.Name) {
			return Kin{}, domain.Errorf(domain.EConflict, "next_of_kin_exists", "This next of kin is already registered.")
		}
	}
	next := Kin{Items: append(slices.Clone(k.Items), n), Closest: k.Closest}
	if closest || next.Closest == "" {
		next.Closest = n.ID
	}
	return next, nil
}

// remove returns k without the next of kin id. The closest can only be
// removed last: otherwise nobody would be closest, and picking a successor
// for the person is not ours to do.
func (k Kin) remove(id string) (Kin, error) {
	if _, ok := k.Find(id); !ok {
		return Kin{}, kinNotFound()
	}
	if id == k.Closest && len(k.Items) > 1 {
		return Kin{}, domain.Errorf(domain.EConflict, "closest_needs_replacement",
			"This is your closest next of kin. Make someone else the closest first, then remove this one.")
	}
	next := Kin{Items: slices.DeleteFunc(slices.Clone(k.Items), func(n NextOfKin) bool { return n.ID == id }), Closest: k.Closest}
	if len(next.Items) == 0 {
		next.Closest = ""
	}
	return next, nil
}

// withClosest returns k with id as the closest next of kin.
func (k Kin) withClosest(id string) (Kin, error) {
	if _, ok := k.Find(id); !ok {
		return Kin{}, kinNotFound()
	}
	return Kin{Items: slices.Clone(k.Items), Closest: id}, nil
}

func kinNotFound() error {
	return domain.Errorf(domain.ENotFound, "next_of_kin_not_found", "You have no next of kin with this id.")
}
