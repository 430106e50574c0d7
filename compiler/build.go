package compiler

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/schema"
)

// build turns the decoded configuration into a Table: the IDs (ids.go),
// the gateway, IdPs, policies and APIs (gateway.go, idp.go, policy.go,
// api.go), the checks across them (checks.go), then the portal and its
// DCR settings (portal.go, dcr.go). It works on what the schema left valid and records
// every finding in c.
func (c *compilation) build(raw *schema.Config) *table.Table {
	t := &table.Table{
		IdPs:     make(map[string]*table.IdP, len(raw.Idps)),
		APIs:     make(map[string]*table.API, len(raw.Apis)),
		Policies: make(map[string]*table.Policy, len(raw.Policies)),
	}
	c.checkIDs(raw)
	c.checkURLCredentials(raw)
	c.buildGateway(t, &raw.Gateway)
	for _, id := range sortedKeys(raw.Idps) {
		t.IdPs[id] = c.buildIdP(id, raw.Idps[id])
	}
	for _, id := range sortedKeys(raw.Policies) {
		t.Policies[id] = c.buildPolicy(id, raw.Policies[id])
	}
	for _, id := range sortedKeys(raw.Apis) {
		if a := c.buildAPI(t, id, raw.Apis[id]); a != nil {
			t.APIs[id] = a
		}
	}
	c.checkRoutes(t)
	c.checkPolicies(t)
	c.warnKeylessReach(t)
	c.secretFiles = secretFiles(raw)
	c.buildPortal(t, &raw.Portal)
	c.buildCluster(t, raw.Cluster)
	c.warnUnused(t)
	return t
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// duration parses a duration the schema has already checked the form of;
// positive says zero is not allowed.
func (c *compilation) duration(s string, positive bool, at fieldPath) table.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		c.errorf(at, "invalid duration %q: %v", s, err)
	} else if positive && d <= 0 {
		c.errorf(at, "duration %q must be greater than zero", s)
	}
	return table.Duration(d)
}

// sizeUnits are the units of a size string, in bytes.
var sizeUnits = map[string]int64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}

// size parses a size string the schema let through ("32MiB") into bytes,
// which must lie within [lo, hi].
func (c *compilation) size(s string, lo, hi int64, at fieldPath) int64 {
	num := strings.TrimRight(s, "BKMGi")
	n, err := strconv.ParseInt(num, 10, 64)
	unit, ok := sizeUnits[s[len(num):]]
	switch {
	case !ok || (err != nil && !errors.Is(err, strconv.ErrRange)):
		c.errorf(at, "invalid size %q: want a whole number and a unit, B, KiB, MiB or GiB, such as \"32MiB\"", s)
	case err != nil || n > hi/unit || n*unit < lo:
		c.errorf(at, "size %q must be between %s and %s", s, formatSize(lo), formatSize(hi))
	default:
		return n * unit
	}
	return 0
}

// formatSize writes n bytes in the largest unit that divides it.
func formatSize(n int64) string {
	for _, u := range []string{"GiB", "MiB", "KiB"} {
		if n%sizeUnits[u] == 0 {
			return strconv.FormatInt(n/sizeUnits[u], 10) + u
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

// checkSecret checks a secret reference the schema let through: it names
// exactly one of env and file.
func (c *compilation) checkSecret(s *schema.Secret, at fieldPath) {
	if s != nil && (s.Env == "") == (s.File == "") {
		c.errorf(at, "a secret sets exactly one of env and file")
	}
}

// sortedUnique returns s as strings, sorted and without repeats; nil
// stays nil and an empty list stays empty.
func sortedUnique[S ~string](s []S) []string {
	out := strs(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// strs converts a list of one of the schema's string types; nil stays nil
// and an empty list stays empty, as the table tells them apart.
func strs[S ~string](s []S) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return out
}

// secret converts a secret reference the schema decoded.
func secret(s *schema.Secret) *table.Secret {
	return (*table.Secret)(s)
}

// tls converts a certificate and key pair the schema decoded.
func tls(t *schema.TLS) *table.TLS {
	if t == nil {
		return nil
	}
	return &table.TLS{CertFile: t.Cert_file, KeyFile: t.Key_file}
}

func list[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%q", k)
	}
	return strings.Join(keys, ", ")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
