package portal

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/runtime/limit"
)

// ordersReference is the reference the compiler makes of a small orders
// document, with text from the document (title, descriptions, paths)
// replaced by hostile when it is not "".
func ordersReference(hostile string) *table.Reference {
	text := func(s string) string {
		if hostile != "" {
			return hostile + s
		}
		return s
	}
	return &table.Reference{File: "orders.openapi.yaml", SHA256: strings.Repeat("ab", 32), OpenAPI: "3.0.3",
		Document: []byte(`{"openapi":"3.0.3","info":{"title":"Orders","version":"2.1"}}`),
		Title:    text("Orders"), Version: "2.1", Description: text("Place and track orders."),
		Tags: []table.ReferenceTag{{Name: text("orders"), Description: text("Orders of the caller."), Operations: []table.Operation{
			{Method: "POST", Path: "/orders", Summary: text("Place an order"),
				RequestBody: &table.Body{Required: true, Content: []table.Media{{Type: "application/json", Schema: text("Order\n  quantity: integer (int32)\n  sku: string, required")}}},
				Responses:   []table.Response{{Status: "201", Description: text("Placed.")}}},
			{Method: "GET", Path: text("/orders/{id}"), Summary: text("Read an order"),
				Parameters: []table.Parameter{{Name: text("id"), In: "path", Required: true, Schema: "string (uuid)", Description: text("The order's ID.")}},
				Responses: []table.Response{{Status: "200", Description: "The order.", Content: []table.Media{{Type: "application/json", Schema: "Order\n  sku: string, required"}}},
					{Status: "404", Description: "No such order."}}},
		}}},
	}
}

// withReference is testTable with a reference for the orders entry and
// the orders API checking tokens of https://idp.example.
func withReference(e *env, ref *table.Reference) *table.Table {
	t := e.freshTable()
	t.IdPs = map[string]*table.IdP{"idp": {ID: "idp", Issuer: "https://idp.example"}}
	t.APIs["orders"].JWT = &table.JWTAuth{IdP: "idp", Algorithms: []string{"RS256"}, IdentityClaim: "client_id"}
	t.Portal.Catalogue["orders"].Reference = ref
	e.table.Store(t)
	return t
}

func TestHostileOpenAPIIsEscaped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const hostile = `<script>alert(1)</script>"'><img src=x onerror=alert(2)>`
	withReference(e, ordersReference(hostile))
	status, body, _ := e.page(e.browser(), "/catalogue/orders")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	for _, raw := range []string{"<script>alert", "<img src=x", `"'>`} {
		if strings.Contains(body, raw) {
			t.Errorf("the page holds %q unescaped:\n%s", raw, body)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the hostile text is not shown escaped")
	}
	// The curl line quotes the path for the shell too.
	if !strings.Contains(body, `&#39;https://gw.example/orders&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;\&#39;&#39;&gt;`) {
		t.Errorf("the curl line does not shell-quote the path:\n%s", body)
	}
}

func TestOpenAPIDocumentEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ref := ordersReference("")
	withReference(e, ref)
	resp, err := http.Get(e.srv.URL + apiPrefix + "/catalogue/orders/openapi")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	var aerr apiError
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("ETag") != `"`+ref.SHA256+`"` {
		t.Errorf("%d %v", resp.StatusCode, resp.Header)
	}
	e.api(e.browser(), "GET", "/catalogue/orders/openapi", nil, &doc)
	if doc["openapi"] != "3.0.3" {
		t.Errorf("document = %v", doc)
	}
	if resp := e.api(e.browser(), "GET", "/catalogue/gluu_api/openapi", nil, &aerr); resp.StatusCode != 404 || aerr.Code != "not_found" {
		t.Errorf("entry without a document: %d %+v", resp.StatusCode, aerr)
	}
}

// TestUsageAfterCalls: a client's usage is what the gateway's limiter
// counted for it.
func TestUsageAfterCalls(t *testing.T) {
	t.Parallel()
	mem := limit.NewMemory(limit.MemoryOptions{})
	e := newEnvOpts(t, Options{Logger: zerolog.Nop(), Usage: mem})
	tb := withReference(e, nil)
	dev := e.developer("a@example.com")
	c := e.create(dev, "app", "orders")
	p := tb.Policies["gold"]
	k := counterKey(tb, "orders", c.ClientID)
	const calls = 7
	for range calls {
		mem.Take(context.Background(), limit.Request{RateKey: k, Rate: p.Rate, QuotaKey: k, Quota: p.Quota}, *e.now.Load())
	}
	var v clientView
	e.api(dev, "GET", "/clients/"+c.ClientID, nil, &v)
	u := v.Usage
	if u == nil || u.Rate == nil || u.Quota == nil || u.Rate.Used != calls || u.Rate.Limit != 100 || u.Rate.ResetsIn != 120 ||
		u.Quota.Used != calls || u.Quota.Max != 10000 || u.Quota.ResetsAt == nil || !u.Quota.ResetsAt.Equal(e.now.Load().Add(p.Quota.Period.D())) {
		t.Errorf("usage = %+v %+v %+v", u, u.Rate, u.Quota)
	}
	_, body, _ := e.page(dev, "/clients/"+c.ClientID)
	if !strings.Contains(body, `<meter min="0" max="100" value="7"`) || !strings.Contains(body, `<meter min="0" max="10000" value="7"`) {
		t.Errorf("the page shows no usage bars:\n%s", body)
	}
}

// TestScriptNonce: a page allows its own script by a fresh nonce and no
// other script; other answers allow none.
func TestScriptNonce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	nonces := map[string]bool{}
	for range 2 {
		resp, err := http.Get(e.srv.URL + "/catalogue")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := regexp.MustCompile(`<script src="/static/copy.js" nonce="([^"]+)"`).FindSubmatch(b)
		csp := resp.Header.Get("Content-Security-Policy")
		if m == nil || !strings.Contains(csp, "script-src 'nonce-"+string(m[1])+"';") || strings.Contains(csp, "unsafe") {
			t.Fatalf("CSP %q for a page with %s", csp, m)
		}
		nonces[string(m[1])] = true
	}
	if len(nonces) != 2 {
		t.Error("two pages had the same nonce")
	}
	resp, err := http.Get(e.srv.URL + apiPrefix + "/catalogue")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") || !strings.HasPrefix(csp, "default-src 'none'") {
		t.Errorf("JSON answer's CSP %q", csp)
	}
}
