package access_test

import (
	"fmt"
	"testing"
	"time"

	"privacycore/shared/domain/access"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
)

func svc(t testing.TB, id string) access.Service {
	t.Helper()
	s, ok := access.Lookup(id)
	if !ok {
		t.Fatalf("no service %q", id)
	}
	return s
}

func active(l consent.Level) consent.State {
	return consent.State{Status: consent.StatusActive, Level: l}
}

func oslo(s string) time.Time {
	loc, _ := time.LoadLocation("Europe/Oslo")
	t, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		panic(err)
	}
	return t
}

func TestDecideSelf(t *testing.T) {
	adult := nin.Date{Year: 1985, Month: 3, Day: 14}
	now := oslo("2026-11-23 12:00")
	tests := []struct {
		name    string
		service string
		person  access.Person
		want    access.Rule
	}{
		{"basic service at basic", "messages", access.Person{Birth: adult, Consent: active(consent.Basic)}, access.Allowed},
		{"patient record at basic", "patient_record", access.Person{Birth: adult, Consent: active(consent.Basic)}, access.RuleConsentLevelTooLow},
		{"patient record at basic+", "patient_record", access.Person{Birth: adult, Consent: active(consent.BasicPlus)}, access.Allowed},
		{"appointments at basic+", "appointments", access.Person{Birth: adult, Consent: active(consent.BasicPlus)}, access.RuleConsentLevelTooLow},
		{"appointments at full", "appointments", access.Person{Birth: adult, Consent: active(consent.Full)}, access.Allowed},
		{"patient travel without its consent", "patient_travel", access.Person{Birth: adult, Consent: active(consent.Full)}, access.RulePatientTravelConsent},
		{"patient travel with its consent", "patient_travel", access.Person{Birth: adult, Consent: consent.State{Status: consent.StatusActive, Level: consent.Full, PatientTravel: true}}, access.Allowed},
		{"never consented", "messages", access.Person{Birth: adult, Consent: consent.State{Status: consent.StatusNone}}, access.RuleNoConsent},
		{"consent withdrawn", "messages", access.Person{Birth: adult, Consent: consent.State{Status: consent.StatusWithdrawn}}, access.RuleNoConsent},
		{"emergency block", "messages", access.Person{Birth: adult, Consent: active(consent.Full), Settings: access.Settings{EmergencyBlock: true}}, access.RuleEmergencyBlock},
		{"patient record access removed", "patient_record", access.Person{Birth: adult, Consent: active(consent.Full), Settings: access.Settings{PatientRecordRemoved: true}}, access.RulePatientRecordRemoved},
		{"record removal leaves other services", "appointments", access.Person{Birth: adult, Consent: active(consent.Full), Settings: access.Settings{PatientRecordRemoved: true}}, access.Allowed},
		{"SCR access removed", "summary_care_record", access.Person{Birth: adult, Consent: active(consent.Full), Settings: access.Settings{SCRAccessRemoved: true}}, access.RuleSummaryCareUnavailable},
		{"SCR opted out", "critical_info", access.Person{Birth: adult, Consent: active(consent.Full), Settings: access.Settings{SCROptedOut: true}}, access.RuleSummaryCareUnavailable},
		{"deceased", "messages", access.Person{Birth: adult, Consent: active(consent.Full), Deceased: true}, access.RuleDeceased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := access.Decide(access.Facts{Service: svc(t, tt.service), Self: true, Subject: tt.person, Now: now})
			if got.Rule != tt.want || got.Allowed != (tt.want == access.Allowed) || got.Role != access.RoleSelf {
				t.Errorf("got %+v, want rule %s", got, tt.want)
			}
		})
	}
}

