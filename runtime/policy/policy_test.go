package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

// claims is a Claims of string lists; its scopes are those in "scp".
type claims map[string][]string

func (c claims) HasScope(s string) bool { return slices.Contains(c["scp"], s) }

func (c claims) EachString(name string, f func(string) bool) {
	for _, v := range c[name] {
		if !f(v) {
			return
		}
	}
}

var _ Claims = claims(nil)

func rate(n int64, per time.Duration) *table.Rate {
	return &table.Rate{Requests: n, Per: table.Duration(per)}
}

func quota(n int64, period time.Duration) *table.Quota {
	return &table.Quota{Max: n, Period: table.Duration(period)}
}

// policies is the table the tests decide on: the API "users" and the API
// "other"; the catalogue entries "users_entry" (issuer "dev") and
// "other_entry" (issuer "other").
var policies = func() map[string]*table.Policy {
	m := map[string]*table.Policy{
		"basic":     {Access: map[string]*table.Grant{"other": {}}},
		"reader":    {Access: map[string]*table.Grant{"users": {Methods: []string{"GET"}, Paths: []string{"/profiles"}}}},
		"writer":    {Access: map[string]*table.Grant{"users": {}}},
		"root":      {Access: map[string]*table.Grant{"users": {Paths: []string{"/"}}}},
		"nilgrant":  {Access: map[string]*table.Grant{"users": nil}},
		"limited":   {Access: map[string]*table.Grant{"users": {}}, Rate: rate(2, time.Minute)},
		"generous":  {Access: map[string]*table.Grant{"users": {}}, Rate: rate(100, time.Minute)},
		"samerate":  {Access: map[string]*table.Grant{"users": {}}, Rate: rate(200, 2*time.Minute)},
		"metered":   {Access: map[string]*table.Grant{"users": {}}, Quota: quota(2, time.Hour)},
		"bigquota":  {Access: map[string]*table.Grant{"users": {}}, Quota: quota(1000, time.Hour)},
		"capped":    {Access: map[string]*table.Grant{"users": {}}, Rate: rate(3, time.Minute), Quota: quota(4, time.Hour)},
		"slowbig":   {Access: map[string]*table.Grant{"users": {}}, Rate: rate(1, time.Minute), Quota: quota(1000, time.Hour)},
		"perless":   {Access: map[string]*table.Grant{"users": {}}, Rate: rate(5, 0)},
		"readonly":  {Access: map[string]*table.Grant{"users": {Methods: []string{"GET"}, Scopes: []string{"users:read"}}}},
		"readwrite": {Access: map[string]*table.Grant{"users": {Scopes: []string{"users:read", "users:write"}}}},
	}
	for id, p := range m {
		p.ID = id
	}
	return m
}()

var (
	devNS          = Namespace{Issuer: "dev", Claim: "client_id"}
	entryNamespace = map[string]Namespace{
		"users_entry": devNS,
		"other_entry": {Issuer: "other", Claim: "client_id"},
		"sub_entry":   {Issuer: "dev", Claim: "sub"},
	}
)

