package workers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"privacycore/infra/testenv"
	"privacycore/shared/domain/idchange"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/profile"
	"privacycore/shared/dynamo"
)

// changeID delivers a person_id_changed notice prev → cur, as the register
// would send it, and returns the worker's answer.
func (w *world) changeID(noticeID, prev, cur string) events.SQSEventResponse {
	w.t.Helper()
	return w.notice(map[string]any{"noticeId": noticeID, "type": "person_id_changed", "previous": prev, "current": cur})
}

// notice delivers one register notice with fields (version and event time
// added) and returns the worker's answer.
func (w *world) notice(fields map[string]any) events.SQSEventResponse {
	w.t.Helper()
	var ev events.SQSEvent
	testenv.LoadEvent(w.t, "notices/person-id-changed.json", &ev)
	fields["version"], fields["eventTime"] = 1, w.clock.Now().Format(time.RFC3339)
	body, _ := json.Marshal(fields)
	ev.Records[0].Body = string(body)
	return w.deliverEvent(ev)
}

func (w *world) changeIDOK(noticeID, prev, cur string) {
	w.t.Helper()
	if resp := w.changeID(noticeID, prev, cur); len(resp.BatchItemFailures) > 0 {
		w.t.Fatalf("%s: %v\n%s", noticeID, resp.BatchItemFailures, w.logs.String())
	}
}

func (w *world) stores() *dynamo.Stores {
	return dynamo.NewStores(w.local.DynamoDB, w.local.Table("PrivacyTable"), w.clock.Now)
}

func (w *world) key(pid string) personkey.Key {
	id, err := nin.Parse(pid)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.keys.Key(id)
}

// addKin gives pid a next-of-kin list (the first is the closest), changed at.
func (w *world) addKin(pid string, at time.Time, names ...string) {
	w.t.Helper()
	k := profile.Kin{Version: 1, UpdatedAt: at}
	for i, n := range names {
		k.Items = append(k.Items, profile.NextOfKin{ID: pid[:4] + n, Name: n, Phone: fmt.Sprintf("+47910000%02d", len(n)*10+i), Relation: "sibling", AddedAt: at})
	}
	k.Closest = k.Items[0].ID
	if err := w.stores().Profile.SaveNextOfKin(context.Background(), w.key(pid), k, 0); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) kin(pid string) (names []string, closest string) {
	w.t.Helper()
	k, err := w.stores().Profile.NextOfKin(context.Background(), w.key(pid))
	if err != nil {
		w.t.Fatal(err)
	}
	for _, n := range k.Items {
		names = append(names, n.Name)
		if n.ID == k.Closest {
			closest = n.Name
		}
	}
	slices.Sort(names)
	return names, closest
}

