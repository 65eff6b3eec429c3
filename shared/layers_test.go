// Package shared_test checks that the packages under shared/ keep to their
// layers (see README "Architecture"):
//
//   - shared/domain/... imports only the standard library and other domain
//     packages: rules never reach for HTTP, SQS, AWS or storage (and its
//     tests run on fakes: no storage, emulator, AWS SDK, adapter, wiring or
//     platform package);
//   - shared/http/... and shared/sqs/... never import storage
//     (privacycore/shared/dynamo) or an AWS SDK service client, except that
//     shared/sqs/... may use the SQS client, its own transport;
//   - outside shared/dynamo, no production Go file in shared/ or functions/
//     imports the DynamoDB client or the SDK's DynamoDB helpers
//     (feature/dynamodb/...);
//   - no storage type in shared/dynamo has more than 15 methods, counting
//     the helpers (Table methods, or functions taking a *Table) that only
//     that store uses.
//
// To see it fail, add `_ "privacycore/shared/dynamo"` to the imports of any
// file in shared/domain/consent (or `_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"`
// to one in shared/wire) and run `go test ./shared/`.
package shared_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "privacycore"

// MaxStoreMethods is the most methods one storage type may have.
const MaxStoreMethods = 15

// goFile is one parsed Go file: its path from the module root and imports.
type goFile struct {
	path    string // slash-separated, from the module root
	test    bool
	imports []string
	ast     *ast.File
}

// parseTree parses every Go file under dir (relative to the module root).
func parseTree(t *testing.T, dir string) []goFile {
	t.Helper()
	var out []goFile
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join("..", dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", p)
		g := goFile{path: filepath.ToSlash(rel), test: strings.HasSuffix(p, "_test.go"), ast: f}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			g.imports = append(g.imports, path)
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files under %s: the test is looking in the wrong place", dir)
	}
	return out
}

func isStdlib(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".") && first != module
}

func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

const (
	domainPkgs = module + "/shared/domain"
	storagePkg = module + "/shared/dynamo"
	awsSDK     = "github.com/aws/aws-sdk-go-v2"
	awsService = awsSDK + "/service"
	sqsClient  = awsService + "/sqs"
	ddbClient  = awsService + "/dynamodb"
	ddbFeature = awsSDK + "/feature/dynamodb"
)

// notForDomainTests are the module's packages a domain test may not import:
// domain tests run on fakes, not on adapters, wiring or the platform.
var notForDomainTests = []string{
	storagePkg, module + "/infra", module + "/shared/http", module + "/shared/sqs",
	module + "/shared/wire", module + "/shared/platform", module + "/shared/registers",
}

// TestLayers fails on an import that goes the wrong way between layers.
func TestLayers(t *testing.T) {
	var files []goFile
	for _, dir := range []string{"shared", "functions"} {
		files = append(files, parseTree(t, dir)...)
	}
	for _, f := range files {
		for _, im := range f.imports {
			if why := wrongWay(f, im); why != "" {
				t.Errorf("%s imports %s: %s", f.path, im, why)
			}
		}
	}
}

// wrongWay says why file f may not import im ("" if it may).
func wrongWay(f goFile, im string) string {
	switch {
	case under(f.path, "shared/domain") && !f.test:
		if !isStdlib(im) && !under(im, domainPkgs) {
			return "domain packages import only the standard library and shared/domain/..."
		}
	case under(f.path, "shared/domain"):
		if under(im, awsSDK) {
			return "domain tests run on fakes: no AWS SDK"
		}
		for _, p := range notForDomainTests {
			if under(im, p) {
				return "domain tests run on fakes: no storage, emulator, adapter, wiring or platform package"
			}
		}
	case f.test:
		// Tests of adapters may seed storage and use the emulator.
	case under(f.path, "shared/http") || under(f.path, "shared/sqs"):
		if under(im, storagePkg) {
			return "HTTP and SQS adapters call domain services, never storage"
		}
		if under(im, awsService) && !(under(f.path, "shared/sqs") && under(im, sqsClient)) {
			return "HTTP and SQS adapters use no AWS service client (shared/sqs only its own SQS client)"
		}
	}
	if !f.test && (under(im, ddbClient) || under(im, ddbFeature)) && !under(f.path, "shared/dynamo") {
		return "only shared/dynamo talks to DynamoDB"
	}
	return ""
}