func TestDecide(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// A row's reg is the identity's binding; nil: not registered.
	reg := func(pol string, catalogue ...string) *table.Binding {
		if catalogue == nil {
			catalogue = []string{"users_entry"}
		}
		return &table.Binding{Policy: pol, Catalogue: catalogue}
	}
	expiring := func(r *table.Binding, at time.Time) *table.Binding { r.ExpiresAt = at; return r }
	revoked := reg("writer")
	revoked.Revoked = true

	tests := []struct {
		name     string
		reg      *table.Binding
		claim    []string
		scopes   []string
		defaults []string
		method   string
		path     string
		// want: the refusal, the unknown ID, the scopes needed, and the
		// IDs of the logged, rate and quota policies ("" for nil).
		refusal                Refusal
		unknown                string
		needs                  string
		logged, rateID, quotID string
	}{
		// Sources: the binding, else the claim, else the defaults.
		{name: "defaults", defaults: []string{"writer"}, logged: "writer"},
		{name: "no policy at all", refusal: NoPolicy},
		{name: "empty defaults", defaults: []string{}, refusal: NoPolicy},
		{name: "claim", claim: []string{"writer"}, method: "POST", logged: "writer"},
		{name: "claim list", claim: []string{"reader", "writer"}, method: "POST", logged: "writer"},
		{name: "empty claim value names none", claim: []string{""}, defaults: []string{"writer"}, logged: "writer"},
		{name: "claim replaces defaults", claim: []string{"basic"}, defaults: []string{"writer"}, refusal: Denied},
		{name: "unknown claim policy", claim: []string{"reader", "ghost", "writer"}, refusal: UnknownPolicy, unknown: "ghost"},
		{name: "unknown default policy", defaults: []string{"writer", "ghost"}, refusal: UnknownPolicy, unknown: "ghost"},
		{name: "binding wins over claim", reg: reg("writer"), claim: []string{"reader"}, method: "POST", logged: "writer"},
		{name: "binding revoked", reg: revoked, claim: []string{"writer"}, refusal: Revoked},
		{name: "binding expired", reg: expiring(reg("writer"), now.Add(-time.Minute)), refusal: Expired},
		{name: "binding expires now", reg: expiring(reg("writer"), now), refusal: Expired},
		{name: "binding not yet expired", reg: expiring(reg("writer"), now.Add(time.Hour)), logged: "writer"},
		{name: "binding to unknown policy", reg: reg("nope"), claim: []string{"writer"}, refusal: UnknownPolicy, unknown: "nope"},
		{name: "binding of another issuer ignored", reg: reg("writer", "other_entry"), claim: []string{"reader"}, method: "POST", refusal: Denied},
		{name: "binding of another identity claim ignored", reg: reg("writer", "sub_entry"), claim: []string{"reader"}, method: "POST", refusal: Denied},
		{name: "revoked binding of another identity claim refuses", reg: &table.Binding{Revoked: true, Catalogue: []string{"sub_entry"}}, claim: []string{"writer"}, refusal: Revoked},
		{name: "binding of one of its entries' issuers", reg: reg("writer", "other_entry", "users_entry"), claim: []string{"reader"}, method: "POST", logged: "writer"},
		{name: "binding of a keyless entry fails closed", reg: reg("writer", "public_entry"), claim: []string{"writer"}, refusal: Unmatched},
		{name: "binding of no entry fails closed", reg: reg("writer", []string{}...), claim: []string{"writer"}, refusal: Unmatched},
		{name: "expiry holds for every issuer", reg: expiring(reg("writer", "public_entry"), now.Add(-time.Minute)), refusal: Expired},

		// Access by method and path.
		{name: "grant path below", claim: []string{"reader"}, path: "/profiles/7", logged: "reader"},
		{name: "grant path itself", claim: []string{"reader"}, path: "/profiles", logged: "reader"},
		{name: "grant path segment-bounded", claim: []string{"reader"}, path: "/profilesx", refusal: Denied},
		{name: "grant other path", claim: []string{"reader"}, path: "/admin", refusal: Denied},
		{name: "grant method", claim: []string{"reader"}, method: "POST", path: "/profiles", refusal: Denied},
		{name: "grant root path", claim: []string{"root"}, path: "/anything", logged: "root"},
		{name: "nil grant allows all", claim: []string{"nilgrant"}, method: "DELETE", logged: "nilgrant"},
		{name: "policy of another API", claim: []string{"basic"}, refusal: Denied},
		{name: "first granting policy logged", claim: []string{"reader", "basic", "root", "writer"}, path: "/x", logged: "root"},

		// Grants that need scopes.
		{name: "scoped grant", claim: []string{"readonly"}, scopes: []string{"users:read"}, logged: "readonly"},
		{name: "scoped grant without the scope", claim: []string{"readonly"}, scopes: []string{"other"}, refusal: Scope, needs: "users:read"},
		{name: "scoped grant needs all its scopes", claim: []string{"readwrite"}, scopes: []string{"users:write"}, method: "POST", refusal: Scope, needs: "users:read users:write"},
		{name: "read-only and read-write of one token", claim: []string{"readonly", "readwrite"}, scopes: []string{"users:read"}, method: "POST", refusal: Scope, needs: "users:read users:write"},
		{name: "read-write with both scopes", claim: []string{"readonly", "readwrite"}, scopes: []string{"users:read", "users:write"}, method: "POST", logged: "readwrite"},
		{name: "scoped grant of another method denies", claim: []string{"readonly"}, method: "POST", refusal: Denied},
		{name: "an unscoped grant wins over a missing scope", claim: []string{"readwrite", "writer"}, logged: "writer"},

		// Limits: the most generous, rate and quota each on its own.
		{name: "rate", claim: []string{"limited"}, logged: "limited", rateID: "limited"},
		{name: "higher rate wins", claim: []string{"limited", "generous"}, logged: "generous", rateID: "generous"},
		{name: "rate tie to the first", claim: []string{"samerate", "generous"}, logged: "samerate", rateID: "samerate"},
		{name: "no rate lifts the rate", claim: []string{"limited", "writer"}, logged: "limited"},
		{name: "quota", claim: []string{"metered"}, logged: "metered", quotID: "metered"},
		{name: "higher quota wins", claim: []string{"metered", "bigquota"}, logged: "bigquota", quotID: "bigquota"},
		{name: "no quota lifts the quota", claim: []string{"capped", "limited"}, logged: "capped", rateID: "capped"},
		{name: "each lifts the other's limit", claim: []string{"limited", "metered"}, logged: "limited"},
		{name: "rate and quota chosen apart", claim: []string{"slowbig", "capped"}, logged: "capped", rateID: "capped", quotID: "slowbig"},
		{name: "rate and quota of one policy", claim: []string{"capped"}, logged: "capped", rateID: "capped", quotID: "capped"},
		{name: "one without a rate and one without a quota lift both", claim: []string{"capped", "generous", "bigquota"}, logged: "capped"},
		{name: "a rate without a period compares as its count", claim: []string{"perless", "limited"}, logged: "perless", rateID: "perless"},
		{name: "no limits: logged under the first", claim: []string{"metered", "nilgrant"}, logged: "metered"},
		{name: "a policy not granting is not counted", claim: []string{"reader", "limited"}, method: "POST", path: "/profiles", logged: "limited", rateID: "limited"},
	}
	var s Set // one Set for every case: Decide leaves nothing behind
	for _, tt := range tests {
		in := Input{
			Policies:       policies,
			EntryNamespace: entryNamespace,
			API:            "users",
			Namespace:      devNS,
			Registered:     tt.reg != nil,
			Claims:         claims{"pol": tt.claim, "scp": tt.scopes},
			PolicyClaim:    "pol",
			Defaults:       tt.defaults,
			Now:            now,
			Method:         []byte(or(tt.method, "GET")),
			Path:           []byte(or(tt.path, "/profiles")),
		}
		if tt.reg != nil {
			in.Registration = *tt.reg
		}
		d := s.Decide(&in)
		got := [6]string{refusalName[d.Refusal], d.Unknown, needs(d.Needs), id(d.Policy), id(d.Rate), id(d.Quota)}
		want := [6]string{refusalName[tt.refusal], tt.unknown, tt.needs, tt.logged, tt.rateID, tt.quotID}
		if got != want {
			t.Errorf("%s: refusal, unknown, needs, logged, rate, quota = %q, want %q", tt.name, got, want)
		}
	}
}

