package localrun_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"privacycore/infra/devjwt"
	"privacycore/infra/fakenhn"
	"privacycore/infra/localrun"
	"privacycore/infra/stack"
	"privacycore/infra/testenv"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
)

// feedStack is the whole local stack with its fake population register:
// the real functions, queue pollers running, schedules on demand.
type feedStack struct {
	t      *testing.T
	runner *localrun.Runner
	api    string
	v      devjwt.Verifier
	nhn    *fakenhn.Fake
	local  *stack.Local
	keys   *personkey.Keyer
}

func newFeedStack(t *testing.T) *feedStack {
	t.Helper()
	local := testenv.New(t)
	runner, v := newRunner(t, local, realTemplate(t), localrun.Registry)
	runner.RetryDelay = time.Second
	nhn := testenv.NHN(t, local)
	addr := serveWithPollers(t, runner)
	keys, err := personkey.New([]byte(personkey.DevSecret))
	if err != nil {
		t.Fatal(err)
	}
	return &feedStack{t: t, runner: runner, api: "http://" + addr, v: v, nhn: nhn, local: local, keys: keys}
}

// Test persons (synthetic ids).
const (
	ola  = "01879000099"
	kari = "14838500073"
	barn = "05851250095"
)

func (s *feedStack) consent(pid string) reply {
	s.t.Helper()
	return do(s.t, http.MethodPut, s.api+"/v1/consent", s.auth(pid), []byte(`{"level":"full"}`))
}

func (s *feedStack) auth(pid string) http.Header {
	h := bearer(mint(s.t, s.v, pid))
	h.Set("Content-Type", "application/json")
	return h
}

func (s *feedStack) event(c fakenhn.Change) int64 {
	s.t.Helper()
	seq, err := s.nhn.Register.Apply(c)
	if err != nil {
		s.t.Fatalf("register change %+v: %v", c, err)
	}
	return seq
}

func (s *feedStack) feed() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.runner.Trigger(ctx, "RegisterFeedFunction"); err != nil {
		s.t.Fatalf("RegisterFeedFunction: %v", err)
	}
}

func (s *feedStack) key(pid string) string {
	s.t.Helper()
	id, err := nin.Parse(pid)
	if err != nil {
		s.t.Fatal(err)
	}
	return dynamo.PersonPK(s.keys.Key(id))
}

func (s *feedStack) sortKeys(pid string) []string {
	return testenv.SortKeys(s.t, s.local, s.key(pid))
}

