// Command hydra-build builds the Ory Hydra binary the end-to-end tests run
// (or finds it cached) and prints its path. CI runs it as its own step so
// that the build's time is reported apart from the tests'.
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cuegate/cuegate/e2e/hydra"
)

func main() {
	start := time.Now()
	p, err := hydra.Build(context.Background(), os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("%s (%s, %s)\n", p, hydra.Version, time.Since(start).Round(time.Second))
}
