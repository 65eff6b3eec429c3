package sectorapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"

	"privacycore/infra/apispec"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/registers/gpregister"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	kari  = "14838500073" // the fixtures' citizen
	ola   = "01879000099" // someone else; kari's attorney in one test
	teen  = "05851250095" // 14 on day0
	small = "29821650087" // 10 on day0
	rxX   = "0b6f7f4e-2f7a-4c1e-9a51-3c1d2e4f5a6b"
)

var day0 = time.Date(2026, 11, 23, 11, 0, 0, 0, time.UTC)

type world struct {
	t     testing.TB
	local *stack.Local
	logs  *testenv.Buffer
	keys  *personkey.Keyer
	http  map[string]wire.HTTPHandler
	dbOps atomic.Int64 // DynamoDB operations, all functions
}

// newWorld builds the functions as the local runner does, on a fresh
// stack, with every DynamoDB operation counted.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, local: testenv.New(t), logs: &testenv.Buffer{}, http: map[string]wire.HTTPHandler{}}
	w.keys, _ = personkey.New([]byte(personkey.DevSecret))
	cfg := w.local.AWS.Copy()
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countDynamoDB", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if awsmiddleware.GetServiceID(ctx) == "DynamoDB" {
				w.dbOps.Add(1)
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
	})
	clock := testenv.NewClock(day0, time.Millisecond)
	for name, b := range map[string]struct {
		fn    string
		build func(wire.Env) (wire.HTTPHandler, error)
	}{
		"sector": {"SectorFunction", wire.SectorAPI}, "settings": {"SectorSettingsFunction", wire.SectorSettingsAPI},
		"consent": {"ConsentFunction", wire.ConsentAPI}, "representation": {"RepresentationFunction", wire.RepresentationAPI},
		"privacy": {"SettingsFunction", wire.SettingsAPI},
	} {
		f, ok := w.local.Function(b.fn)
		if !ok {
			t.Fatalf("template has no %s", b.fn)
		}
		h, err := b.build(wire.Env{AWS: cfg, Getenv: w.local.Getenv(f), Log: w.logs, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		w.http[name] = h
	}
	t.Cleanup(func() {
		for _, secret := range []string{kari, ola, teen, small, rxX, "1234567", "7654321"} {
			if strings.Contains(w.logs.String(), secret) {
				t.Errorf("%s reached the logs or metrics", secret)
			}
		}
	})
	return w
}

type resp struct {
	Status int
	Body   map[string]any
	Raw    string
	ETag   string
}

type edit func(*events.APIGatewayV2HTTPRequest)

func (w *world) call(fn, fixture string, edits ...edit) resp {
	w.t.Helper()
	ev := testenv.HTTPEvent(w.t, fixture)
	for _, e := range edits {
		e(&ev)
	}
	out, err := w.http[fn](context.Background(), ev)
	if err != nil {
		w.t.Fatal(err)
	}
	apispec.Check(w.t, ev, out)
	r := resp{Status: out.StatusCode, Raw: out.Body, ETag: out.Headers["ETag"]}
	_ = json.Unmarshal([]byte(out.Body), &r.Body)
	return r
}

func as(pid string) edit {
	return func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer.JWT.Claims["pid"] = pid }
}

func body(b string) edit { return func(e *events.APIGatewayV2HTTPRequest) { e.Body = b } }

func ifMatch(v string) edit {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Headers["if-match"] = v }
}

func query(k, v string) edit {
	return func(e *events.APIGatewayV2HTTPRequest) {
		if e.QueryStringParameters == nil {
			e.QueryStringParameters = map[string]string{}
		}
		e.QueryStringParameters[k] = v
	}
}

// sectorToken turns a citizen fixture into the same request by a sector
// system (scope sector:read, no pid).
func sectorToken(e *events.APIGatewayV2HTTPRequest) {
	e.RequestContext.Authorizer.JWT.Claims = map[string]string{"sub": "client-kjernejournal", "scope": "sector:read"}
	e.RequestContext.Authorizer.JWT.Scopes = []string{"sector:read"}
}

