package compiler_test

import (
	"bytes"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler"
	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

// TestExamples compiles every example: no errors, no warnings, and two
// compiles give the same bytes.
func TestExamples(t *testing.T) {
	t.Parallel()
	for _, dir := range testutil.Glob(t, "../examples/*") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			a, err := compiler.Compile(dir)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if len(a.Warnings) > 0 {
				t.Errorf("warnings:\n%v", a.Warnings)
			}
			b, err := compiler.Compile(dir)
			if err != nil {
				t.Fatalf("compile again: %v", err)
			}
			if !bytes.Equal(a.JSON(), b.JSON()) || a.Hash != b.Hash {
				t.Fatalf("two compiles of %s differ", dir)
			}
		})
	}
}

// TestGluuExample checks that examples/gluu is the Tyk + Gluu DCR guide.
func TestGluuExample(t *testing.T) {
	t.Parallel()
	tab, err := compiler.Compile("../examples/gluu")
	if err != nil {
		t.Fatal(err)
	}
	idp := tab.IdPs["gluu"]
	if idp == nil || idp.Issuer != "https://gluu-server/" || idp.Discovery != "https://gluu-server/.well-known/openid-configuration" {
		t.Errorf("IdP: %+v", idp)
	}
	api := tab.APIs["gluu_api"]
	if api == nil || api.Name != "Gluu API" || api.JWT == nil || api.JWT.IdP != "gluu" ||
		api.JWT.IdentityClaim != "client_id" || api.JWT.PolicyClaim != "pol" ||
		!reflect.DeepEqual(api.JWT.DefaultPolicies, []string{"gluu_policy"}) {
		t.Errorf("API: %+v (jwt %+v)", api, api.JWT)
	}
	pol := tab.Policies["gluu_policy"]
	if pol == nil || pol.Name != "Gluu Policy" || pol.Rate == nil || pol.Quota == nil || pol.KeyExpiresIn == 0 || pol.Access["gluu_api"] == nil {
		t.Errorf("policy: %+v", pol)
	}
	entry := tab.Portal.Catalogue["gluu_api"]
	if entry == nil || entry.Name != "Gluu API" || entry.API != "gluu_api" || entry.Policy != "gluu_policy" || entry.DCR == nil {
		t.Fatalf("catalogue entry: %+v", entry)
	}
	want := table.DCR{
		Provider:                "gluu",
		GrantTypes:              []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_post",
		ResponseTypes:           []string{"token"},
		IdPHost:                 "https://gluu-server/",
		RegistrationEndpoint:    "https://gluu-server/oxauth/restv1/register",
		TokenEndpoint:           "https://gluu-server/oxauth/restv1/token",
		InitialAccessToken:      &table.Secret{Env: "GLUU_INITIAL_ACCESS_TOKEN"},
		Timeout:                 entry.DCR.Timeout,
	}
	if !reflect.DeepEqual(*entry.DCR, want) {
		t.Errorf("dcr:\n got %+v\nwant %+v", *entry.DCR, want)
	}
}

// TestProviderExamples checks what examples/keycloak and examples/okta
// show about how those providers differ.
func TestProviderExamples(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		dir, api, claim, registration, token string
	}{
		{"keycloak", "orders", "azp", "https://keycloak.example.com/realms/cuegate/clients-registrations/openid-connect", "KEYCLOAK_INITIAL_ACCESS_TOKEN"},
		{"okta", "invoices", "cid", "https://dev-123456.okta.com/oauth2/v1/clients", "OKTA_API_TOKEN"},
	} {
		t.Run(tt.dir, func(t *testing.T) {
			tab, err := compiler.Compile(filepath.Join("../examples", tt.dir))
			if err != nil {
				t.Fatal(err)
			}
			if a := tab.APIs[tt.api]; a == nil || a.JWT == nil || a.JWT.IdentityClaim != tt.claim {
				t.Errorf("API %s: want identity claim %s", tt.api, tt.claim)
			}
			if len(tab.Portal.Catalogue) == 0 {
				t.Fatal("no catalogue entries")
			}
			for id, e := range tab.Portal.Catalogue {
				d := e.DCR
				if d == nil || d.Provider != tt.dir || d.RegistrationEndpoint != tt.registration ||
					d.InitialAccessToken == nil || d.InitialAccessToken.Env != tt.token ||
					d.ResponseTypes == nil || len(d.ResponseTypes) != 0 {
					t.Errorf("catalogue %s: dcr %+v", id, d)
				}
			}
		})
	}
}

