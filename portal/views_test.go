package portal

import (
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

func TestExpiredRegistrationIsShown(t *testing.T) {
	t.Parallel()
	e, dev, c := newEnvWithClient(t, "app")
	e.advance(366 * 24 * time.Hour)
	var list []clientView
	e.api(dev, "POST", "/login", credentials{"a@example.com", "correct horse"}, nil) // the session expired meanwhile
	e.api(dev, "GET", "/clients", nil, &list)
	if len(list) != 1 || !list[0].Expired {
		t.Errorf("list = %+v", list)
	}
	_, body, _ := e.page(dev, "/clients/"+c.ClientID)
	if !strings.Contains(body, "has expired") {
		t.Error("detail page does not say expired")
	}
	if bnd, _ := e.store.Binding(c.ClientID); !bnd.ExpiresAt.Before(*e.now.Load()) {
		t.Errorf("Binding expiry %v is not past", bnd.ExpiresAt)
	}
}

func TestLimitsInWords(t *testing.T) {
	t.Parallel()
	d := func(s string) table.Duration { v, _ := time.ParseDuration(s); return table.Duration(v) }
	tests := []struct {
		p    table.Policy
		want string
	}{
		{table.Policy{Rate: &table.Rate{Requests: 100, Per: d("1m")}, Quota: &table.Quota{Max: 10000, Period: d("720h")}, KeyExpiresIn: d("8760h")},
			"100 requests per minute, 10,000 per 30 days, keys expire after 365 days"},
		{table.Policy{Rate: &table.Rate{Requests: 5, Per: d("10s")}}, "5 requests per 10 seconds, keys do not expire"},
		{table.Policy{Quota: &table.Quota{Max: 1234567, Period: d("1h")}, KeyExpiresIn: d("24h")}, "1,234,567 requests per hour, keys expire after 1 day"},
		{table.Policy{}, "no rate limit or quota, keys do not expire"},
	}
	for _, tt := range tests {
		if got := limitsInWords(&tt.p); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// TestCatalogueShowsUnavailableEntries: an entry whose initial access
// token cannot be read is listed as unavailable, with a reason that names
// no reference, and offered for no registration.
func TestCatalogueShowsUnavailableEntries(t *testing.T) {
	t.Parallel()
	dcr := func(sec *table.Secret) *table.DCR {
		return &table.DCR{Provider: "other", RegistrationEndpoint: "https://idp.example/reg", InitialAccessToken: sec}
	}
	tb := &table.Table{Portal: table.Portal{Catalogue: map[string]*table.CatalogueEntry{
		"open":   {ID: "open", Name: "Open", DCR: dcr(nil)},
		"broken": {ID: "broken", Name: "Broken", DCR: dcr(&table.Secret{Env: "CUEGATE_TEST_UNSET_TOKEN"})},
		"none":   {ID: "none", Name: "None"},
	}}}
	got := map[string]catalogueItem{}
	for _, c := range catalogue(tb, t.TempDir()) {
		got[c.ID] = c
	}
	if c := got["broken"]; c.Registrable || c.Unavailable != unavailableReason {
		t.Errorf("broken entry: %+v", c)
	}
	if strings.Contains(got["broken"].Unavailable, "CUEGATE_TEST_UNSET_TOKEN") {
		t.Error("the reason names the operator's reference")
	}
	if c := got["open"]; !c.Registrable || c.Unavailable != "" {
		t.Errorf("open entry: %+v", c)
	}
	if c := got["none"]; c.Registrable || c.Unavailable != "" {
		t.Errorf("entry without dcr: %+v", c)
	}
	for _, c := range registrable(tb, t.TempDir()) {
		if c.ID != "open" {
			t.Errorf("registrable lists %s", c.ID)
		}
	}
}
