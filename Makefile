# A tox-like Makefile: one target per environment.
#   make run         serve the embedded default (cinder-all, fake:// transport, SQLite)
#   make test        the whole suite (unit + functional); RabbitMQ/PostgreSQL suites
#                    skip with a message when those services are unreachable
#   make unit        package tests only
#   make functional  tests/ only: real processes, clients, RabbitMQ, PostgreSQL
#   make lint        gofmt and go vet (tox's pep8)
#   make cover       unit tests with a coverage report
#   make build       the binaries into ./bin
#   make bench       the copy engine against qemu-img, nbdcopy, cp and dd,
#                    migration and the control plane (BENCHARGS=-quick for a short run)

GO       ?= go
BIN      := bin
CONF     ?= etc/cinder/cinder.conf
TESTARGS ?=

.PHONY: all build run test unit functional lint cover bench clean

all: lint test

build:
	$(GO) build -o $(BIN)/ ./cmd/...

run: build
	$(BIN)/cinder-all --config-file $(CONF)

test: lint
	$(GO) test -count=1 -timeout 25m $(TESTARGS) ./...

unit:
	$(GO) test -count=1 $(TESTARGS) $$($(GO) list ./... | grep -v /tests)

functional:
	$(GO) test -count=1 -timeout 20m -v $(TESTARGS) ./tests/

lint:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

cover:
	$(GO) test -count=1 -coverprofile=cover.out $$($(GO) list ./... | grep -v /tests)
	$(GO) tool cover -func=cover.out | tail -1

bench:
	$(GO) run ./bench $(BENCHARGS)

clean:
	rm -rf $(BIN) cover.out state state-rabbit