// The register's notices come in any order. A→B and B→C, delivered either
// way round, must leave everything A and B held under C, with next of kin
// merged and the newest consent in force; a replay of both changes nothing.
func TestIDChangesInAnyOrder(t *testing.T) {
	a, b, c := dnum, fnr, ola
	for _, order := range [][2]string{{"A→B", "B→C"}, {"B→C", "A→B"}} {
		t.Run(strings.Join(order[:], ", then "), func(t *testing.T) {
			w := newWorld(t)
			w.api(a, "give", `{"level":"basic_plus"}`) // the oldest consent
			w.addKin(a, w.clock.Now(), "Anna")
			w.api(b, "give", `{"level":"full"}`) // the newest consent
			w.addKin(b, w.clock.Now(), "Bo", "Bea")
			w.addKin(c, w.clock.Now().Add(-time.Hour), "Cia")
			w.put(
				map[string]any{"pk": w.pk(a), "sk": "USAGE#2026-11-01#a", "service": "messages"},
				map[string]any{"pk": w.pk(b), "sk": "USAGE#2026-11-02#b", "service": "messages"},
			)
			before := len(w.sortKeys(w.pk(a))) + len(w.sortKeys(w.pk(b))) + len(w.sortKeys(w.pk(c)))
			notices := map[string][2]string{"A→B": {a, b}, "B→C": {b, c}}
			for i, name := range order {
				w.changeIDOK(fmt.Sprint("frg-order-", i, name[:1]), notices[name][0], notices[name][1])
			}
			for _, old := range []string{a, b} {
				if left := w.sortKeys(w.pk(old)); len(left) != 0 {
					t.Errorf("left under a retired id: %v", left)
				}
			}
			sks := w.sortKeys(w.pk(c))
			// Three of the items were the same kind of record under two or
			// three ids (consent twice, next of kin three times): merged.
			if got, want := len(sks), before-3; got != want {
				t.Errorf("C holds %d items, want %d: %v", got, want, sks)
			}
			for _, want := range []string{"USAGE#2026-11-01#a", "USAGE#2026-11-02#b"} {
				if !slices.Contains(sks, want) {
					t.Errorf("lost %s", want)
				}
			}
			if n := testenv.CountPrefix(sks, "CONSENTLOG#"); n != 2 {
				t.Errorf("consent history has %d entries, want both ids' 2", n)
			}
			if s, body := w.api(c, "get", ""); s != 200 || body["level"] != "full" {
				t.Errorf("consent under C: %d %v, want B's newest full", s, body)
			}
			names, closest := w.kin(c)
			if fmt.Sprint(names) != "[Anna Bea Bo Cia]" || closest != "Bo" {
				t.Errorf("next of kin under C: %v closest %q, want all four and B's closest Bo", names, closest)
			}
			// Replays change nothing.
			for i, name := range order {
				w.changeIDOK(fmt.Sprint("frg-order-", i, name[:1]), notices[name][0], notices[name][1])
			}
			if again := w.sortKeys(w.pk(c)); !slices.Equal(again, sks) {
				t.Errorf("a replay changed C: %v", again)
			}
			if strings.Contains(w.logs.String(), "dead-letter") {
				t.Errorf("a notice was rejected:\n%s", w.logs.String())
			}
		})
	}
}

// X→Y then Y→X would move Y's data onto a retired id: refused to the
// dead-letter queue with a reason, and nothing moves or is lost. So is a
// change of X to a third id that contradicts X→Y.
func TestIDChangeCycleIsRefused(t *testing.T) {
	x, y, z := dnum, fnr, ola
	w := newWorld(t)
	w.addKin(x, w.clock.Now(), "Xena")
	w.addKin(y, w.clock.Now(), "Yann")
	w.changeIDOK("frg-cycle-1", x, y)
	want := w.sortKeys(w.pk(y))
	for _, n := range []struct{ id, prev, cur, reason string }{
		{"frg-cycle-2", y, x, "cycle"},
		{"frg-cycle-3", x, z, "already changed to a different id"},
	} {
		for delivery := 1; delivery <= 2; delivery++ {
			resp := w.changeID(n.id, n.prev, n.cur)
			if len(resp.BatchItemFailures) != 1 {
				t.Fatalf("%s delivery %d: failures %v, want the notice refused", n.id, delivery, resp.BatchItemFailures)
			}
		}
		logs := w.logs.String()
		if !strings.Contains(logs, "dead-letter") || !strings.Contains(logs, n.reason) {
			t.Errorf("%s: the log does not give the reason %q:\n%s", n.id, n.reason, logs)
		}
	}
	if got := w.sortKeys(w.pk(y)); !slices.Equal(got, want) {
		t.Errorf("Y changed: %v, want %v", got, want)
	}
	if left := append(w.sortKeys(w.pk(x)), w.sortKeys(w.pk(z))...); len(left) != 0 {
		t.Errorf("data appeared under X or Z: %v", left)
	}
	if names, closest := w.kin(y); fmt.Sprint(names) != "[Xena Yann]" || closest != "Yann" {
		t.Errorf("next of kin under Y: %v closest %q", names, closest)
	}
}