// eventually polls cond for up to 20 s (the pollers deliver within a second or two).
func (s *feedStack) eventually(what string, cond func() bool) {
	s.t.Helper()
	for range 80 {
		if cond() {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	s.t.Fatalf("timed out waiting for %s", what)
}

func (s *feedStack) consentBody(pid string) string {
	return string(do(s.t, http.MethodGet, s.api+"/v1/consent", s.auth(pid), nil).Body)
}

func (s *feedStack) item(pk, sk string) map[string]types.AttributeValue {
	s.t.Helper()
	out, err := s.local.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(s.local.Table("PrivacyTable")), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	return out.Item
}

func attr(it map[string]types.AttributeValue, name string) string {
	switch v := it[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case *types.AttributeValueMemberN:
		return v.Value
	}
	return ""
}

func (s *feedStack) cursor() string {
	return attr(s.item(dynamo.FeedCursorPK, dynamo.FeedCursorSK), "seq")
}

func (s *feedStack) deadLetters() []string {
	s.t.Helper()
	out, err := s.local.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(s.local.QueueURLs["RegisterFeedDeadLetterQueue"]), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	var bodies []string
	for _, m := range out.Messages {
		bodies = append(bodies, aws.ToString(m.Body))
	}
	return bodies
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestFeedDeath: register → feed → notices queue → worker: consent
// withdrawn and the death recorded; a death of a person the core does not
// know costs no write.
func TestFeedDeath(t *testing.T) {
	s := newFeedStack(t)
	if r := s.consent(ola); r.Status >= 300 {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: kari}) // never used the portal
	seq := s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.feed()
	s.eventually("Ola's death recorded", func() bool { return contains(s.sortKeys(ola), "DECEASED") })
	if got := attr(s.item(s.key(ola), "DECEASED"), "noticeId"); got != "pt-2" {
		t.Errorf("death notice id %q, want pt-2 (the sequence number)", got)
	}
	if body := s.consentBody(ola); !strings.Contains(body, `"status":"withdrawn"`) {
		t.Errorf("consent after death: %s", body)
	}
	if got := s.sortKeys(kari); len(got) != 0 {
		t.Errorf("unknown person's partition has %v; want nothing written", got)
	}
	if got := attr(s.item("NOTICE#pt-1", "NOTICE"), "type"); got != "" {
		t.Errorf("a notice about an unknown person was applied")
	}
	if got, want := s.cursor(), "2"; got != want || seq != 2 {
		t.Errorf("cursor %s, want %s", got, want)
	}
}

// TestFeedAnnulmentWithin30Days: a death annulled before the purge stops
// the deletion; 31 days on, the sweep deletes nothing.
func TestFeedAnnulmentWithin30Days(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.feed()
	s.eventually("death recorded", func() bool { return attr(s.item(s.key(ola), "DECEASED"), "status") == "pending" })
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeathAnnulled, PID: ola})
	s.feed()
	s.eventually("death annulled", func() bool { return attr(s.item(s.key(ola), "DECEASED"), "status") == "annulled" })
	if got := attr(s.item(s.key(ola), "DECEASED"), "annulNoticeId"); got != "pt-2" {
		t.Errorf("annulled by %q, want pt-2", got)
	}
	s.runner.Clock.Advance(31 * 24 * time.Hour)
	if _, err := s.runner.Trigger(context.Background(), "SweeperFunction"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a purge, were one queued, would run within this
	if !contains(s.sortKeys(ola), "CONSENT") {
		t.Errorf("data deleted despite the annulment: %v", s.sortKeys(ola))
	}
}

// TestFeedAnnulmentSamePage: a death and its annulment read in one page:
// the register already shows no death, so nothing is sent for either.
func TestFeedAnnulmentSamePage(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeathAnnulled, PID: ola})
	s.feed()
	if got := s.cursor(); got != "2" {
		t.Errorf("cursor %s, want 2 (not held)", got)
	}
	time.Sleep(time.Second)
	if body := s.consentBody(ola); !strings.Contains(body, `"status":"active"`) {
		t.Errorf("consent after a death annulled before it was read: %s", body)
	}
}

// TestFeedParentalResponsibility: set gives the parent access; ended takes it away.
func TestFeedParentalResponsibility(t *testing.T) {
	s := newFeedStack(t)
	s.consent(kari)
	decide := func() string {
		r := do(t, http.MethodPost, s.api+"/v1/access/decisions", s.auth(kari), []byte(`{"service":"messages","subject":"`+barn+`"}`))
		return string(r.Body)
	}
	s.event(fakenhn.Change{Type: fakenhn.ChangeParentSet, Parent: kari, Child: barn})
	s.feed()
	s.eventually("Kari may act for the child", func() bool { return strings.Contains(decide(), `"allowed":true`) })
	s.event(fakenhn.Change{Type: fakenhn.ChangeParentEnded, Parent: kari, Child: barn})
	s.feed()
	s.eventually("Kari's access ended", func() bool { return strings.Contains(decide(), `"rule":"no_relation"`) })
}

// TestFeedIDChange: the person's data moves to the new id.
func TestFeedIDChange(t *testing.T) {
	s := newFeedStack(t)
	const newID = "14838500154"
	if !nin.Valid(newID) {
		t.Fatalf("test id %s is not valid", newID)
	}
	s.consent(kari)
	s.event(fakenhn.Change{Type: fakenhn.ChangeIDChange, PID: kari, NewPID: newID})
	s.feed()
	s.eventually("data under the new id", func() bool { return contains(s.sortKeys(newID), "CONSENT") })
	if got := s.sortKeys(kari); len(got) != 0 {
		t.Errorf("old id's partition still holds %v", got)
	}
	if body := s.consentBody(newID); !strings.Contains(body, `"status":"active"`) {
		t.Errorf("consent under the new id: %s", body)
	}
}

