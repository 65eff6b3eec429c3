package persontjenesten_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"privacycore/shared/domain/registerfeed"
	"privacycore/shared/registers/persontjenesten"
)

// answer is a Doer that answers every request with one body.
type answer []byte

func (a answer) Do(_ context.Context, _ *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(a)), Header: http.Header{}}, nil
}

var elevenDigits = regexp.MustCompile(`[0-9]{11}`)

// FuzzPersons feeds arbitrary answers to the bulk look-up and translates
// whatever comes out: nothing panics, and no error quotes a person id.
func FuzzPersons(f *testing.F) {
	f.Add([]byte(`[{"id":"p1","norwegianIdentificationNumber":[{"identificationNumber":"01879000099","isValid":true,"status":"InUse"}],"death":{"isValid":true,"deceasedDate":"2026-11-01T00:00:00Z"}}]`))
	f.Add([]byte(`[{"id":"p1","parentalResponsibility":[{"responsible":"14838500073","subjectOfResponsibility":"05851250095","isValid":false,"validTo":"2026-01-01T00:00:00Z"}],"norwegianIdentificationNumber":[{"identificationNumber":"05851250095"}]}]`))
	f.Add([]byte(`[{"id":"p1","norwegianIdentificationNumber":[{"identificationNumber":"01879000098","isValid":true}]}]`))
	f.Add([]byte(`{"not":"an array"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c := persontjenesten.New("http://register.invalid", answer(body))
		ps, err := c.Persons(context.Background(), []string{"p1"}, registerfeed.FeedParts, true)
		if err != nil {
			return
		}
		now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		for _, p := range ps {
			for _, typ := range registerfeed.EventTypes {
				_, err := registerfeed.Translate(registerfeed.Event{Seq: 1, RawSeq: "1", PersonID: p.ID, Type: typ}, &p, now)
				if err != nil && elevenDigits.MatchString(err.Error()) {
					t.Fatalf("error quotes a person id: %v", err)
				}
			}
		}
	})
}
