package portal

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/dcr"
)

// CheckSecrets reads every initial access token that t's catalogue
// entries register clients with (a relative file from configDir), as a
// registration would, and returns one
// error for each reference (env:NAME or file:PATH) that cannot be read or
// is empty, naming the reference and the entries that use it — never a
// value. Such entries answer 500 to every registration until the operator
// fixes it, so a node calls this at start and after each reload and logs
// the errors as warnings. It returns nil for a nil table.
func CheckSecrets(t *table.Table, configDir string) []error {
	if t == nil {
		return nil
	}
	users := map[table.Secret][]string{} // reference → catalogue entry IDs
	for _, id := range slices.Sorted(maps.Keys(t.Portal.Catalogue)) {
		if e := t.Portal.Catalogue[id]; e.DCR != nil && e.DCR.InitialAccessToken != nil {
			ref := *e.DCR.InitialAccessToken
			users[ref] = append(users[ref], id)
		}
	}
	var errs []error
	for _, ref := range slices.SortedFunc(maps.Keys(users), func(a, b table.Secret) int { return strings.Compare(a.String(), b.String()) }) {
		if _, err := dcr.InitialAccessToken(&ref, configDir); err != nil {
			entries := "entry " + quoteAll(users[ref])
			if len(users[ref]) > 1 {
				entries = "entries " + quoteAll(users[ref])
			}
			errs = append(errs, fmt.Errorf("portal: catalogue %s cannot register clients: %w", entries, err))
		}
	}
	return errs
}

// quoteAll quotes ids and joins them with commas.
func quoteAll(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = strconv.Quote(id)
	}
	return strings.Join(q, ", ")
}
