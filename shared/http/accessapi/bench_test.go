package accessapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"privacycore/infra/emulator"
	"privacycore/infra/testenv"
	"privacycore/shared/domain"
	"privacycore/shared/domain/access"
	"privacycore/shared/domain/nin"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
	"privacycore/shared/dynamo"
	"privacycore/shared/http/accessapi"
	"privacycore/shared/platform/obs"
)

func TestMain(m *testing.M) {
	code := m.Run()
	emulator.StopShared()
	os.Exit(code)
}

// roundTrips counts DynamoDB calls, each one network round trip.
type roundTrips struct {
	dynamo.DB
	n atomic.Int64
}

func (c *roundTrips) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	c.n.Add(1)
	return c.DB.BatchGetItem(ctx, in, o...)
}

func (c *roundTrips) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.n.Add(1)
	return c.DB.GetItem(ctx, in, o...)
}

func (c *roundTrips) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	c.n.Add(1)
	return c.DB.Query(ctx, in, o...)
}

func (c *roundTrips) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	c.n.Add(1)
	return c.DB.PutItem(ctx, in, o...)
}

// decisionFixture has Kari (full consent) who gave Ola a power of attorney.
func decisionFixture(tb testing.TB) (*accessapi.Handler, *roundTrips) {
	tb.Helper()
	local := testenv.New(tb)
	table := local.Table("PrivacyTable")
	rt := &roundTrips{DB: local.DynamoDB}
	store := dynamo.NewStores(rt, table, time.Now)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	kari, _ := nin.Parse("14838500073")
	ola, _ := nin.Parse("01879000099")
	now := time.Now()
	if err := store.Consent.Apply(context.Background(), keys.Key(kari), consentState(now), 0, consentEvent(now), nil); err != nil {
		tb.Fatal(err)
	}
	g := poa.Grant{ID: domain.NewID(), Grantor: keys.Key(kari), Grantee: keys.Key(ola), Areas: []access.Area{access.AreaHealthData},
		ValidFrom: now.Add(-time.Hour), ValidTo: now.Add(24 * time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}
	if err := store.Grants.CreateGrant(context.Background(), g); err != nil {
		tb.Fatal(err)
	}
	dec := &access.Decider{Records: store.Access, Usage: store.Usage, Keys: keys, IDs: nin.Rules{AllowSynthetic: true}, Now: time.Now, NewID: domain.NewID}
	h := accessapi.New(accessapi.Handler{Access: dec, Log: obs.NewLogger(io.Discard, nil)})
	return h, rt
}

func decide(tb testing.TB, h *accessapi.Handler, pid, body string) map[string]any {
	ev := testenv.HTTPEvent(tb, "access/decide-self.json")
	ev.RequestContext.Authorizer.JWT.Claims["pid"] = pid
	ev.Body = body
	out, err := h.Handle(context.Background(), ev)
	if err != nil || out.StatusCode != 200 {
		tb.Fatalf("decide: %d %s %v", out.StatusCode, out.Body, err)
	}
	var m map[string]any
	_ = json.Unmarshal([]byte(out.Body), &m)
	return m
}

func TestRoundTripsPerDecision(t *testing.T) {
	h, rt := decisionFixture(t)
	tests := []struct {
		name, pid, body string
		want            int64
	}{
		{"self", "14838500073", `{"service":"medicines"}`, 1},
		{"attorney", "01879000099", `{"service":"medicines","subject":"14838500073"}`, 1},
		{"self, recording the use", "14838500073", `{"service":"medicines","recordUse":true}`, 2},
		{"attorney, recording the use", "01879000099", `{"service":"medicines","subject":"14838500073","recordUse":true}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt.n.Store(0)
			if d := decide(t, h, tt.pid, tt.body); d["allowed"] != true {
				t.Fatalf("denied: %v", d)
			}
			if got := rt.n.Load(); got != tt.want {
				t.Errorf("round trips: got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestDeadActorOneRoundTrip: the actor's death marker is read in the same
// batch as everything else, so denying a dead attorney costs no extra call.
func TestDeadActorOneRoundTrip(t *testing.T) {
	h, rt := decisionFixture(t)
	keys, _ := personkey.New([]byte(personkey.DevSecret))
	ola, _ := nin.Parse("01879000099")
	table := h.Access.Records.(dynamo.AccessStore).Table
	if _, err := (dynamo.DeathStore{Table: table}).RecordDeath(context.Background(), keys.Key(ola), "frg-rt-1", time.Now(), time.Now().Add(30*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	rt.n.Store(0)
	d := decide(t, h, "01879000099", `{"service":"medicines","subject":"14838500073"}`)
	if d["rule"] != "actor_deceased" || d["role"] != "attorney" {
		t.Errorf("dead attorney: %v", d)
	}
	if got := rt.n.Load(); got != 1 {
		t.Errorf("round trips: got %d, want 1", got)
	}
}

// BenchmarkDecision reports DynamoDB round trips per decision over HTTP.
func BenchmarkDecision(b *testing.B) {
	h, rt := decisionFixture(b)
	for _, c := range []struct{ name, pid, body string }{
		{"self", "14838500073", `{"service":"medicines"}`},
		{"attorney", "01879000099", `{"service":"medicines","subject":"14838500073"}`},
	} {
		b.Run(c.name, func(b *testing.B) {
			rt.n.Store(0)
			for b.Loop() {
				decide(b, h, c.pid, c.body)
			}
			b.ReportMetric(float64(rt.n.Load())/float64(b.N), "round-trips/op")
			fmt.Printf("decision_calls_%s=%d\n", c.name, (rt.n.Load()+int64(b.N)-1)/int64(b.N))
		})
	}
}