func TestDecideParentByAge(t *testing.T) {
	child := func(y, m, d int) access.Person {
		return access.Person{Birth: nin.Date{Year: y, Month: time.Month(m), Day: d}, Consent: consent.State{Status: consent.StatusNone}}
	}
	tests := []struct {
		name    string
		service string
		child   access.Person
		now     time.Time
		want    access.Rule
	}{
		// Around the 12th birthday (born 2014-06-15).
		{"11, day before 12th birthday: full child set", "appointments", child(2014, 6, 15), oslo("2026-06-14 23:59"), access.Allowed},
		{"12 on the birthday: restricted", "appointments", child(2014, 6, 15), oslo("2026-06-15 00:00"), access.RuleChildOver12Restricted},
		{"12: restricted set still allowed", "messages", child(2014, 6, 15), oslo("2026-06-15 00:00"), access.Allowed},
		{"12: prescriptions view allowed", "medicines", child(2014, 6, 15), oslo("2026-06-15 08:00"), access.Allowed},
		{"11: not a child service", "tools", child(2014, 6, 15), oslo("2026-06-14 08:00"), access.RuleNotForChildren},
		{"13: not a child service", "patient_travel", child(2013, 1, 1), oslo("2026-06-14 08:00"), access.RuleNotForChildren},
		// Midnight in Oslo is 22:00 UTC the day before in summer: already the birthday.
		{"12th birthday begins at Oslo midnight (UTC still the day before)", "appointments", child(2014, 6, 15), time.Date(2026, 6, 14, 22, 30, 0, 0, time.UTC), access.RuleChildOver12Restricted},
		{"one minute before Oslo midnight", "appointments", child(2014, 6, 15), time.Date(2026, 6, 14, 21, 59, 0, 0, time.UTC), access.Allowed},
		// Around the 16th birthday (born 2010-11-23).
		{"15, day before 16th birthday", "messages", child(2010, 11, 23), oslo("2026-11-22 23:59"), access.Allowed},
		{"16 on the birthday: parents' access ended", "messages", child(2010, 11, 23), oslo("2026-11-23 00:00"), access.RuleParentAccessEnded16},
		{"16th birthday in winter: Oslo midnight is 23:00 UTC", "messages", child(2010, 11, 23), time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC), access.RuleParentAccessEnded16},
		{"still 15 at 22:59 UTC", "messages", child(2010, 11, 23), time.Date(2026, 11, 22, 22, 59, 0, 0, time.UTC), access.Allowed},
		// 29 February births reach the next age on 1 March in common years.
		{"born 29 Feb 2014: still 11 on 28 Feb 2026", "appointments", child(2014, 2, 29), oslo("2026-02-28 12:00"), access.Allowed},
		{"born 29 Feb 2014: 12 on 1 Mar 2026", "appointments", child(2014, 2, 29), oslo("2026-03-01 00:00"), access.RuleChildOver12Restricted},
		{"born 29 Feb 2012: 16 on 29 Feb 2028 (leap year)", "messages", child(2012, 2, 29), oslo("2028-02-29 00:00"), access.RuleParentAccessEnded16},
		{"born 29 Feb 2012: 15 on 28 Feb 2028", "messages", child(2012, 2, 29), oslo("2028-02-28 23:59"), access.Allowed},
		// The child's own settings.
		{"child blocked by a parent", "messages", access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}, Settings: access.Settings{EmergencyBlock: true}}, oslo("2026-06-01 12:00"), access.RuleEmergencyBlock},
		{"child's consent withdrawn on paper", "messages", access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}, Consent: consent.State{Status: consent.StatusWithdrawn}}, oslo("2026-06-01 12:00"), access.RuleNoConsent},
		{"child's patient record access removed", "patient_record", access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}, Settings: access.Settings{PatientRecordRemoved: true}}, oslo("2026-06-01 12:00"), access.RulePatientRecordRemoved},
		{"deceased child", "messages", access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}, Deceased: true}, oslo("2026-06-01 12:00"), access.RuleDeceased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := access.Decide(access.Facts{Service: svc(t, tt.service), Subject: tt.child, Link: &access.Link{}, Now: tt.now})
			if got.Rule != tt.want || got.Allowed != (tt.want == access.Allowed) || got.Role != access.RoleParent {
				t.Errorf("got %+v, want rule %s", got, tt.want)
			}
		})
	}
}

