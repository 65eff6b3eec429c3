package consentapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/apispec"
	"privacycore/infra/emulator"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain"
	"privacycore/shared/domain/consent"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/consentapi"
	"privacycore/shared/platform/obs"
	"privacycore/shared/wire"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// kariPID is the synthetic person id in the events/consent fixtures.
const kariPID = "14838500073"

type fixture struct {
	t     *testing.T
	local *stack.Local
	h     wire.HTTPHandler
	logs  *bytes.Buffer
	clock *testenv.Clock
	keys  *personkey.Keyer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	local := testenv.New(t)
	fn, ok := local.Function("ConsentFunction")
	if !ok {
		t.Fatal("template has no ConsentFunction")
	}
	f := &fixture{t: t, local: local, logs: &bytes.Buffer{}, clock: testenv.NewClock(time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC), time.Millisecond)}
	h, err := wire.ConsentAPI(wire.Env{AWS: local.AWS, Getenv: local.Getenv(fn), Log: syncWriter(f.logs), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	f.keys, _ = personkey.New([]byte(personkey.DevSecret))
	return f
}

type response struct {
	Status  int
	Headers map[string]string
	Body    map[string]any
	Raw     string
}

func (f *fixture) do(ev events.APIGatewayV2HTTPRequest) response {
	f.t.Helper()
	resp, err := f.h(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("handler returned error %v (handlers must answer with a response)", err)
	}
	apispec.Check(f.t, ev, resp)
	r := response{Status: resp.StatusCode, Headers: resp.Headers, Raw: resp.Body}
	if resp.Body != "" {
		if err := json.Unmarshal([]byte(resp.Body), &r.Body); err != nil {
			f.t.Fatalf("response body is not a JSON object: %q", resp.Body)
		}
	}
	return r
}

func (f *fixture) event(name string, opts ...func(*events.APIGatewayV2HTTPRequest)) events.APIGatewayV2HTTPRequest {
	ev := testenv.HTTPEvent(f.t, "consent/"+name+".json")
	for _, o := range opts {
		o(&ev)
	}
	return ev
}

func withBody(b string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Body = b }
}

func withHeader(k, v string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.Headers[k] = v }
}

func withPID(pid string) func(*events.APIGatewayV2HTTPRequest) {
	return func(e *events.APIGatewayV2HTTPRequest) { e.RequestContext.Authorizer.JWT.Claims["pid"] = pid }
}

func (f *fixture) pk(pid string) string {
	id, err := nin.Parse(pid)
	if err != nil {
		f.t.Fatal(err)
	}
	return dynamo.PersonPK(f.keys.Key(id))
}

// partition lists the sort keys in a person's partition.
func (f *fixture) partition(pk string) []string {
	f.t.Helper()
	out, err := f.local.DynamoDB.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(f.local.Table("PrivacyTable")),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		f.t.Fatal(err)
	}
	var sks []string
	for _, it := range out.Items {
		sks = append(sks, it["sk"].(*types.AttributeValueMemberS).Value)
	}
	return sks
}

// seed writes items straight into the table, as other functions would.
func (f *fixture) seed(items ...map[string]any) {
	f.t.Helper()
	var reqs []types.WriteRequest
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			f.t.Fatal(err)
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	for len(reqs) > 0 {
		n := min(25, len(reqs))
		_, err := f.local.DynamoDB.BatchWriteItem(context.Background(), &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{f.local.Table("PrivacyTable"): reqs[:n]},
		})
		if err != nil {
			f.t.Fatal(err)
		}
		reqs = reqs[n:]
	}
}

