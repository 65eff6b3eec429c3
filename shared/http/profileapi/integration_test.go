package profileapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain"
	"privacycore/shared/domain/profile"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/profileapi"
	"privacycore/shared/platform/obs"
	"privacycore/shared/registers/contactregister"
	"privacycore/shared/wire"
)

// TestRoutesMatchTemplate keeps the handler and template.yaml in step: a
// route in one but not the other would be unreachable or unserved.
func TestRoutesMatchTemplate(t *testing.T) {
	f := newFixture(t)
	fn, _ := f.local.Function("ProfileFunction")
	var tmpl []string
	for _, r := range fn.Routes {
		tmpl = append(tmpl, r.Key())
	}
	slices.Sort(tmpl)
	got := profileapi.New(nil, nil, obs.NewLogger(f.logs, nil)).RouteKeys()
	if !slices.Equal(got, tmpl) {
		t.Errorf("handler routes %q\ntemplate routes %q", got, tmpl)
	}
}

// kinIDs returns the ids of a next-of-kin list body and the closest one.
func kinIDs(t *testing.T, body map[string]any) (ids []string, closest string) {
	t.Helper()
	items, ok := body["items"].([]any)
	if !ok {
		t.Fatalf("no items in %v", body)
	}
	n := 0
	for _, it := range items {
		m := it.(map[string]any)
		ids = append(ids, m["id"].(string))
		if m["closest"] == true {
			closest = m["id"].(string)
			n++
		}
	}
	if len(items) > 0 && n != 1 {
		t.Fatalf("%d next of kin marked closest, want exactly 1: %v", n, body)
	}
	return ids, closest
}