func (w *world) consent(pid string) {
	w.t.Helper()
	if r := w.call("consent", "consent/give.json", as(pid), body(`{"level":"full"}`)); r.Status != 200 {
		w.t.Fatalf("consent: %d %s", r.Status, r.Raw)
	}
}

func (w *world) parent(parent, child string) {
	w.t.Helper()
	p, _ := nin.Parse(parent)
	c, _ := nin.Parse(child)
	store := dynamo.NewStores(w.local.DynamoDB, w.local.Table("PrivacyTable"), time.Now).Relations
	if err := store.SetParent(context.Background(), w.keys.Key(p), w.keys.Key(c), c.BirthDate(), day0.AddDate(-20, 0, 0)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) ref(pid string) string {
	id, _ := nin.Parse(pid)
	return string(w.keys.Key(id))
}

// decide asks the sector API and returns "allowed/rule" or "denied/rule".
func (w *world) decide(person, hpr, resource, rx string, emergency bool) string {
	w.t.Helper()
	b := fmt.Sprintf(`{"person":%q,"professional":%q,"resource":%q,"emergency":%v`, person, hpr, resource, emergency)
	if rx != "" {
		b += fmt.Sprintf(`,"prescriptionId":%q`, rx)
	}
	r := w.call("sector", "sector/decide-prescription.json", body(b+"}"))
	if r.Status != 200 {
		w.t.Fatalf("decision: %d %s", r.Status, r.Raw)
	}
	if r.Body["allowed"] == true {
		return "allowed/" + r.Body["rule"].(string)
	}
	return "denied/" + r.Body["rule"].(string)
}

func TestCitizenSetsAndTheSectorObeys(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	kariID, _ := nin.Parse(kari)
	gp := string(gpregister.StandIn(kariID))

	if r := w.call("settings", "sector-settings/get.json"); r.Status != 200 || r.ETag != `"0"` {
		t.Fatalf("nothing set yet: %d %s %s", r.Status, r.ETag, r.Raw)
	}
	if got := w.decide(kari, "1234567", "prescription", rxX, false); got != "allowed/no_restriction" {
		t.Errorf("before any setting: %s", got)
	}
	// Prescriptions: limit one prescription, block 1234567.
	r := w.call("settings", "sector-settings/prescriptions.json", ifMatch(`"0"`))
	if r.Status != 200 || r.ETag != `"1"` {
		t.Fatalf("prescriptions: %d %s", r.Status, r.Raw)
	}
	// A stale If-Match changes nothing.
	if r := w.call("settings", "sector-settings/summary-care-record.json", ifMatch(`"0"`)); r.Status != 412 || r.Body["code"] != "version_mismatch" {
		t.Errorf("stale If-Match: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "sector-settings/summary-care-record.json", ifMatch(`"1"`)); r.Status != 200 || r.ETag != `"2"` {
		t.Fatalf("summary care record: %d %s", r.Status, r.Raw)
	}
	tests := []struct {
		hpr, resource, rx string
		emergency         bool
		want              string
	}{
		{"1234567", "prescription", rxX, false, "denied/rx_blocked_professionals"},
		{"7654321", "prescription", rxX, false, "denied/rx_limited_prescriptions"},
		{"7654321", "prescription", "1c7a8b9d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", false, "allowed/no_restriction"},
		{"7654321", "summary_care_record", "", true, "denied/scr_blocked_professionals"},
		{"1234567", "summary_care_record", "", false, "denied/scr_limited"},
		{"1234567", "summary_care_record", "", true, "allowed/scr_limited_emergency"},
		{"1234567", "appointment_history", "", true, "denied/scr_appointment_history_blocked"},
	}
	for _, tt := range tests {
		if got := w.decide(kari, tt.hpr, tt.resource, tt.rx, tt.emergency); got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.hpr, tt.resource, got, tt.want)
		}
	}
	// Only the GP (from the GP register's stand-in).
	only := `{"limitedPrescriptions":[],"blockedProfessionals":[],"onlyGP":true}`
	if r := w.call("settings", "sector-settings/prescriptions.json", body(only)); r.Status != 200 {
		t.Fatalf("only GP: %d %s", r.Status, r.Raw)
	}
	if got := w.decide(kari, "7654321", "prescription", rxX, false); got != "denied/rx_only_gp" {
		t.Errorf("not the GP: %s", got)
	}
	if got := w.decide(kari, gp, "prescription", rxX, false); got != "allowed/no_restriction" {
		t.Errorf("the GP %s: %s", gp, got)
	}
	// Research and registries.
	if r := w.call("settings", "sector-settings/research-set.json"); r.Status != 200 || !strings.Contains(r.Raw, `"purpose":"quality_registries","kind":"reservation","allowed":false,"chosen":true`) {
		t.Errorf("reserve: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "sector-settings/research-set.json", func(e *events.APIGatewayV2HTTPRequest) {
		e.PathParameters["purpose"], e.RawPath, e.RequestContext.HTTP.Path = "gene_lottery", "/v1/research-and-registries/gene_lottery", "/v1/research-and-registries/gene_lottery"
	}); r.Status != 404 || r.Body["code"] != "unknown_purpose" {
		t.Errorf("unknown purpose: %d %s", r.Status, r.Raw)
	}
	// History: who, when, channel, one entry per changed setting, no values.
	h := w.call("settings", "sector-settings/history.json")
	items, _ := h.Body["items"].([]any)
	var got []string
	for _, it := range items {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s=%s/%s/%s", m["setting"], m["value"], m["by"], m["channel"]))
	}
	want := []string{
		"research.quality_registries=not_allowed/self/portal",
		"rx_only_gp=on/self/portal", "rx_blocked_professionals=entries:0/self/portal", "rx_limited_prescriptions=entries:0/self/portal",
		"scr_appointment_history_blocked=on/self/portal", "scr_blocked_professionals=entries:1/self/portal", "scr_limited=on/self/portal",
		"rx_blocked_professionals=entries:1/self/portal", "rx_limited_prescriptions=entries:1/self/portal",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history:\n got %v\nwant %v", got, want)
	}
	if strings.Contains(h.Raw, "1234567") || strings.Contains(h.Raw, rxX) {
		t.Errorf("history holds HPR numbers or prescription ids: %s", h.Raw)
	}
	// Metrics: one SectorDecisions point per decision, by outcome, resource and rule.
	if n := strings.Count(w.logs.String(), `"SectorDecisions"`); n < 10 {
		t.Errorf("SectorDecisions metric lines: %d", n)
	}
	if !strings.Contains(w.logs.String(), `"Rule":"scr_limited_emergency"`) {
		t.Errorf("no metric by rule: %s", w.logs.String())
	}
}

