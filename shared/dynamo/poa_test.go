package dynamo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"privacycore/shared/domain/personkey"
	"privacycore/shared/domain/poa"
	"privacycore/shared/dynamo"
)

// A grant written just after a death was registered for either side would
// outlive the death notice's deletion of the person's grants: the write
// checks both death markers, and an annulled death does not count.
func TestCreateGrantChecksBothSidesAreAlive(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		marker string // whose death marker: grantor, grantee or none
		status string
		want   error
	}{
		{"no death", "", "", nil},
		{"grantor dead", "grantor", "pending", poa.ErrGrantorDeceased},
		{"grantee dead", "grantee", "pending", poa.ErrGranteeDeceased},
		{"grantee purged", "grantee", "purged", poa.ErrGranteeDeceased},
		{"grantor's death annulled", "grantor", "annulled", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, db, table := profileStore(t)
			grantor, grantee := personkey.Key("k-grantor"), personkey.Key("k-grantee")
			if tt.marker != "" {
				who := map[string]personkey.Key{"grantor": grantor, "grantee": grantee}[tt.marker]
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{
					"pk": &types.AttributeValueMemberS{Value: dynamo.PersonPK(who)}, "sk": &types.AttributeValueMemberS{Value: "DECEASED"},
					"status": &types.AttributeValueMemberS{Value: tt.status},
				}}); err != nil {
					t.Fatal(err)
				}
			}
			now := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)
			err := s.Grants.CreateGrant(ctx, poa.Grant{ID: "g1", Grantor: grantor, Grantee: grantee, ValidFrom: now, ValidTo: now.AddDate(1, 0, 0), CreatedAt: now, UpdatedAt: now, Version: 1})
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			given, _, err := s.Grants.Grants(ctx, grantor)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(given) == 1; got != (tt.want == nil) {
				t.Errorf("grant written: %v, want %v", got, tt.want == nil)
			}
		})
	}
}