func TestProfileRoutesEndToEnd(t *testing.T) {
	f := newFixture(t)
	f.give(kari)

	r := f.do("get")
	if r.Status != 200 || r.Headers["ETag"] != `"0"` {
		t.Fatalf("empty profile: %d %s %v", r.Status, r.Raw, r.Headers)
	}
	if got := fmt.Sprint(r.Body["notification"]); got != "map[channel:sms effective:[sms] source:self]" {
		t.Errorf("default notification: got %s", got)
	}
	contact, _ := r.Body["contact"].(map[string]any)
	if !regexp.MustCompile(`^\+479\d{7}$`).MatchString(fmt.Sprint(contact["phone"])) || contact["source"] != "contact_register" {
		t.Errorf("contact details: got %v, want the contact register's", r.Body["contact"])
	}
	for _, k := range []string{"employer", "communicationNeeds"} {
		if v, ok := r.Body[k]; !ok || v != nil {
			t.Errorf("%s: got %v, want null", k, v)
		}
	}
	if fmt.Sprint(r.Body["nextOfKin"], r.Body["logins"], r.Body["appPermissions"]) != "map[items:[] version:0] [] []" {
		t.Errorf("empty lists: got %v %v %v", r.Body["nextOfKin"], r.Body["logins"], r.Body["appPermissions"])
	}

	if r := f.do("set-channel"); r.Status != 200 || r.Body["channel"] != "email" {
		t.Errorf("set channel: %d %s", r.Status, r.Raw)
	}

	// Next of kin: the fixture adds Ola as the closest.
	r = f.do("add-next-of-kin")
	if r.Status != 201 || r.Body["phone"] != "+4791234567" || r.Body["closest"] != true || r.Headers["ETag"] != `"1"` {
		t.Fatalf("add next of kin: %d %s %v", r.Status, r.Raw, r.Headers)
	}
	olaID := r.Body["id"].(string)
	if r.Headers["Location"] != "/v1/profile/next-of-kin/"+olaID || !profile.ValidID(olaID) {
		t.Errorf("Location: got %q for id %q", r.Headers["Location"], olaID)
	}
	r = f.do("add-next-of-kin", withBody(`{"name":"Kari Hansen","phone":"+46701234567","relation":"sibling"}`))
	if r.Status != 201 || r.Body["closest"] != false || r.Headers["ETag"] != `"2"` {
		t.Fatalf("add a second: %d %s", r.Status, r.Raw)
	}
	kariHansenID := r.Body["id"].(string)
	r = f.do("list-next-of-kin")
	if ids, closest := kinIDs(t, r.Body); r.Status != 200 || len(ids) != 2 || closest != olaID || r.Body["version"] != 2.0 {
		t.Fatalf("list: %d %s", r.Status, r.Raw)
	}

	// One request moves "closest" from Ola to Kari Hansen.
	r = f.do("set-closest", withBody(`{"id":"`+kariHansenID+`"}`))
	if ids, closest := kinIDs(t, r.Body); r.Status != 200 || len(ids) != 2 || closest != kariHansenID || r.Headers["ETag"] != `"3"` {
		t.Fatalf("set closest: %d %s", r.Status, r.Raw)
	}
	r = f.do("remove-next-of-kin", withID(olaID))
	if ids, closest := kinIDs(t, r.Body); r.Status != 200 || !slices.Equal(ids, []string{kariHansenID}) || closest != kariHansenID {
		t.Fatalf("remove: %d %s", r.Status, r.Raw)
	}

	r = f.do("set-employer")
	if r.Status != 200 || r.Body["name"] != "Helse Bergen HF" || r.Body["organisationNumber"] != "983974724" {
		t.Errorf("set employer: %d %s", r.Status, r.Raw)
	}
	r = f.do("set-communication-needs")
	if r.Status != 200 || r.Body["interpreterLanguage"] != "uk" || r.Body["plainLanguage"] != true || !strings.HasPrefix(r.Body["text"].(string), "Hører dårlig") {
		t.Errorf("set communication needs: %d %s", r.Status, r.Raw)
	}

	r = f.do("record-login")
	if r.Status != 201 || r.Body["client"] != "Firefox on Windows" || r.Body["method"] != "bankid" {
		t.Fatalf("record login: %d %s", r.Status, r.Raw)
	}
	loginID := r.Body["id"].(string)
	if exp, _ := time.Parse(time.RFC3339, r.Body["expiresAt"].(string)); exp.Sub(day0) < 11*time.Hour || exp.Sub(day0) > 13*time.Hour {
		t.Errorf("login expiry: got %v, want about 12 hours after %v", exp, day0)
	}
	if r := f.do("list-logins"); r.Status != 200 || len(r.Body["items"].([]any)) != 1 {
		t.Errorf("list logins: %d %s", r.Status, r.Raw)
	}
	if r := f.do("revoke-login", withID(loginID)); r.Status != 204 {
		t.Errorf("revoke login: %d %s", r.Status, r.Raw)
	}
	if r := f.do("revoke-login", withID(loginID)); r.Status != 404 || r.Body["code"] != "login_not_found" {
		t.Errorf("revoke again: %d %s", r.Status, r.Raw)
	}
	if r := f.do("list-logins"); len(r.Body["items"].([]any)) != 0 {
		t.Errorf("logins after revoke: %s", r.Raw)
	}

	r = f.do("grant-app-permission")
	if r.Status != 201 || fmt.Sprint(r.Body["scopes"]) != "[appointments:read messages:read]" {
		t.Fatalf("grant app: %d %s", r.Status, r.Raw)
	}
	appID := r.Body["id"].(string)
	if again := f.do("grant-app-permission", withBody(`{"clientId":"no.example.helseapp","name":"Min Helseapp","scopes":["messages:read"]}`)); again.Status != 200 || again.Body["id"] != appID {
		t.Errorf("grant the same app again: %d %s, want 200 with id %s", again.Status, again.Raw, appID)
	}
	if r := f.do("list-app-permissions"); len(r.Body["items"].([]any)) != 1 {
		t.Errorf("list apps: %s", r.Raw)
	}
	if r := f.do("revoke-app-permission", withID(appID)); r.Status != 204 {
		t.Errorf("revoke app: %d %s", r.Status, r.Raw)
	}
	if r := f.do("revoke-app-permission", withID(appID)); r.Status != 404 || r.Body["code"] != "app_permission_not_found" {
		t.Errorf("revoke app again: %d %s", r.Status, r.Raw)
	}

	if r := f.do("remove-employer"); r.Status != 204 {
		t.Errorf("remove employer: %d %s", r.Status, r.Raw)
	}
	r = f.do("get")
	if r.Status != 200 || r.Body["employer"] != nil || fmt.Sprint(r.Body["notification"]) != "map[channel:email effective:[email] source:self]" ||
		r.Body["communicationNeeds"] == nil || r.Headers["ETag"] != `"4"` {
		t.Errorf("profile at the end: %s %v", r.Raw, r.Headers)
	}
	if ids, closest := kinIDs(t, r.Body["nextOfKin"].(map[string]any)); !slices.Equal(ids, []string{kariHansenID}) || closest != kariHansenID {
		t.Errorf("next of kin at the end: %v", r.Body["nextOfKin"])
	}
	got := kinds(f.sortKeys(f.pk(kari)))
	if want := map[string]int{"CONSENT": 1, "CONSENTLOG": 1, "PROFILE": 3}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("partition: got %v, want %v", got, want)
	}
}