func TestParentsChildrenAndAttorneys(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	w.consent(ola)
	w.parent(kari, small)
	w.parent(kari, teen)
	scr := `{"limited":true,"blockedProfessionals":[],"appointmentHistoryBlocked":false,"child":%q}`
	// Under 12: the pages give parents the summary care record and its settings.
	if r := w.call("settings", "sector-settings/summary-care-record-child.json", body(fmt.Sprintf(scr, small))); r.Status != 200 {
		t.Errorf("parent for a child of 10: %d %s", r.Status, r.Raw)
	}
	if got := w.decide(small, "1234567", "summary_care_record", "", false); got != "denied/scr_limited" {
		t.Errorf("the child's setting binds the sector: %s", got)
	}
	if h := w.call("settings", "sector-settings/history.json", query("childRef", w.ref(small))); !strings.Contains(h.Raw, `"by":"parent"`) {
		t.Errorf("child's history: %s", h.Raw)
	}
	// 12 to 16: not the summary care record, but research and registries.
	if r := w.call("settings", "sector-settings/summary-care-record-child.json", body(fmt.Sprintf(scr, teen))); r.Status != 403 || r.Body["code"] != "not_your_child" {
		t.Errorf("parent for a child of 14 (SCR): %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "sector-settings/research-set.json", body(fmt.Sprintf(`{"allowed":false,"child":%q}`, teen))); r.Status != 200 {
		t.Errorf("parent for a child of 14 (registries): %d %s", r.Status, r.Raw)
	}
	// An attorney never: kari gives ola a power of attorney; ola still cannot
	// read or change kari's settings.
	if r := w.call("representation", "representation/grant.json"); r.Status != 201 && r.Status != 200 {
		t.Fatalf("grant: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "sector-settings/summary-care-record-child.json", as(ola), body(fmt.Sprintf(scr, kari))); r.Status != 403 || r.Body["code"] != "not_your_child" {
		t.Errorf("attorney changing the grantor's settings: %d %s", r.Status, r.Raw)
	}
	if r := w.call("settings", "sector-settings/get.json", as(ola), query("childRef", w.ref(kari))); r.Status != 403 {
		t.Errorf("attorney reading the grantor's settings: %d %s", r.Status, r.Raw)
	}
}

// TestIDOR: a sector client changes nothing and reads no citizen route; a
// citizen cannot reach the sector API; nobody reads another's settings.
func TestIDOR(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	w.consent(ola)
	if r := w.call("settings", "sector-settings/summary-care-record.json"); r.Status != 200 {
		t.Fatal(r.Raw)
	}
	before := w.call("settings", "sector-settings/get.json").Raw

	for _, fixture := range []string{"sector-settings/get.json", "sector-settings/prescriptions.json", "sector-settings/summary-care-record.json",
		"sector-settings/research-set.json", "sector-settings/history.json", "sector-settings/research.json"} {
		if r := w.call("settings", fixture, sectorToken); r.Status != 403 || r.Body["code"] != "sector_token" {
			t.Errorf("sector token on %s: %d %s", fixture, r.Status, r.Raw)
		}
	}
	if r := w.call("privacy", "settings/scr-opt-out.json", sectorToken); r.Status != 403 {
		t.Errorf("sector token on the privacy settings: %d %s", r.Status, r.Raw)
	}
	if after := w.call("settings", "sector-settings/get.json").Raw; after != before {
		t.Errorf("a sector client changed something:\n%s\n%s", before, after)
	}
	for _, fixture := range []string{"sector/decide-citizen-token.json"} {
		if r := w.call("sector", fixture); r.Status != 403 || r.Body["code"] != "citizen_token" {
			t.Errorf("citizen on the sector API: %d %s", r.Status, r.Raw)
		}
	}
	if r := w.call("sector", "sector/consents.json", func(e *events.APIGatewayV2HTTPRequest) {
		e.RequestContext.Authorizer.JWT.Claims = map[string]string{"pid": ola}
		e.RequestContext.Authorizer.JWT.Scopes = nil
	}); r.Status != 403 || r.Body["code"] != "citizen_token" {
		t.Errorf("citizen reading another's FHIR consents: %d %s", r.Status, r.Raw)
	}
	if r := w.call("sector", "sector/consents.json", func(e *events.APIGatewayV2HTTPRequest) {
		e.RequestContext.Authorizer.JWT.Claims = map[string]string{"sub": "portal", "scope": "forms:write"}
		e.RequestContext.Authorizer.JWT.Scopes = []string{"forms:write"}
	}); r.Status != 403 || r.Body["code"] != "insufficient_scope" {
		t.Errorf("another machine scope: %d %s", r.Status, r.Raw)
	}
	// Ola sees his own (empty) settings, never kari's, by any reference.
	if r := w.call("settings", "sector-settings/get.json", as(ola)); r.Body["version"] != 0.0 {
		t.Errorf("ola's own settings: %s", r.Raw)
	}
	for _, fixture := range []string{"sector-settings/get.json", "sector-settings/history.json", "sector-settings/research.json"} {
		if r := w.call("settings", fixture, as(ola), query("childRef", w.ref(kari))); r.Status != 403 || r.Body["code"] != "not_your_child" {
			t.Errorf("ola reading kari's %s: %d %s", fixture, r.Status, r.Raw)
		}
	}
	if r := w.call("settings", "sector-settings/summary-care-record-child.json", as(ola), body(`{"limited":false,"blockedProfessionals":[],"appointmentHistoryBlocked":false,"child":"14838500073"}`)); r.Status != 403 {
		t.Errorf("ola changing kari's settings: %d %s", r.Status, r.Raw)
	}
	if after := w.call("settings", "sector-settings/get.json").Raw; after != before {
		t.Errorf("someone changed kari's settings:\n%s\n%s", before, after)
	}
}

func TestBadInputIs4xxAndChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	cases := []struct {
		fn, fixture string
		edit        edit
		status      int
		code        string
	}{
		{"settings", "sector-settings/invalid-hpr.json", nil, 400, "invalid_hpr"},
		{"settings", "sector-settings/prescriptions.json", body(`{"limitedPrescriptions":["x"],"blockedProfessionals":[],"onlyGP":false}`), 400, "invalid_prescription_id"},
		{"settings", "sector-settings/prescriptions.json", body(`{"limitedPrescriptions":[],"blockedProfessionals":[],"onlyGP":"yes"}`), 400, "invalid_field"},
		{"settings", "sector-settings/prescriptions.json", body(`{"onlyGP":true,"person":"01879000099"}`), 400, "unknown_field"},
		{"settings", "sector-settings/prescriptions.json", ifMatch("3"), 400, "invalid_if_match"},
		{"settings", "sector-settings/research-set.json", body(`{}`), 400, "missing_field"},
		{"sector", "sector/decide-invalid-person.json", nil, 400, "invalid_person"},
		{"sector", "sector/decide-prescription.json", body(`{"person":"14838500073","professional":"1234567","resource":"prescription"}`), 400, "missing_field"},
		{"sector", "sector/decide-prescription.json", body(`{"person":"14838500073","professional":"1234567","resource":"lab"}`), 400, "unknown_resource"},
		{"sector", "sector/decide-prescription.json", body(`{"person":"14838500073","professional":"14838500073","resource":"summary_care_record"}`), 400, "invalid_hpr"},
	}
	for _, c := range cases {
		var edits []edit
		if c.edit != nil {
			edits = append(edits, c.edit)
		}
		r := w.call(c.fn, c.fixture, edits...)
		if r.Status != c.status || r.Body["code"] != c.code {
			t.Errorf("%s: got %d %v, want %d %s", c.fixture, r.Status, r.Body["code"], c.status, c.code)
		}
		if strings.Contains(r.Raw, kari) || strings.Contains(r.Raw, "14838500074") {
			t.Errorf("%s: the problem echoes a person id: %s", c.fixture, r.Raw)
		}
	}
	if r := w.call("settings", "sector-settings/get.json"); r.Body["version"] != 0.0 {
		t.Errorf("bad input changed something: %s", r.Raw)
	}
}

// TestSettingsSurviveWithdrawal: withdrawing consent deletes the portal's
// data but keeps these opt-outs and their history, and they go on binding
// the sector; the receipt names no setting, HPR or prescription.
func TestSettingsSurviveWithdrawal(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	w.call("settings", "sector-settings/prescriptions.json")
	w.call("settings", "sector-settings/research-set.json")
	r := w.call("consent", "consent/withdraw.json")
	if r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	for _, secret := range []string{"1234567", rxX, "quality_registries", "rx_"} {
		if strings.Contains(r.Raw, secret) {
			t.Errorf("the deletion receipt holds %q: %s", secret, r.Raw)
		}
	}
	sks := testenv.SortKeys(t, w.local, dynamo.PersonPK(personkey.Key(w.ref(kari))))
	joined := strings.Join(sks, " ")
	if !strings.Contains(joined, "SECTORSETTINGS") || strings.Count(joined, "OPTOUT#SECTOR#") != 3 {
		t.Errorf("kept after withdrawal: %v", sks)
	}
	if got := w.decide(kari, "1234567", "prescription", rxX, false); got != "denied/rx_blocked_professionals" {
		t.Errorf("after withdrawal the setting still binds: %s", got)
	}
}

// TestDeceased: from a death notice on, nobody acts as or for the person,
// and the settings keep binding the sector until the delayed deletion.
func TestDeceased(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	w.parent(kari, small)
	w.call("settings", "sector-settings/prescriptions.json")
	deaths := dynamo.NewStores(w.local.DynamoDB, w.local.Table("PrivacyTable"), time.Now).Deaths
	dead := func(pid string) {
		if _, err := deaths.RecordDeath(context.Background(), personkey.Key(w.ref(pid)), "frg-death-"+pid, day0, day0.AddDate(0, 0, 30)); err != nil {
			t.Fatal(err)
		}
	}
	dead(small)
	if r := w.call("settings", "sector-settings/summary-care-record-child.json", body(fmt.Sprintf(`{"limited":true,"blockedProfessionals":[],"appointmentHistoryBlocked":false,"child":%q}`, small))); r.Status != 403 || r.Body["code"] != "deceased" {
		t.Errorf("parent acting for a deceased child: %d %s", r.Status, r.Raw)
	}
	dead(kari)
	for _, fixture := range []string{"sector-settings/get.json", "sector-settings/summary-care-record.json", "sector-settings/research-set.json"} {
		if r := w.call("settings", fixture); r.Status != 403 || r.Body["code"] != "deceased" {
			t.Errorf("deceased caller on %s: %d %s", fixture, r.Status, r.Raw)
		}
	}
	if got := w.decide(kari, "1234567", "prescription", rxX, false); got != "denied/rx_blocked_professionals" {
		t.Errorf("the settings of a deceased person still bind until the deletion: %s", got)
	}
}

// TestOneRoundTripPerDecision counts DynamoDB operations per decision, for
// every kind of question, with settings that need the GP register too.
func TestOneRoundTripPerDecision(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	w.call("settings", "sector-settings/prescriptions.json", body(`{"limitedPrescriptions":[],"blockedProfessionals":[],"onlyGP":true}`))
	w.call("settings", "sector-settings/summary-care-record.json")
	for _, q := range []struct{ resource, rx string }{{"prescription", rxX}, {"summary_care_record", ""}, {"appointment_history", ""}} {
		before := w.dbOps.Load()
		w.decide(kari, "7654321", q.resource, q.rx, false)
		if got := w.dbOps.Load() - before; got != 1 {
			t.Errorf("%s: %d DynamoDB calls per decision, want 1", q.resource, got)
		}
	}
	before := w.dbOps.Load()
	w.call("sector", "sector/consents.json")
	if got := w.dbOps.Load() - before; got != 1 {
		t.Errorf("FHIR consents: %d DynamoDB calls, want 1", got)
	}
}

// TestFHIRConsentsValidate reads the FHIR view through the real handler and
// validates the Bundle and every Consent in it with Google's FHIR library.
func TestFHIRConsentsValidate(t *testing.T) {
	w := newWorld(t)
	w.consent(kari)
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		r := w.call("sector", "sector/consents.json")
		if r.Status != 200 {
			t.Fatalf("%s: %d %s", stage, r.Status, r.Raw)
		}
		if _, err := u.UnmarshalR4([]byte(r.Raw)); err != nil {
			t.Errorf("%s: bundle is not valid FHIR R4: %v", stage, err)
		}
		var b struct {
			Entry []struct{ Resource json.RawMessage } `json:"entry"`
		}
		_ = json.Unmarshal([]byte(r.Raw), &b)
		if len(b.Entry) != 9 {
			t.Errorf("%s: %d resources, want one per setting (9)", stage, len(b.Entry))
		}
		for _, e := range b.Entry {
			if _, err := u.UnmarshalR4(e.Resource); err != nil {
				t.Errorf("%s: %v\n%s", stage, err, e.Resource)
			}
		}
		if strings.Contains(r.Raw, kari) || strings.Contains(r.Raw, w.ref(kari)) {
			t.Errorf("%s: the FHIR view names the person by id or table key", stage)
		}
	}
	check("nothing set")
	w.call("settings", "sector-settings/prescriptions.json")
	w.call("settings", "sector-settings/summary-care-record.json")
	w.call("settings", "sector-settings/research-set.json")
	check("everything set")
}