func TestGiveChangeRead(t *testing.T) {
	f := newFixture(t)
	if r := f.do(f.event("get")); r.Status != 200 || r.Body["status"] != "none" {
		t.Fatalf("before consent: got %d %v, want 200 status none", r.Status, r.Body)
	}
	r := f.do(f.event("give"))
	if r.Status != 200 || r.Body["level"] != "basic" || r.Body["version"] != 1.0 || r.Headers["ETag"] != `"1"` {
		t.Fatalf("give: got %d %v %v", r.Status, r.Body, r.Headers)
	}
	// The same request again is a no-op: still version 1, one history entry.
	if r := f.do(f.event("give")); r.Status != 200 || r.Body["version"] != 1.0 {
		t.Fatalf("repeated give: got %d %v, want version 1", r.Status, r.Body)
	}
	r = f.do(f.event("change"))
	if r.Status != 200 || r.Body["level"] != "full" || r.Body["patientTravel"] != true || r.Body["version"] != 2.0 {
		t.Fatalf("change: got %d %v", r.Status, r.Body)
	}
	r = f.do(f.event("get"))
	if r.Body["status"] != "active" || r.Body["level"] != "full" || r.Headers["ETag"] != `"2"` || r.Body["channel"] != "portal" {
		t.Fatalf("read after change: got %v %v", r.Body, r.Headers)
	}
	r = f.do(f.event("history"))
	items, _ := r.Body["items"].([]any)
	var got []string
	for _, it := range items {
		m := it.(map[string]any)
		got = append(got, fmt.Sprintf("%s:%v", m["action"], m["level"]))
	}
	if want := []string{"change:full", "give:basic"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("history: got %v, want %v (newest first)", got, want)
	}
}

func TestHistoryPages(t *testing.T) {
	f := newFixture(t)
	for _, lvl := range []string{"basic", "basic_plus", "full", "basic", "basic_plus"} {
		if r := f.do(f.event("give", withBody(`{"level":"`+lvl+`"}`))); r.Status != 200 {
			t.Fatalf("set %s: %d %s", lvl, r.Status, r.Raw)
		}
	}
	var versions []float64
	cursor := ""
	for page := 0; page < 5; page++ {
		ev := f.event("history", func(e *events.APIGatewayV2HTTPRequest) {
			e.QueryStringParameters = map[string]string{"limit": "2"}
			if cursor != "" {
				e.QueryStringParameters["cursor"] = cursor
			}
		})
		r := f.do(ev)
		if r.Status != 200 {
			t.Fatalf("page %d: %d %s", page, r.Status, r.Raw)
		}
		for _, it := range r.Body["items"].([]any) {
			versions = append(versions, it.(map[string]any)["version"].(float64))
		}
		next, _ := r.Body["next"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if got, want := fmt.Sprint(versions), "[5 4 3 2 1]"; got != want {
		t.Errorf("paged history versions: got %s, want %s", got, want)
	}
}

func TestConcurrentChangeExactlyOneWins(t *testing.T) {
	f := newFixture(t)
	f.do(f.event("give"))
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			lvl := []string{"basic_plus", "full"}[i%2]
			statuses[i] = f.do(f.event("change", withBody(`{"level":"`+lvl+`"}`), withHeader("if-match", `"1"`))).Status
		})
	}
	wg.Wait()
	won, lost := 0, 0
	for _, s := range statuses {
		switch s {
		case 200:
			won++
		case http.StatusPreconditionFailed, http.StatusConflict:
			lost++
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	if won != 1 || lost != n-1 {
		t.Fatalf("concurrent changes: %d won, %d lost; want exactly 1 winner (statuses %v)", won, lost, statuses)
	}
	if r := f.do(f.event("get")); r.Body["version"] != 2.0 {
		t.Errorf("version after race: got %v, want 2", r.Body["version"])
	}
	if r := f.do(f.event("history")); len(r.Body["items"].([]any)) != 2 {
		t.Errorf("history after race: got %d events, want 2 (give + one change)", len(r.Body["items"].([]any)))
	}
}

// TestConcurrentStoreWritesWithoutIfMatch races two writers that read the
// same version, as two requests without If-Match can: one must lose.
func TestConcurrentStoreWritesWithoutIfMatch(t *testing.T) {
	f := newFixture(t)
	store := dynamo.NewStores(f.local.DynamoDB, f.local.Table("PrivacyTable"), f.clock.Now).Consent
	key := personkey.Key("race")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			now := f.clock.Now()
			next := consent.State{Status: consent.StatusActive, Level: consent.Basic, Version: 1, UpdatedAt: now, Channel: consent.ChannelPortal}
			errs[i] = store.Apply(context.Background(), key, next, 0, consent.Event{ID: domain.NewID(), At: now, Action: consent.ActionGive, Level: consent.Basic, Channel: consent.ChannelPortal, Version: 1}, nil)
		})
	}
	wg.Wait()
	conflicts := 0
	for _, err := range errs {
		if err == consent.ErrVersionConflict {
			conflicts++
		} else if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if conflicts != 1 {
		t.Fatalf("got %d conflicts, want exactly 1 (errors %v)", conflicts, errs)
	}
	if got := len(f.partition(dynamo.PersonPK(key))); got != 2 {
		t.Errorf("items after race: got %d, want 2 (state + one event; the loser wrote nothing)", got)
	}
}

