package notices_test

import (
	"errors"
	"strings"
	"testing"

	"privacycore/shared/domain/notices"
)

const (
	kari  = "14838500073"
	ola   = "01879000099"
	child = "05851250095"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr error
		check   func(t *testing.T, n notices.Notice)
	}{
		{"death", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`, nil,
			func(t *testing.T, n notices.Notice) {
				if n.Type != notices.Death || n.Person.Digits() != ola || n.ID != "n1" || n.EventTime.IsZero() {
					t.Errorf("got %+v", n)
				}
			}},
		{"annulment", `{"version":1,"noticeId":"n2","type":"death_annulled","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `","annuls":"n1"}`, nil,
			func(t *testing.T, n notices.Notice) {
				if n.Annuls != "n1" || n.Person.Digits() != ola {
					t.Errorf("got %+v", n)
				}
			}},
		{"parental set", `{"version":1,"noticeId":"n3","type":"parental_responsibility_set","eventTime":"2026-11-20T08:15:00+01:00","parent":"` + kari + `","child":"` + child + `"}`, nil,
			func(t *testing.T, n notices.Notice) {
				if n.Parent.Digits() != kari || n.Child.Digits() != child || n.Child.BirthDate().Year != 2012 {
					t.Errorf("got %+v", n)
				}
			}},
		{"id changed", `{"version":1,"noticeId":"n4","type":"person_id_changed","eventTime":"2026-11-20T08:15:00Z","previous":"57899210052","current":"17899210069"}`, nil, nil},
		{"unknown type", `{"version":1,"noticeId":"n5","type":"marriage","eventTime":"2026-11-20T08:15:00Z","person":"` + kari + `"}`, notices.ErrUnsupported, nil},
		{"version 2", `{"version":2,"noticeId":"n6","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + kari + `"}`, notices.ErrUnsupported, nil},
		{"no version", `{"noticeId":"n6","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + kari + `"}`, notices.ErrUnsupported, nil},
		{"truncated", `{"version":1,"noticeId":"n7","type":"death",`, notices.ErrInvalid, nil},
		{"not an object", `["death"]`, notices.ErrInvalid, nil},
		{"trailing data", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"} {}`, notices.ErrInvalid, nil},
		{"unknown field", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `","name":"Ola"}`, notices.ErrInvalid, nil},
		{"bad control digit", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"14838500074"}`, notices.ErrInvalid, nil},
		{"missing person", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z"}`, notices.ErrInvalid, nil},
		{"second person smuggled in", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `","child":"` + child + `"}`, notices.ErrInvalid, nil},
		{"missing event time", `{"version":1,"noticeId":"n1","type":"death","person":"` + ola + `"}`, notices.ErrInvalid, nil},
		{"bad notice id", `{"version":1,"noticeId":"a b","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`, notices.ErrInvalid, nil},
		{"annulment without reference", `{"version":1,"noticeId":"n2","type":"death_annulled","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`, notices.ErrInvalid, nil},
		{"parent is child", `{"version":1,"noticeId":"n3","type":"parental_responsibility_set","eventTime":"2026-11-20T08:15:00Z","parent":"` + kari + `","child":"` + kari + `"}`, notices.ErrInvalid, nil},
		{"same id twice", `{"version":1,"noticeId":"n4","type":"person_id_changed","eventTime":"2026-11-20T08:15:00Z","previous":"` + kari + `","current":"` + kari + `"}`, notices.ErrInvalid, nil},
		{"too large", `{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `","x":"` + strings.Repeat("a", notices.MaxSize) + `"}`, notices.ErrInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := notices.Parse([]byte(tt.body))
			if tt.wantErr == nil && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("got error %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				for _, id := range []string{kari, ola, child, "14838500074"} {
					if strings.Contains(err.Error(), id) {
						t.Errorf("error text holds a person id: %v", err)
					}
				}
				if !notices.Permanent(err) {
					t.Errorf("parse error not permanent: %v", err)
				}
				return
			}
			if tt.check != nil {
				tt.check(t, n)
			}
		})
	}
}

// FuzzParse checks that no body panics the parser, that errors never quote
// a person id, and that an accepted notice is complete for its type.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"version":1,"noticeId":"n1","type":"death","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `"}`,
		`{"version":1,"noticeId":"n2","type":"death_annulled","eventTime":"2026-11-20T08:15:00Z","person":"` + ola + `","annuls":"n1"}`,
		`{"version":1,"noticeId":"n3","type":"parental_responsibility_set","eventTime":"2026-11-20T08:15:00Z","parent":"` + kari + `","child":"` + child + `"}`,
		`{"version":1,"noticeId":"n4","type":"person_id_changed","eventTime":"2026-11-20T08:15:00Z","previous":"57899210052","current":"17899210069"}`,
		`{"version":2}`, `{`, `null`, `"x"`, ``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := notices.Parse(body)
		if err != nil {
			if !notices.Permanent(err) {
				t.Fatalf("error is neither invalid nor unsupported: %v", err)
			}
			for i := 0; i+11 <= len(err.Error()); i++ {
				if s := err.Error()[i : i+11]; strings.Trim(s, "0123456789") == "" && strings.Contains(string(body), s) {
					t.Fatalf("error quotes an 11-digit run from the input: %v", err)
				}
			}
			return
		}
		if n.ID == "" || n.EventTime.IsZero() {
			t.Fatalf("accepted notice without id or time: %+v", n)
		}
		switch n.Type {
		case notices.Death:
			if n.Person.Digits() == "" {
				t.Fatal("death without person")
			}
		case notices.DeathAnnulled:
			if n.Person.Digits() == "" || n.Annuls == "" {
				t.Fatal("annulment incomplete")
			}
		case notices.ParentalResponsibilitySet, notices.ParentalResponsibilityEnds, notices.FosterCareSet, notices.FosterCareEnded:
			if n.Parent.Digits() == "" || n.Child.Digits() == "" || n.Parent == n.Child {
				t.Fatal("parental notice incomplete")
			}
		case notices.PersonIDChanged:
			if n.Previous.Digits() == "" || n.Current.Digits() == "" || n.Previous == n.Current {
				t.Fatal("id change incomplete")
			}
		default:
			t.Fatalf("accepted unknown type %q", n.Type)
		}
	})
}
