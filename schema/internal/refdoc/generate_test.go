package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/internal/testutil"
)

// reference is the checked-in output, relative to this package.
const reference = "../../../docs/configuration.md"

// TestReferenceUpToDate fails while docs/configuration.md is not what the
// schema generates.
func TestReferenceUpToDate(t *testing.T) {
	t.Parallel()
	want, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	got := testutil.ReadFile(t, reference)
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: run go generate ./schema/...", reference)
	}
}

// TestEveryFieldDocumented: the reference has an entry for every field,
// and every field the operator sets has a doc comment to read.
func TestEveryFieldDocumented(t *testing.T) {
	t.Parallel()
	doc, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"`gateway.listen`", "`apis.<ID>.upstream.targets`", "`policies.<ID>.access.<API>.paths`",
		"`portal.catalogue.<ID>.dcr.initial_access_token.env`", "`cluster.on_redis_error`", "### `#Duration`"} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("the reference has no %s", want)
		}
	}
	entries := strings.Split(string(doc), "\n- **")[1:]
	for _, e := range entries {
		head, body, _ := strings.Cut(e, "\n")
		// A secret reference's env and file are described with #Secret.
		if strings.HasSuffix(strings.Fields(head)[0], ".env`**") || strings.HasSuffix(strings.Fields(head)[0], ".file`**") {
			continue
		}
		if strings.TrimSpace(strings.Split(body, "\n- **")[0]) == "" {
			t.Errorf("no doc comment for %s", head)
		}
	}
}
