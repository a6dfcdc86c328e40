# A tox-like Makefile: one target per environment.
#   make run         serve the embedded default (cinder-all, fake:// transport, SQLite)
#   make test        the whole suite (unit + functional), then make fuzz;
#                    RabbitMQ/PostgreSQL suites skip with a message when those
#                    services are unreachable
#   make fuzz        each fuzz target for FUZZ_API or FUZZ_RPC inputs beyond its
#                    seed corpus in testdata/fuzz, which plain go test runs anyway
#   make unit        package tests only
#   make functional  tests/ only: real processes, clients, RabbitMQ, PostgreSQL
#   make tempest     Tempest's volume API tests (Debian's python3-tempest)
#                    against a fresh cinder-all, less tempest/exclude.txt
#   make lint        gofmt, go vet and golangci-lint (tox's pep8); the first
#                    run builds golangci-lint into ./bin (~6 min on 2 cores)
#   make cover       unit tests with a coverage report
#   make build       the binaries into ./bin
#   make bench       the copy engine against qemu-img, nbdcopy, cp and dd,
#                    migration and the control plane (BENCHARGS=-quick for a short run)

GO       ?= go
BIN      := bin
CONF     ?= etc/cinder/cinder.conf
TESTARGS ?=
FUZZ_API ?= 5000x
FUZZ_RPC ?= 200000x

# golangci-lint, built from the Go module proxy into a directory named for
# its version, so that changing the version builds the new one.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT         := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint

.PHONY: all build run test fuzz unit functional tempest lint cover bench clean

all: lint test

build:
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	$(BIN)/cinder-all --config-file $(CONF)

# One test binary at a time: tests/ stops RabbitMQ (broker loss, restarts),
# which the rpc and manager tests running beside it would see as their own failure.
test: lint
	$(GO) test -p 1 -count=1 -timeout 25m $(TESTARGS) ./...
	$(MAKE) --no-print-directory fuzz

# Fuzz budgets are counts of inputs, not durations: go1.26 can fail a clean
# duration-bounded run with a bare "context deadline exceeded" as -fuzztime
# ends (go.dev/issue/75804, fixed in go1.27). An API input writes to SQLite
# (~1,000/s here), an RPC envelope is pure decoding (~30,000/s).
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzCreateVolume$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzVolumeAction$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzUpdateVolume$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzVolumeMetadata$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzListVolumes$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzTypeRequests$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzQuotaSet$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzCreateAttachment$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzAttachment$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzCreateTransfer$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzAcceptTransfer$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzWorkersCleanup$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzManage$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzSnapshotsAndBackups$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzGroupSnapshots$$' -fuzztime $(FUZZ_API) ./api
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeRequest$$' -fuzztime $(FUZZ_RPC) ./rpc
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeReply$$' -fuzztime $(FUZZ_RPC) ./rpc

unit:
	$(GO) test -count=1 $(TESTARGS) $$($(GO) list ./... | grep -v /tests)

functional:
	$(GO) test -count=1 -timeout 20m -v $(TESTARGS) ./tests/

# tempest/run builds the binaries, starts cinder-all on a free port with a
# temporary state_path and writes the Tempest workspace; TEMPEST_REGEX,
# TEMPEST_EXCLUDE, TEMPEST_CONCURRENCY and TEMPEST_KEEP tune it.
tempest:
	tempest/run

lint: $(GOLANGCI_LINT)
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	GOBIN=$(CURDIR)/$(@D) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

cover:
	$(GO) test -count=1 -coverprofile=cover.out $$($(GO) list ./... | grep -v /tests)
	$(GO) tool cover -func=cover.out | tail -1

bench:
	$(GO) run ./bench $(BENCHARGS)

clean:
	rm -rf $(BIN) cover.out state state-rabbit
