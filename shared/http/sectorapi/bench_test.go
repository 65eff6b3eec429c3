package sectorapi_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/infra/testenv"
	"privacycore/shared/domain/personkey"
	"privacycore/shared/dynamo"
)

// BenchmarkSectorDecision times a sector decision over the real handler
// against one GetItem of the same person's settings (the floor any decision
// that reads the table pays), and counts DynamoDB calls per decision. It
// prints sector_decision_calls=<n> and sector_decision_vs_getitem=<ratio>.
func BenchmarkSectorDecision(b *testing.B) {
	w := newWorld(b)
	w.consent(kari)
	w.call("settings", "sector-settings/prescriptions.json", body(`{"limitedPrescriptions":[],"blockedProfessionals":["1234567"],"onlyGP":true}`))
	w.call("settings", "sector-settings/summary-care-record.json")
	key := map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(personkey.Key(w.ref(kari)))},
		"sk": &types.AttributeValueMemberS{Value: "SECTORSETTINGS"},
	}
	table := w.local.Table("PrivacyTable")
	ev := testenv.HTTPEvent(b, "sector/decide-prescription.json")
	// Only-GP is set: the GP register's stand-in is asked too. The handler is
	// called directly (no contract check in the loop).
	ev.Body = `{"person":"14838500073","professional":"7654321","resource":"prescription","prescriptionId":"` + rxX + `"}`
	getItem := func(b *testing.B) {
		if _, err := w.local.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)}); err != nil {
			b.Fatal(err)
		}
	}
	decide := func(b *testing.B) {
		if out, err := w.http["sector"](context.Background(), ev); err != nil || out.StatusCode != 200 {
			b.Fatalf("decision: %d %v", out.StatusCode, err)
		}
	}
	var calls int64
	b.Run("getitem-baseline", func(b *testing.B) {
		for b.Loop() {
			getItem(b)
		}
	})
	b.Run("decision", func(b *testing.B) {
		before := w.dbOps.Load()
		for b.Loop() {
			decide(b)
		}
		calls = (w.dbOps.Load() - before) / int64(b.N)
		b.ReportMetric(float64(calls), "dynamodb-calls/op")
	})
	// The headline ratio comes from its own fixed sample, interleaved so both
	// sides share the emulator's noise, whatever -benchtime make bench uses.
	const pairs = 30
	var base, decision time.Duration
	for range pairs {
		t0 := time.Now()
		getItem(b)
		t1 := time.Now()
		decide(b)
		base, decision = base+t1.Sub(t0), decision+time.Since(t1)
	}
	fmt.Printf("sector_decision_calls=%d\n", calls)
	fmt.Printf("sector_decision_vs_getitem=%.2f\n", float64(decision)/float64(base))
}
