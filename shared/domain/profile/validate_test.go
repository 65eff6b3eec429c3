package profile_test

import (
	"strings"
	"testing"

	"privacycore/shared/domain"
	"privacycore/shared/domain/profile"
)

// reason returns the stable reason of a domain error, "" for nil.
func reason(err error) string {
	if err == nil {
		return ""
	}
	if e, ok := domain.AsError(err); ok {
		return e.Reason
	}
	return "not a domain error: " + err.Error()
}

func TestPhone(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"+4791234567", "+4791234567", ""},
		{"+47 912 34 567", "+4791234567", ""},
		{"+4722334455", "+4722334455", ""}, // landline
		{"+12025550143", "+12025550143", ""},
		{"+46701234567", "+46701234567", ""},
		{"+35312345678901", "+35312345678901", ""},   // 14 digits
		{"+123456789012345", "+123456789012345", ""}, // 15 digits, the E.164 maximum
		{"91234567", "", "invalid_phone"},            // no country code
		{"004791234567", "", "invalid_phone"},        // 00 instead of +
		{"+47912345678", "", "invalid_phone"},        // 9 digits after +47
		{"+479123456", "", "invalid_phone"},          // 7 digits after +47
		{"+4701234567", "", "invalid_phone"},         // Norwegian numbers never start with 0
		{"+4712345678", "", "invalid_phone"},         // ... or 1
		{"+1234567", "", "invalid_phone"},            // 7 digits
		{"+1234567890123456", "", "invalid_phone"},   // 16 digits
		{"+0123456789", "", "invalid_phone"},         // no country code starts with 0
		{"+47-912-34-567", "", "invalid_phone"},      // hyphens
		{"+47 912 34 56a", "", "invalid_phone"},
		{"++4791234567", "", "invalid_phone"},
		{"", "", "invalid_phone"},
		{"+" + strings.Repeat(" ", 40) + "4791234567", "", "invalid_phone"}, // too long to be a number
		{"+４７91234567", "", "invalid_phone"},                                // full-width digits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := profile.Phone(tt.in)
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("Phone(%q) = %q, %q; want %q, %q", tt.in, got, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestEmail(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"kari@example.no", "kari@example.no", ""},
		{"kari.nordmann+helse@Example.NO", "kari.nordmann+helse@example.no", ""},
		{"k@sub.domain.example.com", "k@sub.domain.example.com", ""},
		{"post@xn--rros-gra.no", "post@xn--rros-gra.no", ""}, // Røros in punycode
		{"Kari <kari@example.no>", "", "invalid_email"},      // display name
		{"<kari@example.no>", "", "invalid_email"},
		{"kari@example.no (Kari)", "", "invalid_email"}, // comment
		{`"kari n"@example.no`, "", "invalid_email"},    // quoted local part
		{"kari@localhost", "", "invalid_email"},         // no dot in the domain
		{"kari@example", "", "invalid_email"},
		{"kari@example.n", "", "invalid_email"},   // one-letter top-level domain
		{"kari@example.123", "", "invalid_email"}, // numeric top-level domain
		{"kari@-example.no", "", "invalid_email"}, // label starts with a hyphen
		{"kari@example..no", "", "invalid_email"}, // empty label
		{"kari@[192.0.2.1]", "", "invalid_email"}, // address literal
		{"kari@røros.no", "", "invalid_email"},    // IDN not in punycode
		{"kåri@example.no", "", "invalid_email"},  // non-ASCII local part
		{"kari@@example.no", "", "invalid_email"},
		{"kari", "", "invalid_email"},
		{"@example.no", "", "invalid_email"},
		{"kari@example.no, ola@example.no", "", "invalid_email"}, // a list
		{"kari@exam ple.no", "", "invalid_email"},
		{"kari@example.no\n", "", "invalid_email"},
		{"", "", "invalid_email"},
		{strings.Repeat("a", 65) + "@example.no", "", "invalid_email"}, // local part over 64
		{"a@" + strings.Repeat("b", 250) + ".no", "", "invalid_email"}, // over 254 in all
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := profile.Email(tt.in)
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("Email(%q) = %q, %q; want %q, %q", tt.in, got, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"Ola Nordmann", "Ola Nordmann", ""},
		{"  Åse Ødegård-Æsøy ", "Åse Ødegård-Æsøy", ""},
		{"Máret Sárá", "Máret Sárá", ""},
		{"A", "A", ""},
		{strings.Repeat("ø", 100), strings.Repeat("ø", 100), ""}, // 100 runes, 200 bytes
		{strings.Repeat("ø", 101), "", "invalid_name"},
		{"", "", "invalid_name"},
		{"   ", "", "invalid_name"},
		{"1234", "", "invalid_name"},              // no letter
		{"Ola\nNordmann", "", "invalid_name"},     // line break
		{"Ola\u202eNordmann", "", "invalid_name"}, // bidi override (format character)
		{"Ola\u200bNordmann", "", "invalid_name"}, // zero-width space
		{"Ola\x00", "", "invalid_name"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := profile.Name(tt.in, profile.MaxNameLen, "invalid_name", "bad name")
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("Name(%q) = %q, %q; want %q, %q", tt.in, got, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"plain", "Hører dårlig.", "Hører dårlig.", ""},
		{"line breaks kept, CRLF folded, trimmed", " a\r\nb\n", "a\nb", ""},
		{"empty", "", "", ""},
		{"exactly 500 runes", strings.Repeat("æ", 500), strings.Repeat("æ", 500), ""},
		{"501 runes", strings.Repeat("æ", 501), "", "text_too_long"},
		{"500 runes after trimming", "  " + strings.Repeat("a", 500) + "  ", strings.Repeat("a", 500), ""},
		{"tab", "a\tb", "", "invalid_text"},
		{"NUL", "a\x00b", "", "invalid_text"},
		{"escape sequence", "a\x1b[31mb", "", "invalid_text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := profile.Text(tt.in)
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("Text(%q) = %q, %q; want %q, %q", tt.in, got, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestOrganisationNumber(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"974760673", "974760673", ""}, // Brønnøysundregistrene
		{"983 974 724", "983974724", ""},
		{"974760674", "", "invalid_organisation_number"}, // control digit off by one
		{"97476067", "", "invalid_organisation_number"},
		{"9747606730", "", "invalid_organisation_number"},
		{"97476067a", "", "invalid_organisation_number"},
		{"", "", "invalid_organisation_number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := profile.OrganisationNumber(tt.in)
			if got != tt.want || reason(err) != tt.wantErr {
				t.Errorf("OrganisationNumber(%q) = %q, %q; want %q, %q", tt.in, got, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

func TestLanguage(t *testing.T) {
	for _, tt := range []struct{ in, wantErr string }{
		{"", ""}, {"uk", ""}, {"ar", ""}, {"se", ""}, {"so", ""}, {"zu", ""},
		{"UK", "unknown_language"}, {"ukr", "unknown_language"}, {"xx", "unknown_language"}, {"u", "unknown_language"},
	} {
		if got := reason(profile.Language(tt.in)); got != tt.wantErr {
			t.Errorf("Language(%q) = %q, want %q", tt.in, got, tt.wantErr)
		}
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string
		wantErr string
	}{
		{"sorted without repeats", []string{"messages:read", "appointments:read", "messages:read"}, "[appointments:read messages:read]", ""},
		{"none", nil, "[]", "invalid_scopes"},
		{"too many", strings.Fields(strings.Repeat("a ", 21)), "[]", "invalid_scopes"},
		{"upper case", []string{"Messages"}, "[]", "invalid_scopes"},
		{"starts with a digit", []string{"1read"}, "[]", "invalid_scopes"},
		{"space", []string{"read all"}, "[]", "invalid_scopes"},
		{"65 characters", []string{strings.Repeat("a", 65)}, "[]", "invalid_scopes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := profile.Scopes(tt.in)
			if g := "[" + strings.Join(got, " ") + "]"; g != tt.want || reason(err) != tt.wantErr {
				t.Errorf("Scopes(%q) = %s, %q; want %s, %q", tt.in, g, reason(err), tt.want, tt.wantErr)
			}
		})
	}
}

// FuzzValidators checks that no input panics a validator and that what a
// validator accepts it accepts again unchanged (the stored form is stable).
func FuzzValidators(f *testing.F) {
	for _, s := range []string{"+47 912 34 567", "+12025550143", "kari@Example.NO", "Ola Nordmann", " a\r\nb ", "983 974 724", "\u202e", "a@b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := profile.Phone(s); err == nil {
			if again, err := profile.Phone(p); err != nil || again != p || strings.Contains(p, " ") {
				t.Errorf("Phone accepted %q as %q, which it then reads as %q, %v", s, p, again, err)
			}
		}
		if e, err := profile.Email(s); err == nil {
			if again, err := profile.Email(e); err != nil || again != e {
				t.Errorf("Email accepted %q as %q, which it then reads as %q, %v", s, e, again, err)
			}
		}
		if n, err := profile.Name(s, profile.MaxNameLen, "invalid_name", "bad"); err == nil {
			if again, err := profile.Name(n, profile.MaxNameLen, "invalid_name", "bad"); err != nil || again != n || strings.ContainsAny(n, "\n\r\t") {
				t.Errorf("Name accepted %q as %q, which it then reads as %q, %v", s, n, again, err)
			}
		}
		if x, err := profile.Text(s); err == nil {
			if again, err := profile.Text(x); err != nil || again != x {
				t.Errorf("Text accepted %q as %q, which it then reads as %q, %v", s, x, again, err)
			}
		}
		if o, err := profile.OrganisationNumber(s); err == nil {
			if again, err := profile.OrganisationNumber(o); err != nil || again != o || len(o) != 9 {
				t.Errorf("OrganisationNumber accepted %q as %q, which it then reads as %q, %v", s, o, again, err)
			}
		}
	})
}
