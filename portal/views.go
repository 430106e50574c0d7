package portal

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/store"
)

// catalogueItem is one catalogue entry as the API and the pages show it.
type catalogueItem struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Policy      string `json:"policy"`
	API         string `json:"api"`
	// Limits describes the policy's rate limit, quota and key expiry in words.
	Limits string `json:"limits"`
	// Registrable is false when the entry has no DCR settings, or
	// settings that cannot work (see Unavailable).
	Registrable bool `json:"registrable"`
	// Unavailable, when set, says why clients cannot be registered for the
	// entry now: its settings cannot work until the operator fixes them
	// (the admin /status names what to fix).
	Unavailable string `json:"unavailable,omitempty"`
	// Reference is true when the API has a reference (an OpenAPI
	// document, served at /catalogue/{id}/openapi).
	Reference bool `json:"reference"`
}

// unavailableReason is what a developer is told about an entry whose
// registration settings cannot work; the details are the operator's.
const unavailableReason = "registration is unavailable: the portal cannot read its credentials for the identity provider; the operator has been told"

// catalogue lists t's entries for the pages and the API; configDir is
// where their secrets are read from, to tell which can register.
func catalogue(t *table.Table, configDir string) []catalogueItem {
	out := make([]catalogueItem, 0, len(t.Portal.Catalogue))
	broken := t.Portal.UnavailableEntries(configDir)
	for _, e := range t.Portal.Catalogue {
		out = append(out, catalogueItemOf(t, e, broken))
	}
	slices.SortFunc(out, func(a, b catalogueItem) int {
		return strings.Compare(strings.ToLower(a.Name)+"\x00"+a.ID, strings.ToLower(b.Name)+"\x00"+b.ID)
	})
	return out
}

// catalogueItemOf is e as t's catalogue lists it; broken is
// t.Portal.UnavailableEntries.
func catalogueItemOf(t *table.Table, e *table.CatalogueEntry, broken map[string]string) catalogueItem {
	item := catalogueItem{ID: e.ID, Name: e.Name, Description: e.Description, Policy: e.Policy,
		API: e.API, Limits: limitsInWords(t.Policies[e.Policy]), Registrable: e.DCR != nil, Reference: e.Reference != nil}
	if _, ok := broken[e.ID]; ok {
		item.Registrable, item.Unavailable = false, unavailableReason
	}
	return item
}

// limitsInWords describes a policy's limits, such as "100 requests per
// minute, 10,000 per 30 days, keys expire after 365 days".
func limitsInWords(p *table.Policy) string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.Rate != nil {
		parts = append(parts, fmt.Sprintf("%s requests per %s", thousands(p.Rate.Requests), per(p.Rate.Per.D())))
	}
	if p.Quota != nil {
		unit := " per "
		if p.Rate == nil {
			unit = " requests per "
		}
		parts = append(parts, thousands(p.Quota.Max)+unit+per(p.Quota.Period.D()))
	}
	if len(parts) == 0 {
		parts = append(parts, "no rate limit or quota")
	}
	if d := p.KeyExpiresIn.D(); d > 0 {
		parts = append(parts, "keys expire after "+span(d))
	} else {
		parts = append(parts, "keys do not expire")
	}
	return strings.Join(parts, ", ")
}

// thousands formats n with comma separators: 10000 → "10,000".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

var units = []struct {
	d    time.Duration
	name string
}{
	{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}, {time.Second, "second"}, {time.Millisecond, "millisecond"},
}

// span says d in the largest unit that divides it: "365 days", "1 minute".
func span(d time.Duration) string {
	for _, u := range units {
		if d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return "1 " + u.name
			}
			return thousands(n) + " " + u.name + "s"
		}
	}
	return d.String()
}

// per says d after "per": "minute", "30 days".
func per(d time.Duration) string {
	s := span(d)
	return strings.TrimPrefix(s, "1 ")
}

// clientView is a client as the API and the pages show it.
type clientView struct {
	ClientID                string     `json:"client_id"`
	ClientSecret            string     `json:"client_secret,omitempty"`
	ClientName              string     `json:"client_name"`
	RedirectURIs            []string   `json:"redirect_uris"`
	TokenEndpoint           string     `json:"token_endpoint"`
	TokenEndpointAuthMethod string     `json:"token_endpoint_auth_method,omitempty"`
	Catalogue               []string   `json:"catalogue"`
	Policy                  string     `json:"policy"`
	CreatedAt               time.Time  `json:"created_at"`
	ExpiresAt               *time.Time `json:"expires_at"`
	Expired                 bool       `json:"expired"`
	// Usage is the client's live usage of its limits (one client's
	// answer only).
	Usage *usageView `json:"usage,omitempty"`
	// ProviderStatus is "unknown_client" when the provider no longer
	// knows the client (404, 410), "registration_token_refused" when it
	// refuses its registration access token (401: unknown, or a token
	// that no longer works); one client's answer only.
	ProviderStatus string `json:"provider_status,omitempty"`
	// Names are the catalogue entries' names, for the pages.
	Names []string `json:"-"`
}