var refusalName = [...]string{None: "none", Revoked: "revoked", Expired: "expired", Unmatched: "unmatched", UnknownPolicy: "unknown policy", NoPolicy: "no policy", Denied: "denied", Scope: "scope"}

func id(p *table.Policy) string {
	if p == nil {
		return ""
	}
	return p.ID
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func TestDecideWithoutClaims(t *testing.T) {
	t.Parallel()
	var s Set
	d := s.Decide(&Input{Policies: policies, API: "users", Defaults: []string{"writer"}, Method: []byte("GET"), Path: []byte("/")})
	if d.Refusal != None || id(d.Policy) != "writer" {
		t.Fatalf("%+v, want the default policy", d)
	}
}

func TestWhereHolds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		catalogue []string
		ns        Namespace
		want      holds
	}{
		{[]string{"users_entry"}, devNS, here},
		{[]string{"users_entry"}, Namespace{"other", "client_id"}, elsewhere},
		{[]string{"users_entry"}, Namespace{"dev", "sub"}, elsewhere},
		{[]string{"public_entry", "other_entry", "users_entry"}, devNS, here},
		{[]string{"public_entry", "other_entry"}, devNS, elsewhere},
		{[]string{"public_entry"}, devNS, nowhere},
		{nil, devNS, nowhere},
	}
	for _, tt := range tests {
		if got := whereHolds(tt.catalogue, tt.ns, entryNamespace); got != tt.want {
			t.Errorf("whereHolds(%q, %v) = %d, want %d", tt.catalogue, tt.ns, got, tt.want)
		}
	}
}

func TestAllows(t *testing.T) {
	t.Parallel()
	gr := &table.Grant{Methods: []string{"GET", "HEAD"}, Paths: []string{"/users", "/a/b"}}
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/users", true},
		{"HEAD", "/users/7", true},
		{"GET", "/usersx", false},
		{"GET", "/user", false},
		{"GET", "/a/b/c", true},
		{"GET", "/a", false},
		{"GET", "/", false},
		{"get", "/users", false}, // methods are case-sensitive
		{"POST", "/users", false},
	}
	for _, tt := range tests {
		if got := Allows(gr, []byte(tt.method), []byte(tt.path)); got != tt.want {
			t.Errorf("Allows(%s %s) = %v, want %v", tt.method, tt.path, got, tt.want)
		}
	}
	if !Allows(&table.Grant{}, []byte("DELETE"), []byte("/x")) || !Allows(nil, []byte("DELETE"), []byte("/x")) {
		t.Error("an empty or nil grant does not allow everything")
	}
}

// TestDecideAllocs: a reused Set decides without allocating.
func TestDecideAllocs(t *testing.T) {
	var s Set
	in := &Input{
		Policies: policies, EntryNamespace: entryNamespace, API: "users", Namespace: devNS,
		Registration: table.Binding{Policy: "other", Catalogue: []string{"other_entry"}}, Registered: true,
		Claims: claims{"pol": {"reader", "capped", "generous"}}, PolicyClaim: "pol",
		Now: time.Now(), Method: []byte("GET"), Path: []byte("/profiles/7"),
	}
	s.Decide(in)
	if n := testing.AllocsPerRun(100, func() { s.Decide(in) }); n != 0 {
		t.Fatalf("%v allocations per Decide", n)
	}
}

func needs(g *table.Grant) string {
	if g == nil {
		return ""
	}
	return strings.Join(g.Scopes, " ")
}