// seedPersonData writes what other features store for a person, plus a
// power of attorney Kari received (with its twin in the grantor's partition).
func (f *fixture) seedPersonData(pk string, usage int) (grantorPK string) {
	grantorPK = f.pk("01879000099")
	items := []map[string]any{
		{"pk": pk, "sk": "OPTOUT#scr#2026-01-01T00:00:00Z#a", "setting": "scr", "value": "opted_out"},
		{"pk": pk, "sk": "OPTOUT#scr#2026-02-01T00:00:00Z#b", "setting": "scr", "value": "restored"},
		{"pk": pk, "sk": "PROFILE#notification", "channel": "sms"},
		{"pk": pk, "sk": "PROFILE#employer", "name": "Helse Vest"},
		{"pk": pk, "sk": "NOK#1", "closest": true},
		{"pk": pk, "sk": "NOK#2", "closest": false},
		{"pk": pk, "sk": "POA#RECEIVED#g1", "grantId": "g1", "mirrorPk": grantorPK, "mirrorSk": "POA#GIVEN#g1"},
		{"pk": grantorPK, "sk": "POA#GIVEN#g1", "grantId": "g1", "mirrorPk": pk, "mirrorSk": "POA#RECEIVED#g1"},
	}
	for i := range usage {
		items = append(items, map[string]any{"pk": pk, "sk": fmt.Sprintf("USAGE#2026-11-%02dT10:00:00Z#%04d", 1+i%20, i), "service": "messages", "by": "self"})
	}
	f.seed(items...)
	return grantorPK
}

func kinds(sks []string) map[string]int {
	m := map[string]int{}
	for _, sk := range sks {
		head, _, _ := strings.Cut(sk, "#")
		m[head]++
	}
	return m
}

func TestWithdrawDeletesAllButConsentAndOptOutRecords(t *testing.T) {
	f := newFixture(t)
	f.do(f.event("give"))
	f.do(f.event("change"))
	pk := f.pk(kariPID)
	grantorPK := f.seedPersonData(pk, 60)

	r := f.do(f.event("withdraw"))
	if r.Status != 200 {
		t.Fatalf("withdraw: %d %s", r.Status, r.Raw)
	}
	wantDeleted := map[string]any{"usage": 60.0, "profile": 2.0, "nok": 2.0, "poa": 1.0}
	if fmt.Sprint(r.Body["deleted"]) != fmt.Sprint(wantDeleted) || r.Body["status"] != "done" || r.Body["reason"] != "consent_withdrawn" {
		t.Errorf("receipt: got %v, want deleted %v, status done", r.Body, wantDeleted)
	}
	got := kinds(f.partition(pk))
	want := map[string]int{"CONSENT": 1, "CONSENTLOG": 3, "OPTOUT": 2, "RECEIPT": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("left in partition: got %v, want %v", got, want)
	}
	if left := f.partition(grantorPK); len(left) != 0 {
		t.Errorf("twin of the received power of attorney: got %v left, want none", left)
	}
	if g := f.do(f.event("get")); g.Body["status"] != "withdrawn" || g.Body["level"] != nil {
		t.Errorf("state after withdrawal: got %v", g.Body)
	}
	// Withdrawing again returns the same receipt and changes nothing.
	again := f.do(f.event("withdraw"))
	if again.Status != 200 || again.Raw != r.Raw {
		t.Errorf("second withdraw: got %d %s, want the first receipt %s", again.Status, again.Raw, r.Raw)
	}
	if got := kinds(f.partition(pk)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after second withdraw: got %v, want %v", got, want)
	}
	// Consent can be given again afterwards.
	if g := f.do(f.event("give")); g.Status != 200 || g.Body["status"] != "active" {
		t.Errorf("consent after withdrawal: got %d %v", g.Status, g.Body)
	}
	if strings.Contains(f.logs.String(), kariPID) {
		t.Error("a person id reached the logs")
	}
}