func TestDecideAttorney(t *testing.T) {
	grantor := access.Person{Birth: nin.Date{Year: 1950, Month: 5, Day: 1}, Consent: active(consent.Full)}
	now := oslo("2026-11-23 12:00")
	valid := access.Grant{Areas: []access.Area{access.AreaHealthData, access.AreaCommunication}, ValidFrom: now.Add(-24 * time.Hour), ValidTo: now.Add(365 * 24 * time.Hour)}
	with := func(f func(*access.Person, *access.Grant)) (access.Person, access.Grant) {
		p, g := grantor, valid
		f(&p, &g)
		return p, g
	}
	tests := []struct {
		name        string
		service     string
		change      func(*access.Person, *access.Grant)
		want        access.Rule
		wantBecause access.Rule
	}{
		{"valid grant, area covered", "medicines", func(*access.Person, *access.Grant) {}, access.Allowed, ""},
		{"area not granted", "exemption_card", func(*access.Person, *access.Grant) {}, access.RulePOAAreaNotGranted, ""},
		{"service no attorney may use", "profile", func(*access.Person, *access.Grant) {}, access.RuleNotByPOA, ""},
		{"expired at its end time", "medicines", func(_ *access.Person, g *access.Grant) { g.ValidTo = now }, access.RulePOAExpired, ""},
		{"expired yesterday", "medicines", func(_ *access.Person, g *access.Grant) { g.ValidTo = now.Add(-24 * time.Hour) }, access.RulePOAExpired, ""},
		{"starts tomorrow", "medicines", func(_ *access.Person, g *access.Grant) { g.ValidFrom = now.Add(24 * time.Hour) }, access.RulePOANotYetValid, ""},
		{"grantor lowered consent after granting", "medicines", func(p *access.Person, _ *access.Grant) { p.Consent = active(consent.Basic) }, access.RuleGrantorLacksAccess, access.RuleConsentLevelTooLow},
		{"grantor withdrew consent", "messages", func(p *access.Person, _ *access.Grant) { p.Consent = consent.State{Status: consent.StatusWithdrawn} }, access.RuleGrantorLacksAccess, access.RuleNoConsent},
		{"grantor blocked", "messages", func(p *access.Person, _ *access.Grant) { p.Settings.EmergencyBlock = true }, access.RuleGrantorLacksAccess, access.RuleEmergencyBlock},
		{"grantor removed patient record access", "patient_record", func(p *access.Person, _ *access.Grant) { p.Settings.PatientRecordRemoved = true }, access.RuleGrantorLacksAccess, access.RulePatientRecordRemoved},
		{"grantor opted out of SCR", "summary_care_record", func(p *access.Person, _ *access.Grant) { p.Settings.SCROptedOut = true }, access.RuleGrantorLacksAccess, access.RuleSummaryCareUnavailable},
		{"grantor lacks patient travel consent", "patient_travel", func(*access.Person, *access.Grant) {}, access.RuleGrantorLacksAccess, access.RulePatientTravelConsent},
		{"deceased grantor", "messages", func(p *access.Person, _ *access.Grant) { p.Deceased = true }, access.RuleDeceased, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, g := with(tt.change)
			got := access.Decide(access.Facts{Service: svc(t, tt.service), Subject: p, Grant: &g, Now: now})
			if got.Rule != tt.want || got.Because != tt.wantBecause || got.Allowed != (tt.want == access.Allowed) || got.Role != access.RoleAttorney {
				t.Errorf("got %+v, want rule %s because %q", got, tt.want, tt.wantBecause)
			}
		})
	}
}

func TestDecideRelations(t *testing.T) {
	now := oslo("2026-11-23 12:00")
	kid := access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}}
	teen := access.Person{Birth: nin.Date{Year: 2009, Month: 1, Day: 1}, Consent: active(consent.Full)} // 17
	grant := &access.Grant{Areas: []access.Area{access.AreaCommunication}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}
	tests := []struct {
		name    string
		subject access.Person
		link    *access.Link
		grant   *access.Grant
		want    access.Rule
		role    access.Role
	}{
		{"no relation at all", kid, nil, nil, access.RuleNoRelation, ""},
		{"foster parent", kid, &access.Link{Foster: true}, nil, access.RuleFosterParent, access.RoleFoster},
		{"parent of a 17-year-old", teen, &access.Link{}, nil, access.RuleParentAccessEnded16, access.RoleParent},
		{"parent of a 17-year-old who gave a power of attorney", teen, &access.Link{}, grant, access.Allowed, access.RoleAttorney},
		{"foster parent with a power of attorney", teen, &access.Link{Foster: true}, grant, access.Allowed, access.RoleAttorney},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := access.Decide(access.Facts{Service: svc(t, "messages"), Subject: tt.subject, Link: tt.link, Grant: tt.grant, Now: now})
			if got.Rule != tt.want || got.Role != tt.role {
				t.Errorf("got %+v, want %s as %q", got, tt.want, tt.role)
			}
		})
	}
}

