package forms

import (
	"regexp"

	"privacycore/shared/domain"
	"privacycore/shared/domain/nin"
)

// Operator identifies the operator who keyed in a form: the subject (sub)
// of their forms:write token, as the identity provider issued it. It is
// stored on the form and on the history entries the form caused, and shown
// to operators (a form's status), never to the citizen.
type Operator string

var (
	operatorPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@|+=/-]{0,127}$`)
	elevenDigits    = regexp.MustCompile(`^[0-9]{11}$`)
)

// ParseOperator checks a token subject. A subject shaped like a person id
// is refused: person ids are never stored outside the register's keys.
func ParseOperator(sub string) (Operator, error) {
	if sub == "" {
		return "", domain.Errorf(domain.EUnauthorized, "missing_operator_identity", "An operator token must carry the operator's identity (sub).")
	}
	if !operatorPattern.MatchString(sub) || nin.Valid(sub) || elevenDigits.MatchString(sub) {
		return "", domain.Errorf(domain.EUnauthorized, "invalid_operator_identity", "The operator token's identity (sub) is not usable.")
	}
	return Operator(sub), nil
}
