package profile

import (
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"privacycore/shared/domain"
)

// Validation never puts the rejected value in its message: the client has
// it, and a message may end up in a log.

var (
	// e164 is an international number: + and 8 to 15 digits, no leading 0.
	e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)
	// norwegian is +47 and an 8-digit subscriber number (which never starts with 0 or 1).
	norwegian = regexp.MustCompile(`^\+47[2-9][0-9]{7}$`)
	// dnsLabel is one label of an e-mail domain (ASCII; IDNs in punycode).
	dnsLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	topLabel   = regexp.MustCompile(`^([a-z]{2,63}|xn--[a-z0-9-]{1,59})$`)
	clientID   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)
	scopeToken = regexp.MustCompile(`^[a-z][a-z0-9_.:/-]{0,63}$`)
)

func invalid(reason, msg string) error { return domain.Errorf(domain.EInvalid, reason, "%s", msg) }

// Phone returns a phone number in E.164 form (spaces removed): a Norwegian
// number is +47 and 8 digits, any other an international number of 8 to 15
// digits after the +.
func Phone(s string) (string, error) {
	bad := invalid("invalid_phone", "A phone number must be in international form: +47 and 8 digits, or + and 8 to 15 digits.")
	if len(s) > 32 {
		return "", bad
	}
	p := strings.ReplaceAll(s, " ", "")
	if !e164.MatchString(p) || (strings.HasPrefix(p, "+47") && !norwegian.MatchString(p)) {
		return "", bad
	}
	return p, nil
}

// Email returns a plain e-mail address (no display name, no comments, no
// quoted local part) with its domain in lower case.
func Email(s string) (string, error) {
	bad := invalid("invalid_email", "The e-mail address is not valid. Give a plain address such as name@example.no.")
	if s == "" || len(s) > 254 {
		return "", bad
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", bad
	}
	at := strings.LastIndexByte(s, '@')
	local, host := s[:at], strings.ToLower(s[at+1:])
	if local == "" || len(local) > 64 || strings.ContainsFunc(local, func(r rune) bool { return r > unicode.MaxASCII }) {
		return "", bad
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 || !topLabel.MatchString(labels[len(labels)-1]) {
		return "", bad
	}
	for _, l := range labels {
		if !dnsLabel.MatchString(l) {
			return "", bad
		}
	}
	return local + "@" + host, nil
}

// OptionalEmail is Email, except that the empty string is allowed.
func OptionalEmail(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	return Email(s)
}

// Name returns a person's, employer's or app's name, trimmed: 1 to limit
// printable characters (no control or format characters, no line breaks),
// at least one of them a letter.
func Name(s string, limit int, reason, msg string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if n == 0 || n > limit || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) ||
		!strings.ContainsFunc(s, unicode.IsLetter) {
		return "", invalid(reason, msg)
	}
	return s, nil
}

// Text returns free text, trimmed, with line breaks as "\n": at most
// MaxTextLen characters, printable apart from line breaks.
func Text(s string) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	if utf8.RuneCountInString(s) > MaxTextLen {
		return "", invalid("text_too_long", "The text can be at most 500 characters.")
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }) {
		return "", invalid("invalid_text", "The text has characters that cannot be stored (control characters).")
	}
	return s, nil
}

// OrganisationNumber returns a Norwegian organisation number (9 digits,
// spaces removed) whose mod-11 control digit is right.
func OrganisationNumber(s string) (string, error) {
	bad := invalid("invalid_organisation_number", "An organisation number has 9 digits and a valid control digit.")
	d := strings.ReplaceAll(s, " ", "")
	if len(d) != 9 || strings.ContainsFunc(d, func(r rune) bool { return r < '0' || r > '9' }) {
		return "", bad
	}
	sum := 0
	for i, w := range []int{3, 2, 7, 6, 5, 4, 3, 2} {
		sum += int(d[i]-'0') * w
	}
	c := 11 - sum%11
	if c == 11 {
		c = 0
	}
	if c == 10 || c != int(d[8]-'0') {
		return "", bad
	}
	return d, nil
}

// Language checks an ISO 639-1 code, in lower case; "" means none.
func Language(code string) error {
	if code != "" && !iso6391[code] {
		return invalid("unknown_language", "The interpreter language must be an ISO 639-1 code in lower case, such as \"ar\" or \"uk\".")
	}
	return nil
}

// ClientID checks an external app's client id.
func ClientID(s string) error {
	if !clientID.MatchString(s) {
		return invalid("invalid_client_id", "The client id must be 1 to 128 of A-Z a-z 0-9 . _ : -.")
	}
	return nil
}

// Scopes returns the scopes sorted and without repeats: 1 to MaxScopes
// tokens of a-z 0-9 _ . : / - starting with a letter.
func Scopes(in []string) ([]string, error) {
	bad := invalid("invalid_scopes", "Give 1 to 20 scopes, each 1 to 64 of a-z 0-9 _ . : / - starting with a letter.")
	if len(in) == 0 || len(in) > MaxScopes {
		return nil, bad
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !scopeToken.MatchString(s) {
			return nil, bad
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out, nil
}

// ValidID reports whether id has the shape of the ids this package hands
// out (128 random bits in hex). Anything else names nothing.
func ValidID(id string) bool { return domain.ValidID(id) }