// TestDeadActorDoesNothing: from the death notice on, the actor is denied
// in every role with a rule of its own, whatever the grant or link says.
func TestDeadActorDoesNothing(t *testing.T) {
	now := oslo("2026-11-23 12:00")
	kid := access.Person{Birth: nin.Date{Year: 2018, Month: 1, Day: 1}}
	adult := access.Person{Birth: nin.Date{Year: 1960, Month: 1, Day: 1}, Consent: active(consent.Full)}
	grant := &access.Grant{Areas: access.Areas, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)}
	tests := []struct {
		name    string
		f       access.Facts
		role    access.Role
		aliveOK bool
	}{
		{"self", access.Facts{Self: true, Subject: adult}, access.RoleSelf, true},
		{"parent", access.Facts{Subject: kid, Link: &access.Link{}}, access.RoleParent, true},
		{"attorney", access.Facts{Subject: adult, Grant: grant}, access.RoleAttorney, true},
		{"foster parent", access.Facts{Subject: kid, Link: &access.Link{Foster: true}}, access.RoleFoster, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Service, tt.f.Now = svc(t, "messages"), now
			if alive := access.Decide(tt.f); alive.Allowed != tt.aliveOK {
				t.Fatalf("alive: %+v", alive)
			}
			tt.f.ActorDeceased = true
			got := access.Decide(tt.f)
			if got.Allowed || got.Rule != access.RuleActorDeceased || got.Role != tt.role {
				t.Errorf("got %+v, want %s as %s", got, access.RuleActorDeceased, tt.role)
			}
		})
	}
	if access.MayAct(true) || !access.MayAct(false) {
		t.Error("MayAct: a dead person may act, or a living one may not")
	}
}

func TestCatalogue(t *testing.T) {
	for _, s := range access.Catalogue {
		if !s.Level.Valid() {
			t.Errorf("%s: level %q", s.ID, s.Level)
		}
		if s.Area != "" && !access.ValidArea(s.Area) {
			t.Errorf("%s: area %q", s.ID, s.Area)
		}
		if s.Child12To16 && !s.ChildUnder12 {
			t.Errorf("%s: for 12-16 but not under 12", s.ID)
		}
	}
	// The 12-16 set is exactly the one the sources list.
	var restricted []string
	for _, s := range access.Catalogue {
		if s.Child12To16 {
			restricted = append(restricted, s.ID)
		}
	}
	if got, want := fmt.Sprint(restricted), "[health_registries research change_gp profile messages medicines health_contacts pathway_coordinator]"; got != want {
		t.Errorf("12-16 set: got %s, want %s", got, want)
	}
}

// BenchmarkDecide measures in-process rule evaluation (goal: ≤ 5 µs).
func BenchmarkDecide(b *testing.B) {
	now := oslo("2026-11-23 12:00")
	f := access.Facts{
		Service: svc(b, "medicines"),
		Subject: access.Person{Birth: nin.Date{Year: 1950, Month: 5, Day: 1}, Consent: active(consent.Full)},
		Grant:   &access.Grant{Areas: []access.Area{access.AreaHealthData}, ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(time.Hour)},
		Now:     now,
	}
	child := access.Facts{Service: svc(b, "messages"), Subject: access.Person{Birth: nin.Date{Year: 2014, Month: 2, Day: 28}}, Link: &access.Link{}, Now: now}
	for b.Loop() {
		if !access.Decide(f).Allowed || !access.Decide(child).Allowed {
			b.Fatal("denied")
		}
	}
}

func TestPersonBarred(t *testing.T) {
	tests := []struct {
		name string
		p    access.Person
		want access.Rule
	}{
		{"nothing", access.Person{}, access.Allowed},
		{"consent does not matter", access.Person{Consent: consent.State{Status: consent.StatusWithdrawn}}, access.Allowed},
		{"other settings do not bar", access.Person{Settings: access.Settings{PatientRecordRemoved: true, SCRAccessRemoved: true, SCROptedOut: true}}, access.Allowed},
		{"emergency block", access.Person{Settings: access.Settings{EmergencyBlock: true}}, access.RuleEmergencyBlock},
		{"deceased", access.Person{Deceased: true}, access.RuleDeceased},
		{"deceased before blocked", access.Person{Deceased: true, Settings: access.Settings{EmergencyBlock: true}}, access.RuleDeceased},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Barred(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
