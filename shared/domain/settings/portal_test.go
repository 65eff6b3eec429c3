package settings_test

import (
	"context"
	"testing"

	"privacycore/shared/domain/access"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/settings"
)

func TestPortal(t *testing.T) {
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kari, ten, fourteen := mustID(t, "14838500073"), mustID(t, "29821650087"), mustID(t, "05851250095")
	// now is 2026-11-30: twelve turned 12 today, almostTwelve turns 12 tomorrow.
	twelve, almostTwelve := nin.ForTest(nin.Date{Year: 2014, Month: 11, Day: 30}, true), nin.ForTest(nin.Date{Year: 2014, Month: 12, Day: 1}, true)
	parentOf := func(child nin.ID) access.Records {
		return access.Records{Link: &access.Link{}, ChildBirth: child.BirthDate()}
	}
	const (
		notChild = "not_your_child: You can change settings only for your own children under the age limit."
	)
	type call func(p *settings.PortalService, r settings.Request) (settings.State, error)
	ctx := context.Background()
	get := func(p *settings.PortalService, r settings.Request) (settings.State, error) { return p.Get(ctx, r) }
	block := func(v bool) call {
		return func(p *settings.PortalService, r settings.Request) (settings.State, error) {
			return p.SetEmergencyBlock(ctx, r, v)
		}
	}
	record := func(p *settings.PortalService, r settings.Request) (settings.State, error) {
		return p.SetPatientRecordAccess(ctx, r, false)
	}
	scr := func(p *settings.PortalService, r settings.Request) (settings.State, error) {
		return p.SetSCRAccess(ctx, r, false)
	}
	optOut := func(v bool) call {
		return func(p *settings.PortalService, r settings.Request) (settings.State, error) {
			return p.SetSCROptOut(ctx, r, v)
		}
	}
	tests := []struct {
		name    string
		call    call
		req     settings.Request
		recs    access.Records
		want    string // "reason: message", "" for success
		wantSet *settings.State
	}{
		{"own settings", get, settings.Request{Caller: kari}, access.Records{}, "", nil},
		{"child by ref", get, settings.Request{Caller: kari, ChildRef: string(keys.Key(ten))}, parentOf(ten), "", nil},
		{"both child and ref", block(true), settings.Request{Caller: kari, Child: "29821650087", ChildRef: string(keys.Key(ten))}, parentOf(ten),
			"ambiguous_child: Give child or childRef, not both.", nil},
		{"child not an id", block(true), settings.Request{Caller: kari, Child: "2982165008"}, parentOf(ten), "invalid_child: child is not a valid person id.", nil},
		{"ref not a ref", get, settings.Request{Caller: kari, ChildRef: "ABC"}, parentOf(ten), "invalid_child: childRef is not a valid reference.", nil},
		{"not my child", block(true), settings.Request{Caller: kari, Child: "29821650087"}, access.Records{}, notChild, nil},
		{"block a child", block(true), settings.Request{Caller: kari, Child: "29821650087"}, parentOf(ten), "", &settings.State{EmergencyBlock: true, Version: 1}},
		{"a child's block is lifted by form", block(false), settings.Request{Caller: kari, Child: "29821650087"}, parentOf(ten),
			"reinstate_by_form_2: A child's access is reinstated only with paper form 2 (children under 16), signed by a parent.", nil},
		{"record of a 14-year-old: over the record age", record, settings.Request{Caller: kari, Child: "05851250095"}, parentOf(fourteen), notChild, nil},
		{"block of a 14-year-old: under 16", block(true), settings.Request{Caller: kari, Child: "05851250095"}, parentOf(fourteen), "", &settings.State{EmergencyBlock: true, Version: 1}},
		{"record of a 10-year-old", record, settings.Request{Caller: kari, Child: "29821650087"}, parentOf(ten), "", &settings.State{PatientRecordRemoved: true, Version: 1}},
		{"SCR for a child", scr, settings.Request{Caller: kari, Child: "29821650087"}, parentOf(ten), "", &settings.State{SCRAccessRemoved: true, Version: 1}},
		{"SCR opt-out by ref", optOut(true), settings.Request{Caller: kari, ChildRef: string(keys.Key(ten))}, parentOf(ten), "", &settings.State{Version: 1}},
		{"SCR of a 14-year-old: over 12", scr, settings.Request{Caller: kari, Child: "05851250095"}, parentOf(fourteen), notChild, nil},
		{"SCR of a child turned 12 today", scr, settings.Request{Caller: kari, Child: twelve.Digits()}, parentOf(twelve), notChild, nil},
		{"SCR opt-out of a child turning 12 tomorrow", optOut(true), settings.Request{Caller: kari, Child: almostTwelve.Digits()}, parentOf(almostTwelve), "", &settings.State{Version: 1}},
		{"SCR of a stranger's child", scr, settings.Request{Caller: kari, Child: "29821650087"}, access.Records{}, notChild, nil},
		{"SCR of a foster child", scr, settings.Request{Caller: kari, Child: "29821650087"}, access.Records{Link: &access.Link{Foster: true}, ChildBirth: ten.BirthDate()}, notChild, nil},
		{"SCR of the grantor, by an attorney", optOut(true), settings.Request{Caller: kari, Child: "29821650087"}, access.Records{Grant: &access.Grant{}}, notChild, nil},
		{"own SCR access", scr, settings.Request{Caller: kari}, access.Records{}, "", &settings.State{SCRAccessRemoved: true, Version: 1}},
		{"dead caller", scr, settings.Request{Caller: kari}, access.Records{ActorDeceased: true}, "deceased: The population register reports you as deceased.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeStore{recs: tt.recs}
			p := &settings.PortalService{Service: service(f, now), Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, ChildRecordAge: 12}
			_, err := tt.call(p, tt.req)
			if got := reason(err); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			switch {
			case tt.wantSet == nil && len(f.saved) != 0:
				t.Fatalf("saved %+v, want nothing", f.saved)
			case tt.wantSet != nil && (len(f.saved) != 1 || f.saved[0].Next.EmergencyBlock != tt.wantSet.EmergencyBlock ||
				f.saved[0].Next.PatientRecordRemoved != tt.wantSet.PatientRecordRemoved || f.saved[0].Next.SCRAccessRemoved != tt.wantSet.SCRAccessRemoved):
				t.Fatalf("saved %+v, want %+v", f.saved, *tt.wantSet)
			}
			if want := settings.BySelf; tt.wantSet != nil && f.saved[0].Change.By != want && tt.req.Child == "" && tt.req.ChildRef == "" {
				t.Fatalf("history by %q, want %q", f.saved[0].Change.By, want)
			}
			if want := settings.ByParent; tt.wantSet != nil && f.saved[0].Change.By != want && (tt.req.Child != "" || tt.req.ChildRef != "") {
				t.Fatalf("history by %q, want %q", f.saved[0].Change.By, want)
			}
		})
	}
}
