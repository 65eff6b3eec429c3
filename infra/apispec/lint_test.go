package apispec_test

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"privacycore/infra/apispec"
)

// TestLintDocument: infra/openapi.yaml passes the structural rules of
// Redocly's recommended ruleset that apispec.Lint checks (make lint-openapi
// runs Redocly itself where Node is installed).
func TestLintDocument(t *testing.T) {
	for _, v := range apispec.Lint(load(t).Doc) {
		t.Error(v)
	}
}

func TestLint(t *testing.T) {
	const head = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n"
	const ok = head + `tags:
  - {name: a, description: A.}
paths:
  /x:
    get:
      operationId: getX
      summary: Get x.
      tags: [a]
      responses:
        "200": {description: ok}
        "404": {description: no}
`
	tests := []struct {
		name string
		doc  string
		want []string
	}{
		{"clean", ok, nil},
		{"everything missing", head + `tags:
  - {name: a}
paths:
  /x:
    get:
      tags: [b]
      responses:
        "500": {description: no}
`, []string{
			"GET /x: no 2xx response (operation-2xx-response)",
			"GET /x: no 4xx response (operation-4xx-response)",
			"GET /x: no operationId (operation-operationId)",
			"GET /x: no summary (operation-summary)",
			"GET /x: tag b is not declared under tags (operation-tag-defined)",
			"tag a: no description (tag-description)",
		}},
		{"duplicate operationId, no tag", head + `paths:
  /x:
    get:
      operationId: same
      summary: S.
      responses: {"200": {description: ok}, "400": {description: bad}}
  /y:
    get:
      operationId: same
      summary: S.
      tags: []
      responses: {"200": {description: ok}, "400": {description: bad}}
`, []string{
			"GET /x: no tag (operation-tag-defined)",
			"GET /y: no tag (operation-tag-defined)",
			"GET /y: operationId same is also GET /x's (operation-operationId-unique)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := openapi3.NewLoader().LoadFromData([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := apispec.Lint(doc); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
