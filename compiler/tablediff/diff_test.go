package tablediff_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/compiler/tablediff"
)

// base is a small table; each case edits a fresh copy.
func base() *table.Table {
	return &table.Table{
		Gateway: table.Gateway{Listen: ":8080", MaxBodyBytes: 1 << 20, AdminToken: &table.Secret{Env: "ADMIN"}},
		IdPs: map[string]*table.IdP{"main": {ID: "main", Issuer: "https://idp.example/", JWKSURI: "https://idp.example/jwks",
			Algorithms: []string{"RS256"}, Leeway: table.Duration(time.Minute)}},
		APIs: map[string]*table.API{"orders": {ID: "orders", ListenPath: "/orders/", Methods: []string{"GET", "POST"},
			Upstream: table.Upstream{Targets: []string{"http://orders:8080"}, Timeout: table.Duration(30 * time.Second)},
			JWT:      &table.JWTAuth{IdP: "main", IdentityClaim: "sub"}}},
		Policies: map[string]*table.Policy{"gold": {ID: "gold", Access: map[string]*table.Grant{"orders": {}},
			Rate: &table.Rate{Requests: 100, Per: table.Duration(time.Minute)}}},
		Portal: table.Portal{Signup: "open", Catalogue: map[string]*table.CatalogueEntry{"orders": {ID: "orders", API: "orders", Policy: "gold",
			DCR: &table.DCR{Provider: "generic", RegistrationEndpoint: "https://idp.example/reg", InitialAccessToken: &table.Secret{Env: "IAT"}}}}},
	}
}

func TestTables(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		edit func(*table.Table)
		want string // WriteText's output
	}{
		{"same", func(*table.Table) {}, ""},
		{"same, maps rebuilt in another order", func(tb *table.Table) {
			tb.APIs = map[string]*table.API{"orders": tb.APIs["orders"]}
		}, ""},
		{"upstream timeout", func(tb *table.Table) { tb.APIs["orders"].Upstream.Timeout = table.Duration(10 * time.Second) },
			"api orders: changed\n  upstream.timeout: \"30s\" → \"10s\"\n"},
		{"api added and removed, route moves", func(tb *table.Table) {
			a := *tb.APIs["orders"]
			a.ID = "orders_v2"
			tb.APIs = map[string]*table.API{"orders_v2": &a}
		}, "api orders: removed\napi orders_v2: added\nroute /orders/ GET, POST: orders → orders_v2\n"},
		{"one method moves", func(tb *table.Table) {
			tb.APIs["orders"].Methods = []string{"GET"}
			tb.APIs["writes"] = &table.API{ID: "writes", ListenPath: "/orders/", Methods: []string{"POST"}}
		}, "api orders: changed\n  methods: [\"GET\",\"POST\"] → [\"GET\"]\napi writes: added\nroute /orders/ POST: orders → writes\n"},
		{"every method moves", func(tb *table.Table) {
			tb.APIs["orders"].Methods = nil
			tb.APIs["all"] = &table.API{ID: "all", ListenPath: "/orders/"} // sorts first: serves every method
		}, "api all: added\napi orders: changed\n  methods: [\"GET\",\"POST\"] → null\nroute /orders/ GET, POST: orders → all\n"},
		{"policy rate and grant", func(tb *table.Table) {
			tb.Policies["gold"].Rate.Requests = 50
			tb.Policies["gold"].Access["orders"].Methods = []string{"GET"}
		}, "policy gold: changed\n  access.orders.methods: null → [\"GET\"]\n  rate.requests: 100 → 50\n"},
		{"policy quota added", func(tb *table.Table) {
			tb.Policies["gold"].Quota = &table.Quota{Max: 5, Period: table.Duration(time.Hour)}
		},
			"policy gold: changed\n  quota: (none) → {\"max\":5,\"period\":\"1h0m0s\"}\n"},
		{"secret reference", func(tb *table.Table) {
			tb.Portal.Catalogue["orders"].DCR.InitialAccessToken = &table.Secret{File: "iat.txt"}
			tb.Gateway.AdminToken = nil
		}, "gateway: changed\n  admin_token: {\"env\":\"ADMIN\"} → (none)\ncatalogue orders: changed\n" +
			"  dcr.initial_access_token.env: \"IAT\" → (none)\n  dcr.initial_access_token.file: (none) → \"iat.txt\"\n"},
		{"portal setting and idp", func(tb *table.Table) {
			tb.Portal.Signup = "closed"
			tb.IdPs["main"].Algorithms = []string{"ES256", "RS256"}
		}, "portal: changed\n  signup: \"open\" → \"closed\"\nidp main: changed\n  algorithms: [\"RS256\"] → [\"ES256\",\"RS256\"]\n"},
		{"cluster added", func(tb *table.Table) {
			tb.Cluster = &table.Cluster{Redis: table.Redis{Address: "redis:6379"}, OnRedisError: "local", MinNodes: 1}
		}, "cluster: added\n  min_nodes: (none) → 1\n  on_redis_error: (none) → \"local\"\n  redis: (none) → " +
			`{"address":"redis:6379","database":0,"key_prefix":"","timeout":"0s"}` + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a, b := base(), base()
			c.edit(b)
			a.Seal()
			b.Seal()
			d := tablediff.Tables(a, b)
			var sb strings.Builder
			if err := d.WriteText(&sb); err != nil {
				t.Fatal(err)
			}
			if sb.String() != c.want {
				t.Errorf("diff:\n%s\nwant:\n%s", sb.String(), c.want)
			}
			if d.Empty() != (c.want == "") {
				t.Errorf("Empty() = %v", d.Empty())
			}
		})
	}
}

