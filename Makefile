# The privacy core's build, test and local-run commands (`make help` lists them).
#   make run    start everything locally (emulator, tables, queues, HTTP API)
#   make test   every check CI runs
# SAM calls the build-<LogicalId> targets (Metadata: BuildMethod: makefile).

GO        ?= go
PYTHON    ?= python3
BIN       := bin
PID       ?= 14838500073
SCOPE     ?=
# CLIENT: mint a machine client's token instead (make token CLIENT=kjernejournal SCOPE=sector:read).
CLIENT    ?=
# Largest bootstrap `make size` accepts (11 MB; cold starts grow with it). It was 10 MB until the
# HelseID client (JOSE signing and DPoP, go-jose) joined the functions that call the population
# register (consent, profile, register feed): consent measured 10,223,778 bytes with it.
MAX_BINARY ?= 11000000
GOBUILD_LAMBDA := GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags "-s -w"

.PHONY: help run token personkey test unit lint fmt-check vet staticcheck template-check bench size build clean docs

# Where `make run` serves, and where sweep/clock find it: ADDR=127.0.0.1:3400,
# or taken from API=http://127.0.0.1:3400 as the README's walk-throughs set it.
API       ?=
ADDR      ?= $(if $(API),$(patsubst %/,%,$(patsubst http://%,%,$(API))),127.0.0.1:3000)
NEED      := bash infra/scripts/need.sh

## help: list the targets
help:
	@awk '/^## [A-Za-z_-]+: / { l = substr($$0, 4); i = index(l, ": "); printf "  make %-16s %s\n", substr(l, 1, i - 1), substr(l, i + 2) }' $(MAKEFILE_LIST)

## run: build, start moto_server, create the template's tables and queues, serve the HTTP API (ADDR=127.0.0.1:3000)
run:
	@$(NEED) go moto_server
	@GO="$(GO)" bash infra/scripts/build.sh $(BIN)/local ./infra/cmd/local
	$(BIN)/local run -addr "$(ADDR)"

## token: mint a local access token (make token PID=<11 digits> [SCOPE="forms:write"]; a machine client: CLIENT=<id> SCOPE=sector:read)
token: $(BIN)/local
	@$(BIN)/local token $(if $(CLIENT),-client "$(CLIENT)",-pid "$(PID)") -scope "$(SCOPE)"

# --- against a running `make run`, from a second terminal --------------------
FN        ?= SweeperFunction
DAYS      ?=
ADVANCE   ?=

TYPE      ?=
NEW_PID   ?=
PARENT    ?=
CHILD     ?=

.PHONY: sweep trigger clock register-event need-test lint-openapi

## sweep: run a scheduled function now, as its schedule would, and print what it did (make sweep [FN=SweeperFunction])
sweep: $(BIN)/local
	@$(BIN)/local trigger -addr "$(ADDR)" "$(FN)"

## trigger: the same for any scheduled function (make trigger FN=AgeTransitionsFunction)
trigger: sweep

## clock: show the functions' clock, or move it forward (make clock DAYS=30 | make clock ADVANCE=36h)
clock: $(BIN)/local
	@$(BIN)/local clock -addr "$(ADDR)" $(if $(DAYS),-days "$(DAYS)") $(if $(ADVANCE),-advance "$(ADVANCE)")

## register-event: add an event to the fake population register (make register-event TYPE=death PID=<id>;
##   TYPE=death_annulled|discontinued PID=..; TYPE=id_change PID=.. NEW_PID=..;
##   TYPE=parental_responsibility_set|parental_responsibility_ended PARENT=.. CHILD=..); then make sweep FN=RegisterFeedFunction
register-event: $(BIN)/local
	@$(BIN)/local register-event -addr "$(ADDR)" -type "$(TYPE)" $(if $(filter parental_%,$(TYPE)),,-pid "$(PID)") $(if $(NEW_PID),-new-pid "$(NEW_PID)") $(if $(PARENT),-parent "$(PARENT)") $(if $(CHILD),-child "$(CHILD)")

## personkey: print a person's local table key (make personkey PID=<11 digits>), for the AWS CLI
personkey: $(BIN)/local
	@$(BIN)/local personkey -pid "$(PID)"

$(BIN)/local: FORCE
	@$(NEED) go
	@$(GO) build -o $@ ./infra/cmd/local

FORCE:

## test: formatting, vet, staticcheck, template checks, unit + integration tests (moto started by the tests)
test: need-test fmt-check vet staticcheck template-check
	$(GO) test -count=1 ./...
	$(MAKE) race-tests

# Tests that race parallel clients on one item (the emulator's proxy gives
# DynamoDB's per-request atomicity, infra/emulator): run a few more times,
# as a flake here means a lost update. `make race-tests RACE_COUNT=200` for proof.
RACE_COUNT ?= 5
RACE_TESTS := TestConcurrentTransactionsAreAtomic|TestConcurrentStoreWritesWithoutIfMatch|TestConcurrentChangeExactlyOneWins|TestSaveNextOfKinIsConditional|TestConcurrentAddAsClosestExactlyOneWins|TestConcurrentSetClosestExactlyOneWins|TestConcurrentChangesWithIfMatch|TestConcurrentErasesCountOnce
RACE_PKGS  := ./infra/emulator ./shared/dynamo ./shared/http/consentapi ./shared/http/profileapi

.PHONY: race-tests
## race-tests: the concurrency tests, RACE_COUNT times each
race-tests:
	$(GO) test -count=$(RACE_COUNT) -run '^($(RACE_TESTS))$$' $(RACE_PKGS)

need-test:
	@$(NEED) go python3 moto_server cfn-lint samtranslator curl aws

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

## template-check: cfn-lint on template.yaml, SAM translation, cfn-lint on the result
template-check:
	@$(NEED) python3 cfn-lint samtranslator
	$(PYTHON) infra/scripts/check_template.py template.yaml

## docs: render infra/openapi.yaml as a browsable HTML reference in docs/html/ (needs npx; not part of make test)
docs:
	@$(NEED) npx
	npx -y @redocly/cli@latest build-docs infra/openapi.yaml -o docs/html/index.html
	@echo "open docs/html/index.html"

## lint-openapi: Redocly's recommended rules on infra/openapi.yaml (needs npx; not part of make test)
lint-openapi:
	@$(NEED) npx
	npx -y @redocly/cli@latest lint --extends recommended infra/openapi.yaml

## bench: Go benchmarks against the emulator (100,000-item runs last), the Lambda binary size, and a summary
# Every benchmark that has a headline figure prints it once as a line name=value;
# the summary at the end repeats those lines (the last value of each name), so
# runs can be compared line by line. The 100k runs (benchmarks named *100k*) take
# minutes on the emulator and are never part of `make test`.
BENCH_OUT ?= $(BIN)/bench.out
BENCH_SHELL := bash -o pipefail -c
# The summary's first lines, in this order (issue 14); other name=value lines follow.
BENCH_ORDER := withdraw_10k_ratio_vs_floor withdraw_100k_api_ms withdraw_100k_done_s move_100k_dlq death_notice_calls decision_calls_self decision_calls_attorney erase_peak_heap_mb_100k
bench:
	@$(MAKE) -s size || echo "bench: the size check failed (above); the benchmarks run anyway"
	@mkdir -p $(BIN) && : > $(BENCH_OUT)
	@$(BENCH_SHELL) '$(GO) test -run="^$$" -bench=. -count=1 ./shared/domain/access | tee -a $(BENCH_OUT)'
	@$(BENCH_SHELL) '$(GO) test -run="^$$" -bench=. -skip=100k -benchtime=3x -count=1 $$($(GO) list ./shared/... | grep -v "/shared/domain/access$$") | tee -a $(BENCH_OUT)'
	@$(BENCH_SHELL) '$(GO) test -run="^$$" -bench=100k -benchtime=1x -count=1 -timeout=90m ./shared/... | tee -a $(BENCH_OUT)'
	@echo "--- summary"
	@grep -E '^[a-z0-9_]+=[^ ]+$$' $(BENCH_OUT) | awk -F= -v order="$(BENCH_ORDER)" \
		'!($$1 in v){k[++n]=$$1} {v[$$1]=$$2} END{m=split(order,o," "); for(i=1;i<=m;i++) if(o[i] in v){print o[i] "=" v[o[i]]; done[o[i]]=1}; for(i=1;i<=n;i++) if(!(k[i] in done)) print k[i] "=" v[k[i]]}'

## size: build the functions for Lambda (linux/arm64) and print their sizes
size:
	@mkdir -p $(BIN)/lambda
	@for f in functions/*/; do n=$$(basename $$f); \
		$(GOBUILD_LAMBDA) -o $(BIN)/lambda/$$n/bootstrap ./$$f || exit 1; \
		sz=$$(stat -c %s $(BIN)/lambda/$$n/bootstrap); printf '%-24s %9d bytes\n' "$$n" $$sz; \
		if [ $$sz -gt $(MAX_BINARY) ]; then echo "$$n is over $(MAX_BINARY) bytes"; exit 1; fi; done

build: size

clean:
	rm -rf $(BIN)

# --- sam build (BuildMethod: makefile) ---------------------------------------
build-ConsentFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/consent

build-NoticeWorkerFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/notice-worker

build-SweeperFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweeper

build-PurgeWorkerFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/purge-worker

build-AccessFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/access

build-RepresentationFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/representation

build-AgeTransitionsFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/age-transitions

build-ProfileFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/profile

build-SettingsFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/settings

build-FormsFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/forms

build-RegisterFeedFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/register-feed

build-FormsWorkerFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/forms-worker

build-SectorSettingsFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sector-settings

build-SectorFunction:
	$(GOBUILD_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sector