// TestFeedReplayedPage: an operator moves the cursor back (README,
// Operations); the page is read and sent again with the same notice ids,
// and the worker applies nothing twice.
func TestFeedReplayedPage(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.feed()
	s.eventually("death recorded", func() bool { return contains(s.sortKeys(ola), "DECEASED") })
	before := s.sortKeys(ola)
	ctx := context.Background()
	store := dynamo.FeedStore{DB: s.local.DynamoDB, Table: s.local.Table("PrivacyTable"), Now: time.Now}
	cur, _, err := store.Cursor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur.Seq = 0
	if err := store.SetCursor(ctx, cur, 1, true); err != nil {
		t.Fatal(err)
	}
	requests := s.nhn.Register.Requests()
	s.feed()
	if s.nhn.Register.Requests() == requests || s.cursor() != "1" {
		t.Fatalf("the replay read nothing (cursor %s)", s.cursor())
	}
	time.Sleep(2 * time.Second) // the re-sent notice reaches the worker
	if after := s.sortKeys(ola); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("replay changed the partition:\nbefore %v\nafter  %v", before, after)
	}
	hist := string(do(t, http.MethodGet, s.api+"/v1/consent/history", s.auth(ola), nil).Body)
	if n := strings.Count(hist, `"channel":"registry"`); n != 1 {
		t.Errorf("%d register withdrawals in the history, want 1:\n%s", n, hist)
	}
}

// TestFeedThrottledThenSuccess: 429 with Retry-After, then the answer.
func TestFeedThrottledThenSuccess(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.nhn.Register.Throttle(http.StatusTooManyRequests, "1", 2)
	s.nhn.Register.Throttle(http.StatusServiceUnavailable, "", 1)
	start := time.Now()
	s.feed()
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("run took %v; Retry-After: 1 twice should take at least 2 s", took)
	}
	s.eventually("death recorded", func() bool { return contains(s.sortKeys(ola), "DECEASED") })
	if got := s.cursor(); got != "1" {
		t.Errorf("cursor %s, want 1", got)
	}
}

// TestFeedTokenExpiresMidRun: HelseID's token stops being accepted after
// the first call of a run; the client gets a new one and the run completes.
func TestFeedTokenExpiresMidRun(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.feed() // warm: a token is cached
	issued := s.nhn.HelseID.Issued()
	s.consent(kari)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: kari})
	first := s.nhn.Register.Requests() + 1
	s.nhn.Register.AfterRequest = func(n int) {
		if n == first {
			s.nhn.HelseID.ExpireTokens()
		}
	}
	s.feed()
	s.eventually("Kari's death recorded", func() bool { return contains(s.sortKeys(kari), "DECEASED") })
	if got := s.nhn.HelseID.Issued(); got != issued+1 {
		t.Errorf("tokens issued during the run: %d, want 1 renewal", got-issued)
	}
}

// TestFeedPoisonedEvent: an event the feed cannot translate goes to the
// dead-letter queue with its sequence number; the feed goes on past it.
func TestFeedPoisonedEvent(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	poison := s.event(fakenhn.Change{Type: fakenhn.ChangePoison})
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: ola})
	s.feed()
	s.eventually("death after the poisoned event recorded", func() bool { return contains(s.sortKeys(ola), "DECEASED") })
	dls := s.deadLetters()
	if len(dls) != 1 {
		t.Fatalf("dead letters %v, want 1", dls)
	}
	var dl struct{ SequenceNumber, EventType, Reason string }
	if err := json.Unmarshal([]byte(dls[0]), &dl); err != nil || dl.SequenceNumber != "1" || poison != 1 || dl.Reason == "" {
		t.Errorf("dead letter %s: want sequence number 1 and a reason", dls[0])
	}
	for _, id := range []string{ola, "0000000000"} {
		if strings.Contains(dls[0], id) {
			t.Errorf("dead letter names a person id: %s", dls[0])
		}
	}
	if got := s.cursor(); got != "2" {
		t.Errorf("cursor %s, want 2", got)
	}
}

