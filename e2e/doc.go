// Package e2e holds cuegate's end-to-end tests: the developer's journey
// (sign up, register a client, get a token, call the API) against a real,
// unmodified Ory Hydra built from the Go module proxy, and the developer
// portal driven in headless Chromium.
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
//
// Environment:
//
//	CUEGATE_E2E_HYDRA        a Hydra binary to use instead of building one
//	CUEGATE_CHROMIUM         the Chromium binary (default: /usr/bin/chromium, then PATH)
//	CUEGATE_E2E_SCREENSHOTS  where the browser test saves its screenshots
//	                         (default: a new temporary directory, named in the log)
//	CI                       any value but "", "0" and "false" turns skips into failures
//
// TestJourney walks that journey against Hydra and then key rotation, the rate
// limit, a hot swap, deletion (RFC 7592) and a policy chosen by a pol claim
// from Hydra's token hook; TestPortalInBrowser does the developer's part in
// the portal's pages; TestHydraFacts pins the Hydra behaviour both rely on.
package e2e
