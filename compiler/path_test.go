package compiler

import (
	"testing"

	"cuelang.org/go/cue"
)

func TestFieldPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path fieldPath
		want string
	}{
		{field("gateway", "read_timeout"), "gateway.read_timeout"},
		{apiPath("users", "upstream", "targets").index(2), "apis.users.upstream.targets.2"},
		{apiPath("my-api"), `apis."my-api"`},
		{idpPath("gluu", "algorithms"), "idps.gluu.algorithms"},
		{policyPath("gold", "access").key("users").field("paths").index(0), "policies.gold.access.users.paths.0"},
		{field("portal", "catalogue").key("c").sel(cue.Str("dcr")), "portal.catalogue.c.dcr"},
	} {
		if got := tc.path.String(); got != tc.want {
			t.Errorf("path %s, want %s", got, tc.want)
		}
	}
}

// TestFieldPathDoesNotShare checks that extending one path twice gives
// two paths, not one overwritten by the other.
func TestFieldPathDoesNotShare(t *testing.T) {
	t.Parallel()
	base := make(fieldPath, 0, 8).field("portal", "dcr")
	a, b := base.field("provider"), base.field("timeout")
	if a.String() != "portal.dcr.provider" || b.String() != "portal.dcr.timeout" {
		t.Errorf("got %s and %s", a, b)
	}
	if c, d := base.key("x"), base.index(1); c.String() != "portal.dcr.x" || d.String() != "portal.dcr.1" {
		t.Errorf("got %s and %s", c, d)
	}
}