func viewOf(t *table.Table, c store.Client, now time.Time, withSecret bool) clientView {
	v := clientView{
		ClientID: c.ClientID, ClientName: c.ClientName, RedirectURIs: c.RedirectURIs,
		TokenEndpoint: c.TokenEndpoint, TokenEndpointAuthMethod: c.TokenEndpointAuthMethod,
		Catalogue: c.Catalogue, Policy: c.Policy, CreatedAt: c.CreatedAt, Expired: c.Expired(now),
	}
	if v.RedirectURIs == nil {
		v.RedirectURIs = []string{}
	}
	if !c.ExpiresAt.IsZero() {
		exp := c.ExpiresAt
		v.ExpiresAt = &exp
	}
	if withSecret {
		v.ClientSecret = c.ClientSecret
	}
	for _, id := range c.Catalogue {
		name := id // an entry removed from the configuration since
		if e := t.Portal.Catalogue[id]; e != nil {
			name = e.Name
		}
		v.Names = append(v.Names, name)
	}
	return v
}

// liveView is c's view with its secret, its usage and what the provider
// says of it (state; providerUnchecked when not asked): one client's
// answer or page.
func (s *Server) liveView(ctx context.Context, t *table.Table, c store.Client, state providerState) clientView {
	v := viewOf(t, c, s.opts.Now(), true)
	v.Usage = s.usage(ctx, t, c)
	v.ProviderStatus = state.status()
	return v
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sendsSecret reports whether a client registered with the token endpoint
// auth method m authenticates by sending its secret, as tokenCurl's
// command does: client_secret_basic, client_secret_post, or none named
// ("", for which tokenCurl posts the secret in the form). Other methods sign a JWT, present a certificate or
// send nothing, which a copied command cannot do for the developer.
func sendsSecret(m string) bool {
	return m == "" || m == "client_secret_basic" || m == "client_secret_post"
}

// tokenCurl is a shell command that gets an access token for c with the
// client_credentials grant and keeps it in $ACCESS_TOKEN. With withSecret
// false the command reads the secret from $CLIENT_SECRET instead of
// spelling it out.
func tokenCurl(c store.Client, scope string, withSecret bool) string {
	// secret quotes prefix followed by the secret or the variable.
	secret := func(prefix string) string {
		if withSecret {
			return shellQuote(prefix + c.ClientSecret)
		}
		return shellQuote(prefix) + `"$CLIENT_SECRET"`
	}
	var b strings.Builder
	b.WriteString("ACCESS_TOKEN=$(curl -s -X POST " + shellQuote(c.TokenEndpoint) + " \\\n")
	b.WriteString("  -d grant_type=client_credentials \\\n")
	if scope != "" {
		b.WriteString("  --data-urlencode " + shellQuote("scope="+scope) + " \\\n")
	}
	if c.TokenEndpointAuthMethod == "client_secret_basic" {
		b.WriteString("  -u " + secret(c.ClientID+":") + " \\\n")
	} else {
		b.WriteString("  --data-urlencode " + shellQuote("client_id="+c.ClientID) + " \\\n")
		b.WriteString("  --data-urlencode " + secret("client_secret=") + " \\\n")
	}
	b.WriteString(`  | sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p')`)
	b.WriteString("\necho \"$ACCESS_TOKEN\"")
	return b.String()
}

// gatewayCall is a curl through the gateway to one API of the client, to
// its listen path with a trailing slash, which shows where the API's own
// paths go.
type gatewayCall struct {
	API  string
	Curl string
}

func gatewayCalls(t *table.Table, c store.Client) []gatewayCall {
	base := t.Gateway.PublicURL // the compiler fills it in, without a trailing slash
	var out []gatewayCall
	seen := map[string]bool{}
	for _, id := range c.Catalogue {
		e := t.Portal.Catalogue[id]
		if e == nil || seen[e.API] || t.APIs[e.API] == nil {
			continue
		}
		seen[e.API] = true
		a := t.APIs[e.API]
		out = append(out, gatewayCall{API: a.Name,
			Curl: `curl -H "Authorization: Bearer $ACCESS_TOKEN" ` + shellQuote(base+strings.TrimSuffix(a.ListenPath, "/")+"/")})
	}
	return out
}
