// Package e2e holds cuegate's end-to-end tests: the journey of DESIGN §2
// against a real, unmodified Ory Hydra built from the Go module proxy, and
// the developer portal driven in headless Chromium.
//
// It is a module of its own so that Hydra's and chromedp's dependencies stay
// out of cuegate's go.mod. The tests drive the real `cuegate` binary, built
// from the parent module.
//
// Run them with `just e2e` (or `cd e2e && go test -count=1 ./...`). The first
// run builds Hydra (about 3.5 minutes and 440 MB of modules on a cold
// machine) into the user cache directory; later runs reuse it. Without CI=true
// a test whose prerequisite (Hydra, Chromium) is missing skips and says how
// to get it; with CI=true it fails.
package e2e
