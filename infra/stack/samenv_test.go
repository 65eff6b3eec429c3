package stack_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"privacycore/infra/stack"
)

// TestSamEnvExample holds infra/sam-env.example.json (the --env-vars file
// for `sam local invoke` against a deployed stack, see README) to the
// template: for every function, the example's Parameters plus its own
// section name exactly the variables the template gives it, and every
// {{LogicalId}} placeholder names a resource of the template.
func TestSamEnvExample(t *testing.T) {
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(path), "infra", "sam-env.example.json"))
	if err != nil {
		t.Fatal(err)
	}
	var example map[string]map[string]string
	if err := json.Unmarshal(b, &example); err != nil {
		t.Fatalf("sam-env.example.json: %v", err)
	}
	tmpl, err := stack.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tmpl.Resolve(testNames(nil))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"Parameters": true}
	for _, f := range res.Functions {
		known[f.LogicalID] = true
		got := map[string]bool{}
		for k := range example["Parameters"] {
			got[k] = true
		}
		for k := range example[f.LogicalID] {
			got[k] = true
		}
		want := map[string]bool{}
		for k := range f.Env {
			want[k] = true
		}
		if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
			t.Errorf("%s: the example gives %v, the template %v", f.LogicalID, g, w)
		}
	}
	for section := range example {
		if !known[section] {
			t.Errorf("section %q is not a function of the template", section)
		}
	}
	resources := map[string]bool{}
	for _, typ := range []string{"AWS::DynamoDB::Table", "AWS::SQS::Queue"} {
		for _, id := range tmpl.ResourcesOfType(typ) {
			resources[id] = true
		}
	}
	placeholder := regexp.MustCompile(`\{\{([A-Za-z0-9]+)\}\}`)
	for _, m := range placeholder.FindAllStringSubmatch(string(b), -1) {
		if !resources[m[1]] {
			t.Errorf("placeholder %s names no table or queue of the template", m[0])
		}
	}
}
