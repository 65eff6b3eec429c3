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
	var base, decision time.Duration
	var calls int64
	b.Run("getitem-baseline", func(b *testing.B) {
		for b.Loop() {
			if _, err := w.local.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: &table, Key: key, ConsistentRead: aws.Bool(true)}); err != nil {
				b.Fatal(err)
			}
		}
		base = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("decision", func(b *testing.B) {
		// Only-GP is set: the GP register's stand-in is asked too. The
		// handler is called directly (no contract check in the loop).
		ev := testenv.HTTPEvent(b, "sector/decide-prescription.json")
		ev.Body = `{"person":"14838500073","professional":"7654321","resource":"prescription","prescriptionId":"` + rxX + `"}`
		before := w.dbOps.Load()
		for b.Loop() {
			out, err := w.http["sector"](context.Background(), ev)
			if err != nil || out.StatusCode != 200 {
				b.Fatalf("decision: %d %v", out.StatusCode, err)
			}
		}
		decision = b.Elapsed() / time.Duration(b.N)
		calls = (w.dbOps.Load() - before) / int64(b.N)
		b.ReportMetric(float64(calls), "dynamodb-calls/op")
	})
	if base > 0 {
		fmt.Printf("sector_decision_calls=%d\n", calls)
		fmt.Printf("sector_decision_vs_getitem=%.2f\n", float64(decision)/float64(base))
	}
}