func TestProfileNeedsConsent(t *testing.T) {
	f := newFixture(t)
	names := []string{
		"get", "set-channel", "list-next-of-kin", "add-next-of-kin", "add-next-of-kin-bad-phone", "remove-next-of-kin", "set-closest",
		"set-employer", "remove-employer", "set-communication-needs", "list-logins", "record-login", "revoke-login",
		"list-app-permissions", "grant-app-permission", "revoke-app-permission",
	}
	check := func(t *testing.T, when string) {
		before := fmt.Sprint(f.items(f.pk(kari)))
		for _, name := range names {
			if r := f.do(name); r.Status != http.StatusForbidden || r.Body["code"] != "consent_required" {
				t.Errorf("%s, %s: got %d %s, want 403 consent_required", when, name, r.Status, r.Raw)
			}
		}
		if after := fmt.Sprint(f.items(f.pk(kari))); after != before {
			t.Errorf("%s: requests without consent changed data:\n before %s\n after  %s", when, before, after)
		}
	}
	check(t, "never consented")
	f.give(kari)
	if r := f.do("set-channel"); r.Status != 200 {
		t.Fatalf("with consent: %d %s", r.Status, r.Raw)
	}
	if r := f.withdraw(kari); r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	check(t, "after withdrawal")
}

// barrierDB holds every read of the next-of-kin item until n readers have
// arrived, so that n concurrent requests all read the same version before
// any of them writes: the race the conditional write must decide.
type barrierDB struct {
	dynamo.DB
	mu      sync.Mutex
	waiting int
	n       int
	release chan struct{}
}

func newBarrierDB(db dynamo.DB, n int) *barrierDB {
	return &barrierDB{DB: db, n: n, release: make(chan struct{})}
}

func (b *barrierDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	out, err := b.DB.GetItem(ctx, in, opts...)
	if sk, ok := in.Key["sk"].(*types.AttributeValueMemberS); ok && sk.Value == "PROFILE#NOK" {
		b.mu.Lock()
		b.waiting++
		if b.waiting == b.n {
			close(b.release)
		}
		b.mu.Unlock()
		select {
		case <-b.release:
		case <-time.After(10 * time.Second):
			return nil, fmt.Errorf("barrier: only %d of %d readers arrived", b.waiting, b.n)
		}
	}
	return out, err
}

// racingHandler is the profile function on a store whose next-of-kin reads
// wait for each other (see barrierDB); with n == 0 they do not wait.
func (f *fixture) racingHandler(n int) wire.HTTPHandler {
	// The emulator's proxy applies each DynamoDB request atomically, as
	// DynamoDB does, so the racers are real parallel clients.
	var db dynamo.DB = f.local.DynamoDB
	if n > 0 {
		db = newBarrierDB(db, n)
	}
	store := dynamo.NewStores(db, f.local.Table("PrivacyTable"), f.clock.Now)
	svc := &profile.Service{Store: store.Profile, LoginStore: store.Logins, AppStore: store.Apps, Consents: store.Consent, Parents: store.Profile, Contacts: contactregister.Fake{}, Now: f.clock.Now, NewID: domain.NewID}
	return profileapi.New(svc, f.keys, obs.NewLogger(f.logs, nil)).Handle
}

// race sends the requests at once through h and returns their responses.
func (f *fixture) race(h wire.HTTPHandler, evs []events.APIGatewayV2HTTPRequest) []response {
	out := make([]response, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		wg.Go(func() { out[i] = f.call(h, ev) })
	}
	wg.Wait()
	return out
}

