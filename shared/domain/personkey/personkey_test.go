package personkey_test

import (
	"regexp"
	"strings"
	"testing"

	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
)

func TestKey(t *testing.T) {
	a, _ := nin.Parse("14838500073")
	b, _ := nin.Parse("01879000099")
	k1, err := personkey.New([]byte(personkey.DevSecret))
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := personkey.New([]byte(strings.Repeat("x", 32)))
	hex64 := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if got := k1.Key(a); !hex64.MatchString(string(got)) {
		t.Errorf("key %q is not 64 hex characters", got)
	}
	if first, again := k1.Key(a), k1.Key(a); first != again {
		t.Error("same id and secret gave different keys")
	}
	if k1.Key(a) == k1.Key(b) {
		t.Error("different ids gave the same key")
	}
	if k1.Key(a) == k2.Key(a) {
		t.Error("different secrets gave the same key")
	}
	if strings.Contains(string(k1.Key(a)), a.Digits()) {
		t.Error("key contains the id")
	}
	// A known answer (computed independently with Python's hmac module) pins
	// the derivation: changing it would orphan every stored item.
	if got, want := string(k1.Key(a)), "fedc5ab2375dd84542d047df4b65ac20088d31cab21d578275188da74eafe51f"; got != want {
		t.Errorf("Key: got %s, want %s", got, want)
	}
}

func TestNewRejectsShortSecrets(t *testing.T) {
	for _, n := range []int{0, 1, 31} {
		if _, err := personkey.New([]byte(strings.Repeat("s", n))); err == nil {
			t.Errorf("secret of %d bytes accepted, want error", n)
		}
	}
	if _, err := personkey.New([]byte(strings.Repeat("s", 32))); err != nil {
		t.Errorf("32-byte secret refused: %v", err)
	}
}

func TestParseRef(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	id, _ := nin.Parse("14838500073")
	valid := string(keys.Key(id))
	for _, tt := range []struct {
		ref string
		ok  bool
	}{
		{valid, true},
		{strings.ToUpper(valid), false},
		{valid[:63], false},
		{valid + "0", false},
		{"", false},
		{strings.Repeat("g", 64), false},
	} {
		k, ok := personkey.ParseRef(tt.ref)
		if ok != tt.ok || (ok && string(k) != tt.ref) {
			t.Errorf("ParseRef(%q) = %q, %v; want ok %v", tt.ref, k, ok, tt.ok)
		}
	}
}
