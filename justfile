# Every recipe is a plain go command: nothing here needs `just` itself.

# Check the example configurations.
check:
    for d in examples/*/; do go run ./cmd/cuegate compile --check "$d"; done

# The README's test command.
test:
    go test ./...

# End-to-end tests against a real Ory Hydra and headless Chromium.
e2e:
    cd e2e && go test -count=1 ./...

# Benchmarks beside the code, then the load run.
bench:
    go test -run '^$' -bench . -benchmem ./...
    cd e2e/loadtest && go run . -duration 10s

# The profile go build optimises cmd/cuegate by (cmd/cuegate/default.pgo):
# a CPU profile of scenario (a), a JWT API behind nginx under wrk.
pgo:
    rm -rf /tmp/cuegate-pgo && cd e2e/loadtest && go run . -scenarios a -upstream nginx -rounds 1 -duration 2s -profile /tmp/cuegate-pgo -profile-scenarios a -profile-seconds 20
    cp /tmp/cuegate-pgo/a-cuegate-cpu.pprof cmd/cuegate/default.pgo

# After editing schema/cuegate.cue: the generated Go types and docs/configuration.md.
generate:
    go generate ./schema/...

# The whole journey on loopback.
demo:
    go run ./cmd/cuegate demo

fmt:
    gofmt -w $(git ls-files '*.go')
    for d in examples/*/; do go run ./cmd/cuegate fmt "$d"; done

lint:
    gofmt -l $(git ls-files '*.go')
    go vet ./...
    go run honnef.co/go/tools/cmd/staticcheck@latest ./...