// TestJSONUnknownBlock: a block a newer model adds is compared too.
func TestJSONUnknownBlock(t *testing.T) {
	t.Parallel()
	a := `{"gateway":{},"apis":{},"tracing":{"endpoint":"a"}}`
	b := `{"gateway":{},"apis":{},"tracing":{"endpoint":"b","sample":0.5}}`
	d, err := tablediff.JSON([]byte(a), []byte(b))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(d.Items)
	want := `[{"group":"tracing","kind":"changed","fields":[{"path":"endpoint","old":"a","new":"b"},{"path":"sample","new":0.5}]}]`
	if string(got) != want {
		t.Errorf("items = %s\nwant    %s", got, want)
	}
}

func TestJSONErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ old, new, want string }{
		{`{`, `{}`, "tablediff: old table: "},
		{`{}`, `null`, "tablediff: new table: not a table: null"},
		{`{}`, `{"apis":{"x":{"methods":"GET"}}}`, "tablediff: new table: "},
		{`{}`, `{"apis":{"x":null}}`, `tablediff: new table: apis."x": not an object`},
		{`{"idps":{"x":null}}`, `{}`, `tablediff: old table: idps."x": not an object`},
		{`{}`, `{"policies":{"p":{"id":"q"}}}`, `tablediff: new table: policies."p": its id is "q"`},
		{`{}`, `{"portal":{"catalogue":{"c":null}}}`, `tablediff: new table: portal.catalogue."c": not an object`},
	} {
		_, err := tablediff.JSON([]byte(c.old), []byte(c.new))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("JSON(%s, %s) = %v, want %q…", c.old, c.new, err, c.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	t.Parallel()
	a, b := base(), base()
	b.APIs["orders"].Name = "a|b `x`"
	a.Seal()
	b.Seal()
	var sb strings.Builder
	if err := tablediff.Tables(a, b).WriteMarkdown(&sb); err != nil {
		t.Fatal(err)
	}
	want := "### cuegate diff\n\n| change | item | field | old | new |\n|---|---|---|---|---|\n" +
		"| changed | `api orders` | `name` | `\"\"` | ``\"a\\|b `x`\"`` |\n"
	if sb.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", sb.String(), want)
	}
	sb.Reset()
	if err := tablediff.Tables(a, a).WriteMarkdown(&sb); err != nil || sb.String() != "### cuegate diff: no change\n" {
		t.Errorf("no change: %q, %v", sb.String(), err)
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	a, b := base(), base()
	b.Policies["gold"].Rate.Requests = 5
	b.Policies["silver"] = &table.Policy{ID: "silver"}
	a.Seal()
	b.Seal()
	got := strings.Join(tablediff.Tables(a, b).Summary(), "; ")
	if want := "policy gold changed: rate.requests; policy silver added"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

// TestHostileNames: names from a table cannot start a line, fake a field
// or a table cell, or hide in invisible characters, in any format.
func TestHostileNames(t *testing.T) {
	t.Parallel()
	old := `{"apis":{"y":{"id":"y","listen_path":"/a\r\n| b |","methods":["GET"]}},"policies":{}}`
	cur := `{"apis":{"x\n::error file=a::owned":{"id":"x\n::error file=a::owned","listen_path":"/a\r\n| b |","methods":["GET"]}},` +
		`"policies":{"p\u202egold":{"id":"p\u202egold","access":{"a` + "`" + `\n|":{}}}},"odd\ngroup":{"k":1}}`
	d, err := tablediff.JSON([]byte(old), []byte(cur))
	if err != nil {
		t.Fatal(err)
	}
	var text, md strings.Builder
	if err := d.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	wantText := "api \"x\\n::error file=a::owned\": added\napi y: removed\npolicy \"p\\u202egold\": added\n\"odd\\ngroup\": added\n  k: (none) → 1\n" +
		"route \"/a\\r\\n| b |\" GET: y → \"x\\n::error file=a::owned\"\n"
	if text.String() != wantText {
		t.Errorf("text:\n%s\nwant:\n%s", text.String(), wantText)
	}
	for i, line := range strings.Split(strings.TrimSuffix(md.String(), "\n"), "\n") {
		cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|") - 1
		if strings.HasPrefix(line, "|") && cells != 4 && cells != 5 {
			t.Errorf("markdown line %d breaks its row: %q", i, line)
		}
		if line != "" && !strings.HasPrefix(line, "|") && !strings.HasPrefix(line, "###") {
			t.Errorf("markdown line %d is outside the tables: %q", i, line)
		}
	}
	if got := strings.Join(d.Summary(), "\n"); strings.Count(got, "\n") != len(d.Summary())-1 {
		t.Errorf("Summary has a line break inside an entry: %q", got)
	}
}

// FuzzJSON: no table read from a node makes JSON or its renderings panic.
func FuzzJSON(f *testing.F) {
	f.Add([]byte(`{"apis":{"x":null}}`))
	f.Add([]byte(`{"apis":{"a":{"id":"a","listen_path":"/a","methods":["GET"]}},"portal":{"catalogue":{}}}`))
	f.Add([]byte(`{"policies":{"p":{"id":"p","access":{"a":null}}},"idps":{"i":{"id":"i"}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		old := []byte(`{"apis":{"a":{"id":"a","listen_path":"/a"}}}`)
		d, err := tablediff.JSON(old, raw)
		if err != nil {
			return
		}
		var sb strings.Builder
		if d.WriteText(&sb) != nil || d.WriteMarkdown(&sb) != nil {
			t.Fatal("write failed")
		}
		_ = d.Summary()
	})
}

// TestValueEscapesWhatIsNotPrintable: a changed value's control, C1 and
// bidirectional characters, which json.Marshal leaves raw, are shown as
// JSON escapes in text and in Markdown, and the text shown is the same
// JSON value.
func TestValueEscapesWhatIsNotPrintable(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"Echo API", `"Echo API"`},
		{"Echo\u009b31mRED\u202eIPA", `"Echo\u009b31mRED\u202eIPA"`},
		{"tag\U000E0001", `"tag\udb40\udc01"`},
		{"café ☕", `"café ☕"`},
	} {
		raw, _ := json.Marshal(tt.in)
		d := &tablediff.Diff{Items: []tablediff.Item{{Group: "catalogue", ID: "echo", Kind: tablediff.Changed,
			Fields: []tablediff.Field{{Path: "description", Old: json.RawMessage(`""`), New: raw}}}}}
		var text, md strings.Builder
		d.WriteText(&text)   //nolint:errcheck // a strings.Builder
		d.WriteMarkdown(&md) //nolint:errcheck
		var back string
		if !strings.Contains(text.String(), "→ "+tt.want+"\n") || !strings.Contains(md.String(), tt.want) ||
			json.Unmarshal([]byte(tt.want), &back) != nil || back != tt.in {
			t.Errorf("%q shown as\n%s%s\nwant %s", tt.in, text.String(), md.String(), tt.want)
		}
	}
}