func TestWithdrawWithGivenPowersOfAttorney(t *testing.T) {
	f := newFixture(t)
	f.do(f.event("give"))
	pk := f.pk(kariPID)
	granteePK := f.pk("01879000099")
	f.seed(
		map[string]any{"pk": pk, "sk": "POA#GIVEN#g7", "grantId": "g7", "areas": []string{"health_records"}, "validFrom": "2026-01-01T00:00:00Z", "validTo": "2027-01-01T00:00:00Z", "mirrorPk": granteePK, "mirrorSk": "POA#RECEIVED#g7"},
		map[string]any{"pk": granteePK, "sk": "POA#RECEIVED#g7", "grantId": "g7", "mirrorPk": pk, "mirrorSk": "POA#GIVEN#g7"},
	)
	before := f.partition(pk)

	r := f.do(f.event("withdraw"))
	if r.Status != http.StatusConflict || r.Body["code"] != "powers_of_attorney_given" {
		t.Fatalf("withdraw with given POA: got %d %s, want 409 powers_of_attorney_given", r.Status, r.Raw)
	}
	poas, _ := r.Body["powersOfAttorney"].([]any)
	if len(poas) != 1 || poas[0].(map[string]any)["id"] != "g7" {
		t.Errorf("409 lists %v, want grant g7", r.Body["powersOfAttorney"])
	}
	if after := f.partition(pk); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("409 changed data: before %v, after %v", before, after)
	}
	if strings.Contains(r.Raw, granteePK) {
		t.Error("409 body names the other person's key")
	}

	r = f.do(f.event("withdraw-cascade"))
	if r.Status != 200 || fmt.Sprint(r.Body["deleted"]) != "map[poa:1]" {
		t.Fatalf("withdraw confirming cascade: got %d %s", r.Status, r.Raw)
	}
	if left := f.partition(granteePK); len(left) != 0 {
		t.Errorf("grantee's side left: %v", left)
	}
}

// failingDB fails BatchWriteItem after a number of successful calls, as a
// crash half-way through a deletion would.
type failingDB struct {
	dynamo.DB
	mu        sync.Mutex
	okBatches int
}

func (d *failingDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	d.mu.Lock()
	if d.okBatches == 0 {
		d.mu.Unlock()
		return nil, fmt.Errorf("injected crash")
	}
	d.okBatches--
	d.mu.Unlock()
	return d.DB.BatchWriteItem(ctx, in, opts...)
}

func TestWithdrawResumesAfterCrash(t *testing.T) {
	f := newFixture(t)
	f.do(f.event("give"))
	pk := f.pk(kariPID)
	f.seedPersonData(pk, 200)

	table := f.local.Table("PrivacyTable")
	crashing := dynamo.NewStores(&failingDB{DB: f.local.DynamoDB, okBatches: 3}, table, f.clock.Now)
	svc := &consent.Service{Store: crashing.Consent, Eraser: crashing.Eraser, Grants: crashing.Grants, Now: f.clock.Now, NewID: domain.NewID}
	h := consentapi.New(svc, f.keys, obs.NewLogger(syncWriter(f.logs), nil))
	resp, _ := h.Handle(context.Background(), f.event("withdraw"))
	apispec.Check(t, f.event("withdraw"), resp)
	if resp.StatusCode != 500 || strings.Contains(resp.Body, "injected") {
		t.Fatalf("crashed withdraw: got %d %s, want 500 without internal text", resp.StatusCode, resp.Body)
	}
	if left := len(f.partition(pk)); left <= 6 {
		t.Fatalf("the injected crash did not leave work to resume (%d items left)", left)
	}
	r := f.do(f.event("withdraw"))
	want := map[string]any{"usage": 200.0, "profile": 2.0, "nok": 2.0, "poa": 1.0}
	if r.Status != 200 || fmt.Sprint(r.Body["deleted"]) != fmt.Sprint(want) || r.Body["status"] != "done" {
		t.Fatalf("resumed withdraw: got %d %s, want counts %v", r.Status, r.Raw, want)
	}
	if got := kinds(f.partition(pk)); fmt.Sprint(got) != "map[CONSENT:1 CONSENTLOG:2 OPTOUT:2 RECEIPT:1]" {
		t.Errorf("left after resume: %v", got)
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func syncWriter(b *bytes.Buffer) *lockedWriter { return &lockedWriter{w: b} }
