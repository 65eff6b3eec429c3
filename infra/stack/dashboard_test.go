package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"privacycore/infra/stack"
	"privacycore/shared/platform/metrics"
)

// dashboardMetric is one metric a dashboard widget draws: a metric row
// ["Namespace", "Name", "Dim", "Value", ..., {options}] or a SEARCH
// expression ('{Namespace,Dim,...} MetricName="Name" Dim="Value"').
type dashboardMetric struct {
	Widget    string
	Namespace string
	Name      string
	Dims      map[string]string // a SEARCH's schema dimensions have the value "*"
	Stat      string
}

var (
	subRef      = regexp.MustCompile(`\$\{([A-Za-z0-9:]+)(\.[A-Za-z]+)?\}`)
	searchExpr  = regexp.MustCompile(`^SEARCH\('\{([^}]*)\}([^']*)', *'([^']+)', *[0-9]+\)$`)
	searchTerms = regexp.MustCompile(`([A-Za-z]+)="([^"]*)"`)
)

// dashboardMetrics reads a DashboardBody (a !Sub string): every ${X} or
// ${X.Attr} becomes "Ref:X" or "GetAtt:X.Attr", then the JSON is read.
func dashboardMetrics(body string) ([]dashboardMetric, error) {
	body = subRef.ReplaceAllStringFunc(body, func(s string) string {
		m := subRef.FindStringSubmatch(s)
		if m[2] != "" {
			return "GetAtt:" + m[1] + m[2]
		}
		return "Ref:" + m[1]
	})
	var d struct {
		Widgets []struct {
			Type       string `json:"type"`
			Properties struct {
				Title   string              `json:"title"`
				Stat    string              `json:"stat"`
				Metrics [][]json.RawMessage `json:"metrics"`
			} `json:"properties"`
		} `json:"widgets"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		return nil, fmt.Errorf("DashboardBody is not JSON: %w", err)
	}
	var out []dashboardMetric
	for _, w := range d.Widgets {
		if w.Type != "metric" {
			continue
		}
		if len(w.Properties.Metrics) == 0 {
			return nil, fmt.Errorf("widget %q draws nothing", w.Properties.Title)
		}
		for _, row := range w.Properties.Metrics {
			m := dashboardMetric{Widget: w.Properties.Title, Dims: map[string]string{}, Stat: w.Properties.Stat}
			var strs []string
			for _, raw := range row {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					strs = append(strs, s)
					continue
				}
				var opts struct{ Expression, Stat string }
				if err := json.Unmarshal(raw, &opts); err != nil {
					return nil, fmt.Errorf("widget %q: %s is neither a string nor options", w.Properties.Title, raw)
				}
				if opts.Stat != "" {
					m.Stat = opts.Stat
				}
				if opts.Expression != "" {
					e := searchExpr.FindStringSubmatch(opts.Expression)
					if e == nil {
						return nil, fmt.Errorf("widget %q: expression %q is not a SEARCH('{Namespace,Dims} MetricName=\"X\"', 'Stat', Period)", w.Properties.Title, opts.Expression)
					}
					schema := strings.Split(e[1], ",")
					m.Namespace, m.Stat = schema[0], e[3]
					for _, dim := range schema[1:] {
						m.Dims[dim] = "*"
					}
					for _, t := range searchTerms.FindAllStringSubmatch(e[2], -1) {
						if t[1] == "MetricName" {
							m.Name = t[2]
						} else {
							m.Dims[t[1]] = t[2]
						}
					}
				}
			}
			if len(strs) > 0 {
				if len(strs) < 2 || len(strs)%2 != 0 || slices.Contains(strs, ".") {
					return nil, fmt.Errorf("widget %q: metric row %q is not [Namespace, Name, Dim, Value, ...] (no \".\" shorthand)", w.Properties.Title, strs)
				}
				m.Namespace, m.Name = strs[0], strs[1]
				for i := 2; i < len(strs); i += 2 {
					m.Dims[strs[i]] = strs[i+1]
				}
			}
			if m.Name == "" {
				return nil, fmt.Errorf("widget %q: a row names no metric", w.Properties.Title)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

// TestDashboard: the operators' dashboard draws only metrics that exist:
// its own namespace's metric and dimension names are those
// shared/platform/metrics emits, under the Service the functions are given;
// AWS metrics name the template's own resources. And it draws what an
// operator needs: decisions by rule, consents by level, notices by outcome,
// overdue deletion jobs, every dead-letter queue's depth, API latency p95
// and 5xx, every function's errors and throttles, cold starts.
func TestDashboard(t *testing.T) {
	res := loadTemplateNodes(t)
	var bodies []string
	for id, n := range res {
		if typeOf(n) == "AWS::CloudWatch::Dashboard" {
			b := field(n, "Properties", "DashboardBody")
			if b == nil || b.Tag != "!Sub" {
				t.Fatalf("%s: DashboardBody must be a !Sub string", id)
			}
			bodies = append(bodies, b.Value)
		}
	}
	if len(bodies) != 1 {
		t.Fatalf("got %d AWS::CloudWatch::Dashboard resources, want 1", len(bodies))
	}
	got, err := dashboardMetrics(bodies[0])
	if err != nil {
		t.Fatal(err)
	}
	service := field(globalsNode(t), "Function", "Environment", "Variables", "POWERTOOLS_SERVICE_NAME")
	if service == nil || service.Value == "" {
		t.Fatal("Globals: no POWERTOOLS_SERVICE_NAME (the metrics' Service dimension)")
	}
	const ours = "Ref:Stage"
	drawn := map[string]bool{}
	for _, m := range got {
		key := m.Namespace + "/" + m.Name
		switch {
		case m.Namespace == "PrivacyCore/"+ours:
			key = "PrivacyCore/" + m.Name
			if !slices.Contains(metrics.Names, m.Name) {
				t.Errorf("widget %q: metric %s is not one the code emits (metrics.Names)", m.Widget, m.Name)
			}
			if _, ok := m.Dims[metrics.Service]; !ok {
				t.Errorf("widget %q: %s without the Service dimension matches no data point", m.Widget, m.Name)
			}
			for dim, v := range m.Dims {
				if !slices.Contains(metrics.Dimensions, dim) {
					t.Errorf("widget %q: %s by dimension %s, which no data point has", m.Widget, m.Name, dim)
				}
				if dim == metrics.Service && v != "*" && v != service.Value {
					t.Errorf("widget %q: Service %q, but the functions' is %q", m.Widget, v, service.Value)
				}
			}
		case m.Namespace == "AWS/Lambda":
			fn := strings.TrimPrefix(m.Dims["FunctionName"], "Ref:")
			if typeOf(res[fn]) != "AWS::Serverless::Function" {
				t.Errorf("widget %q: %s of %q, not a function of the template", m.Widget, m.Name, m.Dims["FunctionName"])
			}
			key += " " + fn
		case m.Namespace == "AWS/SQS":
			q := strings.TrimSuffix(strings.TrimPrefix(m.Dims["QueueName"], "GetAtt:"), ".QueueName")
			if typeOf(res[q]) != "AWS::SQS::Queue" {
				t.Errorf("widget %q: %s of %q, not a queue of the template", m.Widget, m.Name, m.Dims["QueueName"])
			}
			key += " " + q
		case m.Namespace == "AWS/ApiGateway":
			if m.Dims["ApiId"] != "Ref:PortalApi" || m.Dims["Stage"] != ours {
				t.Errorf("widget %q: %s not of PortalApi's stage: %v", m.Widget, m.Name, m.Dims)
			}
			key += " " + m.Stat
		default:
			t.Errorf("widget %q: namespace %q is neither PrivacyCore/${Stage} nor one of AWS/Lambda, AWS/SQS, AWS/ApiGateway", m.Widget, m.Namespace)
		}
		drawn[key] = true
	}

	want := []string{
		"PrivacyCore/" + metrics.Decisions, "PrivacyCore/" + metrics.ConsentChanges, "PrivacyCore/" + metrics.Notices,
		"PrivacyCore/" + metrics.OverdueJobs, "PrivacyCore/" + metrics.ColdStart,
		"AWS/ApiGateway/Latency p95", "AWS/ApiGateway/5xx Sum",
	}
	for id, n := range res {
		switch typeOf(n) {
		case "AWS::Serverless::Function":
			want = append(want, "AWS/Lambda/Errors "+id, "AWS/Lambda/Throttles "+id)
		case "AWS::SQS::Queue":
			if dlq := field(n, "Properties", "RedrivePolicy", "deadLetterTargetArn"); dlq != nil {
				want = append(want, "AWS/SQS/ApproximateNumberOfMessagesVisible "+strings.TrimSuffix(dlq.Value, ".Arn"))
			}
		}
	}
	for _, w := range want {
		if !drawn[w] {
			t.Errorf("the dashboard does not draw %s", w)
		}
	}
	// By rule, level and outcome: those dimensions are in the search.
	for name, dim := range map[string]string{metrics.Decisions: metrics.Rule, metrics.ConsentChanges: metrics.Level, metrics.Notices: metrics.Outcome} {
		found := false
		for _, m := range got {
			if m.Name == name && m.Dims[dim] == "*" {
				found = true
			}
		}
		if !found {
			t.Errorf("the dashboard does not draw %s by %s", name, dim)
		}
	}
}

func TestDashboardMetrics(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    []dashboardMetric
		wantErr string
	}{
		{"row and search", `{"widgets":[{"type":"text"},{"type":"metric","properties":{"title":"T","stat":"Sum","metrics":[
			["AWS/Lambda","Errors","FunctionName","${F}",{"label":"f"}],
			[{"expression":"SEARCH('{PrivacyCore/${Stage},Service,Rule} MetricName=\"Decisions\" Outcome=\"denied\"', 'p95', 300)","id":"e"}]]}}]}`,
			[]dashboardMetric{
				{"T", "AWS/Lambda", "Errors", map[string]string{"FunctionName": "Ref:F"}, "Sum"},
				{"T", "PrivacyCore/Ref:Stage", "Decisions", map[string]string{"Service": "*", "Rule": "*", "Outcome": "denied"}, "p95"},
			}, ""},
		{"GetAtt and per-row stat", `{"widgets":[{"type":"metric","properties":{"title":"T","stat":"Sum","metrics":[["AWS/SQS","X","QueueName","${Q.QueueName}",{"stat":"Maximum"}]]}}]}`,
			[]dashboardMetric{{"T", "AWS/SQS", "X", map[string]string{"QueueName": "GetAtt:Q.QueueName"}, "Maximum"}}, ""},
		{"not JSON", `{"widgets":[`, nil, "not JSON"},
		{"shorthand", `{"widgets":[{"type":"metric","properties":{"title":"T","metrics":[["A","B"],[".","C"]]}}]}`, nil, "shorthand"},
		{"other expression", `{"widgets":[{"type":"metric","properties":{"title":"T","metrics":[[{"expression":"m1*2"}]]}}]}`, nil, "not a SEARCH"},
		{"empty widget", `{"widgets":[{"type":"metric","properties":{"title":"T","metrics":[]}}]}`, nil, "draws nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dashboardMetrics(tt.body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Widget != tt.want[i].Widget || got[i].Namespace != tt.want[i].Namespace || got[i].Name != tt.want[i].Name || got[i].Stat != tt.want[i].Stat || fmt.Sprint(got[i].Dims) != fmt.Sprint(tt.want[i].Dims) {
					t.Errorf("row %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// globalsNode returns the template's Globals section.
func globalsNode(t *testing.T) *node {
	t.Helper()
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return field(doc.Content[0], "Globals")
}