// TestConfigFiles checks which files make up a configuration: the .cue
// files of the directory itself, sorted, without hidden files and editor
// backups.
func TestConfigFiles(t *testing.T) {
	t.Parallel()
	files := map[string]string{}
	for _, name := range []string{"b.cue", "a.cue", ".hidden.cue", ".#a.cue", "_draft.cue", "a.cue~", "notes.txt", "sub/c.cue", "d.cue/e.cue"} {
		files[name] = "package cfg\n"
	}
	dir := writeFiles(t, files)
	tests := []struct {
		dir     string
		want    []string
		wantErr bool
	}{
		{dir, []string{filepath.Join(dir, "a.cue"), filepath.Join(dir, "b.cue")}, false},
		{filepath.Join(dir, "sub"), []string{filepath.Join(dir, "sub", "c.cue")}, false},
		{t.TempDir(), nil, false},
		{filepath.Join(dir, "missing"), nil, true},
	}
	for _, tt := range tests {
		got, err := table.ConfigFiles(tt.dir)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ConfigFiles(%s) = %q, %v; want %q, error %v", tt.dir, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestGrantPathsCleaned: the table holds grant paths as the runtime
// matches them, without a trailing slash; an unclean one is kept as
// written (and warned about: it can never match).
func TestGrantPathsCleaned(t *testing.T) {
	t.Parallel()
	tab := mustCompile(t, `package cfg

apis: users: {name: "Users", listen_path: "/users", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}
policies: p: {name: "P", access: users: {paths: ["/profiles/", "/", "/a//b", "/profiles"]}}
`)
	if got, want := tab.Policies["p"].Access["users"].Paths, []string{"/", "/a//b", "/profiles"}; !reflect.DeepEqual(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
	if !strings.Contains(tab.Warnings.Error(), `path "/a//b" is not a clean path`) || strings.Contains(tab.Warnings.Error(), `"/profiles/"`) {
		t.Errorf("warnings = %v, want one for /a//b and none for /profiles/", tab.Warnings)
	}
}

// TestPublicURLDefault: without public_url, the gateway's address as a
// client on the machine dials it, which the portal shows in its examples.
func TestPublicURLDefault(t *testing.T) {
	t.Parallel()
	tests := []struct{ gateway, want string }{
		{`gateway: listen: "127.0.0.1:8080"`, "http://127.0.0.1:8080"},
		{`gateway: listen: ":8080"`, "http://localhost:8080"},
		{`gateway: listen: "0.0.0.0:8443", gateway: tls: {cert_file: "c.pem", key_file: "k.pem"}`, "https://localhost:8443"},
		{`gateway: listen: "[::]:8080"`, "http://localhost:8080"},
		{`gateway: {listen: ":8080", public_url: "https://api.example.com/"}`, "https://api.example.com"},
	}
	for _, tt := range tests {
		src := "package cfg\n\n" + tt.gateway + "\n" +
			`apis: a: {name: "A", listen_path: "/a", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}` + "\n"
		tab, err := compileSource(t, src)
		if err != nil {
			t.Fatalf("%s: %v", tt.gateway, err)
		}
		if tab.Gateway.PublicURL != tt.want {
			t.Errorf("%s: public_url %q, want %q", tt.gateway, tab.Gateway.PublicURL, tt.want)
		}
	}
}

// TestConnsPerClient: max_conns_per_client is kept as written and
// conns_exempt's prefixes masked and unmapped, as the listener compares
// addresses.
func TestConnsPerClient(t *testing.T) {
	t.Parallel()
	tab := mustCompile(t, `package cfg

gateway: {max_conns_per_client: 16, conns_exempt: ["10.1.2.3/8", "2001:db8::1/64", "::ffff:192.0.2.0/120"]}
apis: a: {name: "A", listen_path: "/a", upstream: targets: ["http://127.0.0.1:9000"], auth: keyless: true}
`)
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/64"), netip.MustParsePrefix("192.0.2.0/24")}
	if g := tab.Gateway; g.MaxConnsPerClient != 16 || !slices.Equal(g.ConnsExempt, want) {
		t.Errorf("max_conns_per_client %d, conns_exempt %v; want 16, %v", g.MaxConnsPerClient, g.ConnsExempt, want)
	}
}

// TestAdminListenNeedsToken: an admin_listen other machines can reach
// compiles only with an admin_token; loopback compiles without.
func TestAdminListenNeedsToken(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr   string
		public bool
	}{
		{"127.0.0.1:9090", false},
		{"127.3.4.5:9090", false},
		{"[::1]:9090", false},
		{"[::ffff:127.0.0.1]:9090", false},
		{"localhost:9090", false},
		{"LocalHost:9090", false},
		{"0.0.0.0:9090", true},
		{"[::]:9090", true},
		{":9090", true},
		{"10.1.2.3:9090", true},
		{"[2001:db8::1]:9090", true},
		{"admin.example.com:9090", true},
		{"localhost.example.com:9090", true},
		{"127.1:9090", true}, // not an IP literal Go parses: a name
	} {
		for _, token := range []bool{false, true} {
			cfg := "package t\n\ngateway: admin_listen: \"" + strings.ReplaceAll(tt.addr, `"`, `\"`) + "\"\n"
			if token {
				cfg += "gateway: admin_token: file: \"admin.token\"\n"
			}
			_, err := compileSource(t, cfg)
			refused := err != nil && strings.Contains(err.Error(), "gateway.admin_listen: "+`"`+tt.addr+`" can be reached from other machines`)
			if refused != (tt.public && !token) {
				t.Errorf("admin_listen %q, token %v: error %v", tt.addr, token, err)
			}
		}
	}
}