// TestWrongWay makes sure the rules above catch what they are for, so the
// layering test cannot pass by looking at nothing.
func TestWrongWay(t *testing.T) {
	tests := []struct {
		file, imp string
		wrong     bool
	}{
		{"shared/domain/consent/service.go", storagePkg, true},
		{"shared/domain/consent/service.go", "github.com/aws/aws-lambda-go/events", true},
		{"shared/domain/consent/service.go", domainPkgs + "/personkey", false},
		{"shared/domain/consent/service.go", "context", false},
		{"shared/domain/consent/service_test.go", module + "/infra/testenv", true},
		{"shared/domain/consent/service_test.go", module + "/shared/platform/obs", true},
		{"shared/domain/consent/service_test.go", module + "/shared/http/httpapi", true},
		{"shared/domain/consent/service_test.go", module + "/shared/sqs/queue", true},
		{"shared/domain/consent/service_test.go", module + "/shared/wire", true},
		{"shared/domain/consent/service_test.go", ddbFeature + "/attributevalue", true},
		{"shared/domain/consent/service_test.go", domainPkgs + "/nin", false},
		{"shared/domain/consent/service_test.go", "testing", false},
		{"shared/wire/wire.go", ddbFeature + "/attributevalue", true},
		{"shared/http/consentapi/consentapi.go", ddbFeature + "/attributevalue", true},
		{"shared/dynamo/access.go", ddbFeature + "/attributevalue", false},
		{"shared/http/accessapi/accessapi.go", storagePkg, true},
		{"shared/http/accessapi/accessapi.go", ddbClient, true},
		{"shared/http/formsapi/formsapi.go", sqsClient, true},
		{"shared/http/accessapi/accessapi.go", "github.com/aws/aws-lambda-go/events", false},
		{"shared/sqs/queue/queue.go", sqsClient + "/types", false},
		{"shared/sqs/workers/workers.go", storagePkg, true},
		{"shared/sqs/workers/workers.go", ddbClient, true},
		{"shared/wire/wire.go", ddbClient, true},
		{"shared/wire/wire.go", storagePkg, false},
		{"functions/consent/main.go", ddbClient, true},
		{"shared/dynamo/dynamo.go", ddbClient, false},
		{"shared/http/consentapi/integration_test.go", storagePkg, false},
	}
	for _, tt := range tests {
		f := goFile{path: tt.file, test: strings.HasSuffix(tt.file, "_test.go")}
		if got := wrongWay(f, tt.imp) != ""; got != tt.wrong {
			t.Errorf("%s importing %s: wrong way = %v, want %v", tt.file, tt.imp, got, tt.wrong)
		}
	}
}

// TestStoreSize fails when a type in shared/dynamo has more than
// MaxStoreMethods methods: storage is one small store per aggregate. A
// helper (a method on Table, or a function taking a *Table) called from the
// methods of one store only counts as one of that store's methods, so moving
// a store's methods onto the shared Table cannot hide its size.
func TestStoreSize(t *testing.T) {
	methods := map[string]int{}
	helpers := map[string]bool{}            // helper names
	callers := map[string]map[string]bool{} // helper -> receiver types calling it
	var bodies []*ast.FuncDecl
	for _, f := range parseTree(t, "shared/dynamo") {
		if f.test {
			continue
		}
		for _, d := range f.ast.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if recv := receiver(fn); recv != "" {
				methods[recv]++
				bodies = append(bodies, fn)
				if recv == "Table" && !fn.Name.IsExported() {
					helpers[fn.Name.Name] = true
				}
			} else if takesTable(fn) {
				helpers[fn.Name.Name] = true
			}
		}
	}
	for _, fn := range bodies {
		recv := receiver(fn)
		if recv == "Table" || fn.Body == nil {
			continue
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			var name string
			switch fun := call.Fun.(type) {
			case *ast.Ident:
				name = fun.Name
			case *ast.SelectorExpr:
				name = fun.Sel.Name
			}
			if helpers[name] {
				if callers[name] == nil {
					callers[name] = map[string]bool{}
				}
				callers[name][recv] = true
			}
			return true
		})
	}
	for name, by := range callers {
		if len(by) == 1 {
			for recv := range by {
				methods[recv]++
				t.Logf("helper %s counts for dynamo.%s", name, recv)
			}
		}
	}
	if len(methods) < 2 || len(helpers) == 0 {
		t.Fatalf("found methods on %v and helpers %v only: the test is looking in the wrong place", methods, helpers)
	}
	for typ, n := range methods {
		if n > MaxStoreMethods {
			t.Errorf("dynamo.%s has %d methods, more than %d: split it by aggregate", typ, n, MaxStoreMethods)
		}
		t.Logf("dynamo.%s: %d methods", typ, n)
	}
}

// receiver is the name of fn's receiver type, "" for a function.
func receiver(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return ""
	}
	typ := fn.Recv.List[0].Type
	if star, ok := typ.(*ast.StarExpr); ok {
		typ = star.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// takesTable reports whether fn has a *Table parameter.
func takesTable(fn *ast.FuncDecl) bool {
	for _, p := range fn.Type.Params.List {
		if star, ok := p.Type.(*ast.StarExpr); ok {
			if id, ok := star.X.(*ast.Ident); ok && id.Name == "Table" {
				return true
			}
		}
	}
	return false
}