// TestConsentRefusedForADeadPerson: the register reports a death the core
// never recorded (the person was unknown to it); giving consent looks the
// person up and is refused, and nothing is stored.
func TestConsentRefusedForADeadPerson(t *testing.T) {
	s := newFeedStack(t)
	s.event(fakenhn.Change{Type: fakenhn.ChangeDeath, PID: kari})
	r := s.consent(kari)
	if r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), `"code":"deceased"`) {
		t.Fatalf("consent for a dead person: %d %s; want 403 deceased", r.Status, r.Body)
	}
	s.event(fakenhn.Change{Type: fakenhn.ChangeDiscontinued, PID: barn})
	if r := s.consent(barn); r.Status != http.StatusForbidden || !strings.Contains(string(r.Body), `"code":"discontinued"`) {
		t.Errorf("consent for a discontinued person: %d %s; want 403 discontinued", r.Status, r.Body)
	}
	for _, pid := range []string{kari, barn} {
		if got := s.sortKeys(pid); len(got) != 0 {
			t.Errorf("refused consent wrote %v", got)
		}
	}
}

// TestConsentWhenTheRegisterIsDown: the register answers 503 to every
// try; within the 2 s budget consent is refused with 503
// register_unavailable and nothing stored; once it answers, consent works.
// A slow register is the same case: the budget runs out.
func TestConsentWhenTheRegisterIsDown(t *testing.T) {
	s := newFeedStack(t)
	s.nhn.Register.Throttle(http.StatusServiceUnavailable, "", 20)
	start := time.Now()
	r := s.consent(ola)
	took := time.Since(start)
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), `"code":"register_unavailable"`) {
		t.Fatalf("consent with the register down: %d %s; want 503 register_unavailable", r.Status, r.Body)
	}
	if took > 4*time.Second {
		t.Errorf("the citizen waited %v; the budget is 2 s", took)
	}
	if got := s.sortKeys(ola); len(got) != 0 {
		t.Errorf("refused consent wrote %v", got)
	}
	s.nhn.Register.Delay = 3 * time.Second
	if r := s.consent(ola); r.Status != http.StatusServiceUnavailable {
		t.Errorf("consent with a slow register: %d %s; want 503", r.Status, r.Body)
	}
	s.nhn.Register.Delay = 0
	s.nhn.Register.Throttle(0, "", 0)
	for range 20 { // drain what is left of the 503s
		if r = s.consent(ola); r.Status == http.StatusOK {
			break
		}
	}
	if r.Status != http.StatusOK {
		t.Errorf("consent once the register answers: %d %s", r.Status, r.Body)
	}
}

// TestProfileContactDetailsFromTheRegister: the profile shows the contact
// register's details, read through Persontjenesten, never stored.
func TestProfileContactDetailsFromTheRegister(t *testing.T) {
	s := newFeedStack(t)
	s.consent(ola)
	s.event(fakenhn.Change{Type: fakenhn.ChangeContact, PID: ola, Email: "ola@example.invalid", Phone: "+4791234567"})
	r := do(t, http.MethodGet, s.api+"/v1/profile", s.auth(ola), nil)
	if !strings.Contains(string(r.Body), `"email":"ola@example.invalid"`) || !strings.Contains(string(r.Body), `+4791234567`) {
		t.Fatalf("profile: %d %s; want the register's contact details", r.Status, r.Body)
	}
	for _, sk := range s.sortKeys(ola) {
		if strings.Contains(sk, "CONTACT") {
			t.Errorf("contact details stored under %s", sk)
		}
	}
}

// TestConsentImportsExistingChildren: parental responsibility registered
// before either person used the portal is skipped by the feed (nobody
// known); when the parent gives consent, the look-up brings the child.
func TestConsentImportsExistingChildren(t *testing.T) {
	s := newFeedStack(t)
	s.event(fakenhn.Change{Type: fakenhn.ChangeParentSet, Parent: kari, Child: barn})
	s.feed()
	if got := s.sortKeys(kari); len(got) != 0 {
		t.Fatalf("the feed wrote %v for persons nobody knew", got)
	}
	if r := s.consent(kari); r.Status != http.StatusOK {
		t.Fatalf("consent: %d %s", r.Status, r.Body)
	}
	decide := func() string {
		return string(do(t, http.MethodPost, s.api+"/v1/access/decisions", s.auth(kari), []byte(`{"service":"messages","subject":"`+barn+`"}`)).Body)
	}
	s.eventually("Kari may act for the child", func() bool { return strings.Contains(decide(), `"allowed":true`) })
}