// seedOntoData gives the D-number (A) and the fødselsnummer (B) data of the
// same kinds: consent (B's newer), next of kin, A's channel and B's
// employer, the same power of attorney to Kari (A's newer), settings (A's
// newer, with a pending summary care record purge), and death markers (A's
// registered, B's annulled).
func (w *world) seedOntoData() {
	w.t.Helper()
	t := w.t
	a, b := dnum, fnr
	ctx := context.Background()
	st := w.stores()
	w.api(a, "give", `{"level":"full"}`)
	w.addKin(a, w.clock.Now(), "Anna")
	if err := st.Profile.SetNotificationChannel(ctx, w.key(a), "sms", w.clock.Now()); err != nil {
		t.Fatal(err)
	}
	w.api(b, "give", `{"level":"basic"}`) // newer than A's
	w.addKin(b, w.clock.Now(), "Bo")
	if err := st.Profile.SetEmployer(ctx, w.key(b), profile.Employer{Name: "Sykehuset", UpdatedAt: w.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	apk, bpk, k := w.pk(a), w.pk(b), w.pk(kari)
	kk := strings.TrimPrefix(k, "P#")
	older, newer := "2026-11-01T10:00:00.000000000Z", "2026-11-02T10:00:00.000000000Z"
	w.put(
		map[string]any{"pk": apk, "sk": "POA#GIVEN#" + kk, "grantId": "ga", "updatedAt": newer, "mirrorPk": k, "mirrorSk": "POA#RECEIVED#" + strings.TrimPrefix(apk, "P#")},
		map[string]any{"pk": k, "sk": "POA#RECEIVED#" + strings.TrimPrefix(apk, "P#"), "grantId": "ga", "updatedAt": newer, "mirrorPk": apk, "mirrorSk": "POA#GIVEN#" + kk},
		map[string]any{"pk": bpk, "sk": "POA#GIVEN#" + kk, "grantId": "gb", "updatedAt": older, "mirrorPk": k, "mirrorSk": "POA#RECEIVED#" + strings.TrimPrefix(bpk, "P#")},
		map[string]any{"pk": k, "sk": "POA#RECEIVED#" + strings.TrimPrefix(bpk, "P#"), "grantId": "gb", "updatedAt": older, "mirrorPk": bpk, "mirrorSk": "POA#GIVEN#" + kk},
	)
	// A's settings are newer and wait for a summary care record purge: the
	// job must follow them to B.
	w.put(
		map[string]any{"pk": apk, "sk": "SETTINGS", "scrOptedOut": true, "scrPurgeJob": "j-scr-a", "version": 2, "updatedAt": newer},
		map[string]any{"pk": "JOB#j-scr-a", "sk": "JOB", "jobId": "j-scr-a", "personKey": strings.TrimPrefix(apk, "P#"), "status": "pending"},
		map[string]any{"pk": bpk, "sk": "SETTINGS", "emergencyBlock": true, "version": 5, "updatedAt": older},
	)
	// A's death is registered, B's (older) one was annulled: A's stays.
	w.put(
		map[string]any{"pk": apk, "sk": "DECEASED", "status": "pending", "noticeId": "d-a", "jobId": "j-death-a"},
		map[string]any{"pk": "JOB#j-death-a", "sk": "JOB", "jobId": "j-death-a", "personKey": strings.TrimPrefix(apk, "P#"), "status": "pending"},
		map[string]any{"pk": bpk, "sk": "DECEASED", "status": "annulled", "noticeId": "d-b"},
	)
}

// A new id that already holds data: each kind of record merges by its rule,
// and nothing goes without one. The same power of attorney given under
// both ids keeps the newer grant, and Kari, its other side, ends with one
// grant from the person, not two, and none naming the retired id.
func TestIDChangeOntoAnIDWithData(t *testing.T) {
	a, b := dnum, fnr
	w := newWorld(t)
	ctx := context.Background()
	st := w.stores()
	w.seedOntoData()
	apk, bpk, k := w.pk(a), w.pk(b), w.pk(kari)
	kk := strings.TrimPrefix(k, "P#")
	consentB := w.item(bpk, "CONSENT")
	nA, nB := len(w.sortKeys(apk)), len(w.sortKeys(bpk))

	w.changeIDOK("frg-onto-1", a, b)

	if left := w.sortKeys(apk); len(left) != 0 {
		t.Errorf("left under A: %v", left)
	}
	// Merged: consent, settings, next of kin, the grant, the death marker.
	// Everything else moved.
	if got := len(w.sortKeys(bpk)); got != nA+nB-5 {
		t.Errorf("B holds %d items, want %d + %d - 5 merged", got, nA, nB)
	}
	if m := w.item(bpk, "DECEASED"); m["status"] != "pending" || m["noticeId"] != "d-a" {
		t.Errorf("death marker under B: %v, want A's registered death", m)
	}
	if job := w.item("JOB#j-death-a", "JOB"); job["personKey"] != strings.TrimPrefix(bpk, "P#") {
		t.Errorf("the death's job was not repointed to B: %v", job)
	}
	if st := w.item(bpk, "SETTINGS"); st["scrPurgeJob"] != "j-scr-a" || st["emergencyBlock"] == true || st["version"] != 6.0 {
		t.Errorf("settings: %v, want A's newer settings at version 6", st)
	}
	if job := w.item("JOB#j-scr-a", "JOB"); job["personKey"] != strings.TrimPrefix(bpk, "P#") {
		t.Errorf("the purge job was not repointed to B: %v", job)
	}
	consent := w.item(bpk, "CONSENT")
	if consent["level"] != "basic" || consent["version"].(float64) <= consentB["version"].(float64) {
		t.Errorf("consent: %v, want B's newer basic at a version above both", consent)
	}
	if s, body := w.api(b, "history", ""); s != 200 || len(body["items"].([]any)) != 2 {
		t.Errorf("consent history under B: %d %v, want both ids' entries", s, body)
	}
	if names, closest := w.kin(b); fmt.Sprint(names) != "[Anna Bo]" || closest != "Bo" {
		t.Errorf("next of kin: %v closest %q", names, closest)
	}
	p, err := st.Profile.Profile(ctx, w.key(b))
	if err != nil {
		t.Fatal(err)
	}
	if p.Channel != "sms" || p.Employer == nil || p.Employer.Name != "Sykehuset" {
		t.Errorf("profile: channel %q employer %+v, want A's channel and B's employer", p.Channel, p.Employer)
	}
	if g := w.item(bpk, "POA#GIVEN#"+kk); g["grantId"] != "ga" || g["mirrorSk"] != "POA#RECEIVED#"+strings.TrimPrefix(bpk, "P#") {
		t.Errorf("grant under B: %v, want A's newer grant ga pointing at B's side", g)
	}
	ks := w.sortKeys(k)
	if fmt.Sprint(ks) != "[POA#RECEIVED#"+strings.TrimPrefix(bpk, "P#")+"]" {
		t.Errorf("Kari's side: %v, want one grant received from B", ks)
	}
	if g := w.item(k, "POA#RECEIVED#"+strings.TrimPrefix(bpk, "P#")); g["grantId"] != "ga" || g["mirrorPk"] != bpk {
		t.Errorf("Kari's side: %v, want ga pointing at B", g)
	}
	if !strings.Contains(w.logs.String(), `"mergedThisSlice":5`) {
		t.Errorf("the merge is not in the log:\n%s", w.logs.String())
	}
}

// A notice sent before an id change can arrive after it: a death, and its
// annulment, about the retired id apply to the person under the id in use
// now, and nothing is written under the retired one.
func TestNoticesAboutARetiredIDFollowTheChain(t *testing.T) {
	a, b, c := dnum, fnr, ola
	w := newWorld(t)
	w.api(a, "give", `{"level":"full"}`)
	w.changeIDOK("frg-chain-1", a, b)
	w.changeIDOK("frg-chain-2", b, c)
	if resp := w.notice(map[string]any{"noticeId": "frg-chain-death", "type": "death", "person": a}); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("death: %v\n%s", resp.BatchItemFailures, w.logs.String())
	}
	if m := w.item(w.pk(c), "CONSENT"); m["status"] != "withdrawn" {
		t.Errorf("consent under C after the death of A: %v, want withdrawn", m)
	}
	if m := w.item(w.pk(c), "DECEASED"); m["status"] != "pending" {
		t.Errorf("death marker under C: %v", m)
	}
	if resp := w.notice(map[string]any{"noticeId": "frg-chain-annul", "type": "death_annulled", "person": b, "annuls": "frg-chain-death"}); len(resp.BatchItemFailures) > 0 {
		t.Fatalf("annulment: %v\n%s", resp.BatchItemFailures, w.logs.String())
	}
	if m := w.item(w.pk(c), "DECEASED"); m["status"] != "annulled" {
		t.Errorf("death marker under C after the annulment: %v", m)
	}
	for _, old := range []string{a, b} {
		if left := w.sortKeys(w.pk(old)); len(left) != 0 {
			t.Errorf("written under a retired id: %v", left)
		}
	}
}

// A death that arrives while an id change is still moving the person's data
// waits (requeued with a delay, never counted towards the dead-letter
// queue) and applies, once the move is done, to everything under the new
// id: consent withdrawn, powers of attorney gone on both sides. Before,
// the move brought A's active consent and grants onto the dead B.
func TestDeathWaitsForAnUnfinishedIDChange(t *testing.T) {
	a, b := dnum, fnr
	w := newWorld(t)
	ctx := context.Background()
	w.api(a, "give", `{"level":"full"}`)
	apk, k := w.pk(a), w.pk(kari)
	w.put(
		map[string]any{"pk": apk, "sk": "POA#GIVEN#" + strings.TrimPrefix(k, "P#"), "grantId": "g1", "mirrorPk": k, "mirrorSk": "POA#RECEIVED#" + strings.TrimPrefix(apk, "P#")},
		map[string]any{"pk": k, "sk": "POA#RECEIVED#" + strings.TrimPrefix(apk, "P#"), "grantId": "g1", "mirrorPk": apk, "mirrorSk": "POA#GIVEN#" + strings.TrimPrefix(k, "P#")},
	)
	// A→B is recorded, and its move has not run yet (a crash, or a slice
	// still to come).
	if err := w.stores().IDs.Record(ctx, w.key(a), w.key(b), idchange.Change{To: w.key(b), NoticeID: "frg-wait-1"}); err != nil {
		t.Fatal(err)
	}
	url := w.local.QueueURLs["NoticesQueue"]
	for i, person := range []string{a, b} { // the old id, and the id the data moves into
		if resp := w.notice(map[string]any{"noticeId": fmt.Sprint("frg-wait-death-", i), "type": "death", "person": person}); len(resp.BatchItemFailures) > 0 {
			t.Fatalf("death of %d: %v", i, resp.BatchItemFailures)
		}
	}
	if got := strings.Count(w.logs.String(), "notice waits for an id change"); got != 2 {
		t.Errorf("%d notices waited, want 2:\n%s", got, w.logs.String())
	}
	for _, pk := range []string{apk, w.pk(b)} {
		if m := w.item(pk, "DECEASED"); len(m) != 0 {
			t.Errorf("a death was recorded before the move finished: %v", m)
		}
	}
	attrs, err := w.local.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed}})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["ApproximateNumberOfMessagesDelayed"]; got != "2" {
		t.Errorf("%s notices requeued with a delay, want 2", got)
	}
	w.changeIDOK("frg-wait-1", a, b) // the move runs
	if resp := w.notice(map[string]any{"noticeId": "frg-wait-death-0", "type": "death", "person": a}); len(resp.BatchItemFailures) > 0 {
		t.Fatal(resp.BatchItemFailures)
	}
	bpk := w.pk(b)
	if m := w.item(bpk, "CONSENT"); m["status"] != "withdrawn" {
		t.Errorf("consent under B: %v, want withdrawn", m)
	}
	if m := w.item(bpk, "DECEASED"); m["status"] != "pending" {
		t.Errorf("death marker under B: %v", m)
	}
	if kariSide, bSide := w.sortKeys(k), w.sortKeys(bpk); len(kariSide)+testenv.CountPrefix(bSide, "POA#") != 0 {
		t.Errorf("powers of attorney survived the death: Kari %v, B %v", kariSide, bSide)
	}
	if left := w.sortKeys(apk); len(left) != 0 {
		t.Errorf("left under A: %v", left)
	}
}