// oneWinner checks that exactly one response has status win and all others
// lose with loseCode, and returns the winner.
func oneWinner(t *testing.T, rs []response, win int, loseStatus int, loseCode string) response {
	t.Helper()
	var winners []response
	for _, r := range rs {
		switch {
		case r.Status == win:
			winners = append(winners, r)
		case r.Status == loseStatus && r.Body["code"] == loseCode:
		default:
			t.Errorf("unexpected answer %d %s", r.Status, r.Raw)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d requests won, want exactly 1 (the rest %d %s)", len(winners), loseStatus, loseCode)
	}
	return winners[0]
}

func TestConcurrentAddAsClosestExactlyOneWins(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	first := f.do("add-next-of-kin")
	const n = 8
	evs := make([]events.APIGatewayV2HTTPRequest, n)
	for i := range evs {
		evs[i] = f.event("add-next-of-kin", withBody(fmt.Sprintf(`{"name":"Racer %d","phone":"+4792%06d","relation":"other","closest":true}`, i, i)))
	}
	winner := oneWinner(t, f.race(f.racingHandler(n), evs), 201, http.StatusConflict, "concurrent_update")
	r := f.do("list-next-of-kin")
	ids, closest := kinIDs(t, r.Body)
	if len(ids) != 2 || closest != winner.Body["id"] || ids[0] != first.Body["id"] || r.Body["version"] != 2.0 {
		t.Errorf("after the race: %s, want the first next of kin and the winner %v as closest, version 2", r.Raw, winner.Body["id"])
	}
}

func TestConcurrentSetClosestExactlyOneWins(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	var ids []string
	for i := range 5 {
		r := f.do("add-next-of-kin", withBody(fmt.Sprintf(`{"name":"Person %d","phone":"+4793%06d","relation":"other"}`, i, i)))
		ids = append(ids, r.Body["id"].(string))
	}
	var evs []events.APIGatewayV2HTTPRequest
	for _, id := range ids[1:] { // everyone but the current closest
		evs = append(evs, f.event("set-closest", withBody(`{"id":"`+id+`"}`)))
	}
	rs := f.race(f.racingHandler(len(evs)), evs)
	winner := oneWinner(t, rs, 200, http.StatusConflict, "concurrent_update")
	_, wonClosest := kinIDs(t, winner.Body)
	r := f.do("list-next-of-kin")
	got, closest := kinIDs(t, r.Body)
	if !slices.Equal(got, ids) || closest != wonClosest || closest == ids[0] || r.Body["version"] != 6.0 {
		t.Errorf("after the race: %s, want all five with %s closest, version 6", r.Raw, wonClosest)
	}
}

// TestConcurrentChangesWithIfMatch races requests that all send the ETag
// they read: whatever the timing, exactly one can match.
func TestConcurrentChangesWithIfMatch(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	f.do("add-next-of-kin")
	const n = 8
	evs := make([]events.APIGatewayV2HTTPRequest, n)
	for i := range evs {
		evs[i] = f.event("add-next-of-kin", withHeader("if-match", `"1"`),
			withBody(fmt.Sprintf(`{"name":"Racer %d","phone":"+4792%06d","relation":"other","closest":true}`, i, i)))
	}
	winner := oneWinner(t, f.race(f.racingHandler(0), evs), 201, http.StatusPreconditionFailed, "version_mismatch")
	r := f.do("list-next-of-kin")
	if ids, closest := kinIDs(t, r.Body); len(ids) != 2 || closest != winner.Body["id"] {
		t.Errorf("after the race: %s", r.Raw)
	}
}

// TestChildGetsParentsChannel: notifications about a child under 16 go to
// the parents by the parents' channel, as the register's parental
// responsibility (applied by the notice worker) says.
func TestChildGetsParentsChannel(t *testing.T) {
	f := newFixture(t)
	notices, err := wire.NoticeWorker(f.env("NoticeWorkerFunction"))
	if err != nil {
		t.Fatal(err)
	}
	f.deliver(notices, "parental-responsibility-set") // kari is the child's parent
	for _, pid := range []string{kari, child, ola} {
		f.give(pid)
	}
	if r := f.do("set-channel", withPID(kari)); r.Status != 200 {
		t.Fatalf("parent's channel: %d %s", r.Status, r.Raw)
	}
	tests := []struct {
		pid, want string
	}{
		{child, "map[channel:sms effective:[email] source:parents]"},
		{kari, "map[channel:email effective:[email] source:self]"},
		{ola, "map[channel:sms effective:[sms] source:self]"},
	}
	for _, tt := range tests {
		r := f.do("get", withPID(tt.pid))
		if got := fmt.Sprint(r.Body["notification"]); r.Status != 200 || got != tt.want {
			t.Errorf("%s: got %d %s, want %s", tt.pid, r.Status, got, tt.want)
		}
		if strings.Contains(r.Raw, strings.TrimPrefix(f.pk(kari), "P#")) {
			t.Errorf("%s: the answer names the parent's key", tt.pid)
		}
	}
	f.deliver(notices, "parental-responsibility-ended")
	if r := f.do("get", withPID(child)); fmt.Sprint(r.Body["notification"]) != "map[channel:sms effective:[sms] source:self]" {
		t.Errorf("after the responsibility ended: %v", r.Body["notification"])
	}
}

// The values fillProfile enters. None of them may reach a log line.
var secrets = []string{
	"Ola Nordmann", "91234567", "912 34 567", "ola.nordmann@example.no", // add-next-of-kin fixture
	"Bjørg Sæther", "46701234567", "bjorg@example.no",
	"Helse Bergen HF", "983974724", "55975000", "post@helse-bergen.example.no", // set-employer fixture
	"Hører dårlig", "vend ansiktet",
	"Firefox on Windows", "Min Helseapp", "no.example.helseapp",
	"Zephyr Phone", "123456789012345",
}

// fillProfile stores every kind of profile item for pid through the routes:
// channel, two next of kin, employer, communication needs, two logins and
// two app permissions (eight items).
func (f *fixture) fillProfile(pid string) {
	f.t.Helper()
	as := withPID(pid)
	steps := []struct {
		name string
		opts []func(*events.APIGatewayV2HTTPRequest)
		want int
	}{
		{"set-channel", nil, 200},
		{"add-next-of-kin", nil, 201},
		{"add-next-of-kin", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"name":"Bjørg Sæther","phone":"+46701234567","email":"bjorg@example.no","relation":"parent","closest":true}`)}, 201},
		{"set-employer", nil, 200},
		{"set-communication-needs", nil, 200},
		{"record-login", nil, 201},
		{"record-login", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"client":"Zephyr Phone","method":"minid","expiresAt":"2026-12-01T00:00:00Z"}`)}, 201},
		{"grant-app-permission", nil, 201},
		{"grant-app-permission", []func(*events.APIGatewayV2HTTPRequest){withBody(`{"clientId":"other.app","name":"Treningsdagbok","scopes":["activity:write"]}`)}, 201},
	}
	for _, s := range steps {
		if r := f.do(s.name, append([]func(*events.APIGatewayV2HTTPRequest){as}, s.opts...)...); r.Status != s.want {
			f.t.Fatalf("%s: got %d %s, want %d", s.name, r.Status, r.Raw, s.want)
		}
	}
}

