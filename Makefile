# vigil's build, test and benchmark entry points. `make test` is what CI runs.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
FUZZTIME ?= 5s

.PHONY: build static test vet staticcheck fmt fmt-check bench bench-validate fuzz fuzz-short clean bench-record e2e bench-failover image image-test bench-domain bench-idle race test-load

# One compile serves `go run ./cmd/vigil`, `go test` and `make build`: they
# share Go's build cache only when built with the same settings, so build
# uses Go's defaults (no -trimpath; cgo as the environment has it). -ldflags
# only changes the link, which is not cached anyway.
build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/vigil ./cmd/vigil

# The appliance's binary is static (CGO_ENABLED=0), the one build with other
# settings, made only for the image: bin/vigil-static.
static:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/vigil-static ./cmd/vigil

# The README's test command: formatting, vet, staticcheck, every unit and
# integration test, and a short run of each fuzz target.
test: fmt-check vet staticcheck build
	$(GO) test -count=1 -timeout 20m ./...
	$(MAKE) fuzz-short

# make test LOAD_RUNS times in a row (default 5) while two `yes > /dev/null`
# loops hog both cores: the suite must hold on a busy machine (CI runs on
# one). Stops at the first failure; prints each run's time and load average.
LOAD_RUNS ?= 5
test-load:
	@yes > /dev/null & y1=$$!; yes > /dev/null & y2=$$!; trap 'kill $$y1 $$y2' EXIT; \
	for i in $$(seq $(LOAD_RUNS)); do \
		start=$$(date +%s); \
		$(MAKE) --no-print-directory test || { echo "run $$i of $(LOAD_RUNS) failed"; exit 1; }; \
		echo "run $$i of $(LOAD_RUNS) passed in $$(( $$(date +%s) - start )) s, load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
	done

# Every package's tests under the race detector, one package at a time (-p 1)
# so that it does not take every core of a shared machine.
race:
	$(GO) test -race -p 1 -count=1 -timeout 20m ./...

vet:
	$(GO) vet ./...

# staticcheck at a pinned version, fetched through the module proxy by
# `go run`, so a fresh machine needs nothing installed beforehand.
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
staticcheck:
	$(GO) run $(STATICCHECK) ./...

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null; git ls-files -o --exclude-standard '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go'; git ls-files -o --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

bench: build bench-validate
	$(GO) test -run '^$$' -bench . -benchmem -count=1 ./...
	$(MAKE) bench-domain

# Domain plan of examples/large (10,000 cameras in 40 sites) against 40
# in-process agents, one per site (target: under 2 s). Opt-in in go test
# (VIGIL_BENCH_DOMAIN=1) because of its 40 agents; run after the other
# benchmarks so that they do not share the machine with it.
bench-domain:
	VIGIL_BENCH_DOMAIN=1 $(GO) test -run '^$$' -bench '^BenchmarkDomainLarge$$' -benchmem -count=1 -timeout 10m ./cmd/vigil

# Wall time and peak memory of validating the 10,000-camera example (target:
# under 300 ms and 150 MB), three runs; GNU time (Debian's "time") measures.
bench-validate: build
	@for i in 1 2 3; do /usr/bin/time -f 'vigil validate examples/large: %e s wall, %U s user, %M KB peak RSS' \
		bin/vigil validate examples/large >/dev/null || exit 1; done

# Recorder throughput: camsim and the recorder in separate processes, N 1080p
# streams each for 30 s; prints CPU and RSS per stream of the recorder alone,
# bytes written and frames lost. BENCH_RECORD_FLAGS="-n 100 -duration 60s".
bench-record:
	$(GO) build -o bin/benchrecord ./runtime/recorder/internal/benchrecord
	bin/benchrecord $(BENCH_RECORD_FLAGS)

# Multi-host scenarios: real agents in network namespaces (root and iproute2;
# skipped with one line otherwise). `make test` runs scenarios 1, 2 and 7.
e2e: build
	VIGIL_E2E=1 VIGIL_BIN=$(CURDIR)/bin/vigil $(GO) test -count=1 -timeout 30m -v ./dev/proving/...

# Failover benchmark: scenarios 1-4, 4 servers, BENCH_CAMERAS cameras of
# BENCH_PROFILE each; prints the table (README).
BENCH_CAMERAS ?= 200
BENCH_PROFILE ?= 1080p
bench-failover: build
	VIGIL_BIN=$(CURDIR)/bin/vigil VIGIL_BENCH_FAILOVER=1 VIGIL_BENCH_CAMERAS=$(BENCH_CAMERAS) VIGIL_BENCH_PROFILE=$(BENCH_PROFILE) \
		$(GO) test -count=1 -timeout 60m -run '^TestBenchFailover$$' -v ./dev/proving/

# False alarms: the quickstart site idle in one process for BENCH_IDLE_FOR
# (default 10m) while two `yes` loops and a 1 GiB memory hog load the
# machine; fails on any dead verdict, master change or gap event.
BENCH_IDLE_FOR ?= 10m
bench-idle:
	VIGIL_BENCH_IDLE=1 VIGIL_BENCH_IDLE_FOR=$(BENCH_IDLE_FOR) $(GO) test -count=1 -timeout 60m -run '^TestIdleUnderLoad$$' -v ./dev/devsite/

fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) ./hcl
	$(GO) test -run '^$$' -fuzz '^FuzzProbe$$' -fuzztime $(FUZZTIME) ./runtime/storage
	$(GO) test -run '^$$' -fuzz '^FuzzIndex$$' -fuzztime $(FUZZTIME) ./runtime/storage
	$(GO) test -run '^$$' -fuzz '^FuzzParsePasswordHash$$' -fuzztime $(FUZZTIME) ./runtime/access

fuzz:
	$(MAKE) fuzz-short FUZZTIME=5m

# The appliance disk image (out/image/vigil.img), offline from Debian's
# packages; needs root. image-test boots it under qemu (software emulation).
image: static
	appliance/image/build.sh -o out/image -b bin/vigil-static

image-test: build
	VIGIL_IMAGE=$(CURDIR)/out/image/vigil.img VIGIL_BIN=$(CURDIR)/bin/vigil \
		VIGIL_CONSOLE=$(CURDIR)/out/image/console.log \
		$(GO) test -count=1 -timeout 15m -run '^TestBoot$$' -v ./appliance/image

clean:
	rm -rf bin out