// An id change recorded between the death's read and its write: the write's
// condition on the id history fails, the notice reads again, finds the key
// retired and waits; nothing is written under the retired key.
func TestDeathWriteRacingAnIDChangeWritesNothing(t *testing.T) {
	w := newWorld(t)
	w.api(ola, "give", `{"level":"full"}`)
	c := newCrashClient(0, false)
	c.beforeWrite = func() {
		if err := w.stores().IDs.Record(context.Background(), w.key(ola), w.key(fnr), idchange.Change{To: w.key(fnr), NoticeID: "frg-race-1"}); err != nil {
			t.Error(err)
		}
	}
	if !w.deliverDeath(w.noticeWorkerVia(c)) {
		t.Fatalf("death notice failed:\n%s", w.logs.String())
	}
	if !strings.Contains(w.logs.String(), "notice waits for an id change") {
		t.Errorf("the death did not wait:\n%s", w.logs.String())
	}
	if m := w.item(w.pk(ola), "CONSENT"); m["status"] != "active" {
		t.Errorf("consent under the retired key changed: %v", m)
	}
	if m := w.item(w.pk(ola), "DECEASED"); len(m) != 0 {
		t.Errorf("a death marker under the retired key: %v", m)
	}
}

// The process dies at every DynamoDB write of an id change onto a new id
// that holds data (before the write reaches the table, and after it was
// applied), and the same notice comes again: the end state is the one of
// an undisturbed run. Every merge is one transaction, and what is left
// under the old key is what the redelivery moves.
func TestIDChangeCrashAtEachWriteThenRedelivery(t *testing.T) {
	notice := func(w *world) events.SQSEvent {
		var ev events.SQSEvent
		testenv.LoadEvent(t, "notices/person-id-changed.json", &ev) // dnum → fnr
		return ev
	}
	state := func(w *world) string {
		return w.endState(w.pk(dnum), w.pk(fnr), w.pk(kari), "JOB#j-scr-a", "JOB#j-death-a", "NOTICE#frg-2026-000301",
			"IDCHANGE#"+string(w.key(dnum)), "IDCHANGE#"+string(w.key(fnr)))
	}
	ref := newWorld(t)
	ref.seedOntoData()
	c := newCrashClient(0, false)
	if resp, err := ref.noticeWorkerVia(c)(context.Background(), notice(ref)); err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("id change failed: %v %v\n%s", err, resp.BatchItemFailures, ref.logs.String())
	}
	writes := c.count("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
	want := state(ref)
	if writes < 8 || !strings.Contains(want, `"moved":true`) {
		t.Fatalf("%d writes; end state:\n%s", writes, want)
	}
	for failAt := 1; failAt <= writes; failAt++ {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("write %d fails, applied %v", failAt, after), func(t *testing.T) {
				w := newWorld(t)
				w.seedOntoData()
				if resp, err := w.noticeWorkerVia(newCrashClient(failAt, after))(context.Background(), notice(w)); err != nil || len(resp.BatchItemFailures) == 0 {
					t.Fatalf("the crashing worker reported success: %v", err)
				}
				if resp := w.deliverEvent(notice(w)); len(resp.BatchItemFailures) > 0 {
					t.Fatalf("redelivery failed: %v\n%s", resp.BatchItemFailures, w.logs.String())
				}
				if got := state(w); got != want {
					t.Errorf("end state after a crash at write %d and a redelivery:\n%s\nwant:\n%s", failAt, got, want)
				}
			})
		}
	}
}