func TestLogsHoldNoPersonalData(t *testing.T) {
	f := newFixture(t)
	f.give(kari)
	f.fillProfile(kari)
	r := f.do("get")
	contact := r.Body["contact"].(map[string]any)
	for _, name := range []string{"list-next-of-kin", "list-logins", "list-app-permissions", "add-next-of-kin-bad-phone"} {
		f.do(name)
	}
	f.do("add-next-of-kin", withBody(`{"name":"Ola Nordmann","phone":"+4791234567","email":"Ola Nordmann <ola.nordmann@example.no>","relation":"spouse"}`))
	f.do("set-communication-needs", withBody(`{"text":"Hører dårlig `+strings.Repeat("x", 500)+`"}`))
	f.withdraw(kari)

	logs := f.logs.String()
	if !strings.Contains(logs, `"route":"POST /v1/profile/next-of-kin"`) || !strings.Contains(logs, "invalid_phone") {
		t.Fatalf("the logs do not show the requests at all, so this test would prove nothing:\n%s", logs)
	}
	for _, s := range append(secrets, kari, contact["phone"].(string), contact["email"].(string), strings.TrimPrefix(contact["phone"].(string), "+47")) {
		if strings.Contains(logs, s) {
			t.Errorf("%q reached the logs", s)
		}
	}
}
