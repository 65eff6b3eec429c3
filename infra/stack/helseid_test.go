package stack_test

import (
	"strings"
	"testing"
	"time"

	"privacycore/infra/localrun"
	"privacycore/infra/testenv"
	"privacycore/shared/wire"
)

// TestHelseIDKeyPolicy builds every function with the HelseID key
// parameter missing: the ones that fail read the key at cold start and
// must have HelseIdKeyReadPolicy; the others must not (least privilege).
// The feed must also alarm on its lag, and stop when it stops reporting.
func TestHelseIDKeyPolicy(t *testing.T) {
	res := loadTemplateNodes(t)
	local := testenv.New(t)
	const missing = "/nowhere/helseid-client-key"
	readers := 0
	for _, f := range local.Resolved.Functions {
		t.Run(f.LogicalID, func(t *testing.T) {
			env := local.Getenv(f)
			getenv := func(k string) string {
				if k == "HELSEID_KEY_PARAM" {
					return missing
				}
				return env(k)
			}
			_, err := localrun.Registry[f.LogicalID](wire.Env{AWS: local.AWS, Getenv: getenv, Log: discardWriter{}, Now: time.Now})
			readsKey := err != nil && strings.Contains(err.Error(), missing)
			if err != nil && !readsKey {
				t.Fatalf("build: %v", err)
			}
			if readsKey {
				readers++
			}
			hasPolicy := false
			for _, p := range field(res[f.LogicalID], "Properties", "Policies").Content {
				hasPolicy = hasPolicy || (p.Tag == "!Ref" && p.Value == "HelseIdKeyReadPolicy")
			}
			if readsKey != hasPolicy {
				t.Errorf("reads the HelseID key: %v; has HelseIdKeyReadPolicy: %v", readsKey, hasPolicy)
			}
		})
	}
	if readers != 3 {
		t.Errorf("%d functions read the HelseID key, want 3 (register feed, consent, profile)", readers)
	}
	lag := field(res["RegisterFeedLagAlarm"], "Properties")
	if lag == nil || field(lag, "MetricName").Value != "RegisterFeedLag" || field(lag, "TreatMissingData").Value != "breaching" {
		t.Errorf("RegisterFeedLagAlarm must watch RegisterFeedLag and fire when the feed stops reporting")
	}
}
