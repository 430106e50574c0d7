package table

import (
	"fmt"
	"maps"
	"testing"
)

func api(id, listenPath string, methods ...string) *API {
	a := &API{ID: id, ListenPath: listenPath}
	if methods != nil {
		a.Methods = methods
	}
	return a
}

func index(apis ...*API) *RouteIndex {
	m := map[string]*API{}
	for _, a := range apis {
		m[a.ID] = a
	}
	return newRouteIndex(m)
}

func TestRouteLookup(t *testing.T) {
	t.Parallel()
	ix := index(
		api("root", "/"),
		api("users", "/users"),
		api("user_admin", "/users/admin", "GET"),
		api("reports_read", "/reports", "GET", "HEAD"),
		api("reports_write", "/reports", "POST"),
		api("closed", "/closed", []string{}...), // an empty list serves nothing
	)
	tests := []struct {
		path, method string
		want         string // API ID, "" for none
		pathMatched  bool
	}{
		{"/users", "GET", "users", true},
		{"/users/", "GET", "users", true},
		{"/users/7", "DELETE", "users", true},
		{"/users/7/orders", "PROPFIND", "users", true}, // no methods list: every method
		{"/usersfoo", "GET", "root", true},             // segment-bounded: not /users
		{"/users/admin", "GET", "user_admin", true},
		{"/users/admin/x", "GET", "user_admin", true},
		{"/users/admin/x/y/z", "GET", "user_admin", true}, // deeper than any listen path
		{"/users/admin/", "GET", "user_admin", true},
		{"/users/admin", "POST", "", true}, // the longest prefix decides; then 405
		{"/users/administrator", "POST", "users", true},
		{"/reports", "GET", "reports_read", true},
		{"/reports/q1", "HEAD", "reports_read", true},
		{"/reports/q1", "POST", "reports_write", true},
		{"/reports", "DELETE", "", true},
		{"/closed", "GET", "", true},
		{"/", "GET", "root", true},
		{"/elsewhere", "GET", "root", true},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got, matched := ix.Lookup([]byte(tt.path), []byte(tt.method))
			id := ""
			if got != nil {
				id = got.ID
			}
			if id != tt.want || matched != tt.pathMatched {
				t.Fatalf("Lookup(%q, %q) = %q, %v; want %q, %v", tt.path, tt.method, id, matched, tt.want, tt.pathMatched)
			}
		})
	}
}

func TestRouteLookupNoRoot(t *testing.T) {
	t.Parallel()
	ix := index(api("users", "/users"))
	for _, path := range []string{"/", "/user", "/other/users", ""} {
		if got, matched := ix.Lookup([]byte(path), []byte("GET")); got != nil || matched {
			t.Errorf("Lookup(%q) = %v, %v; want no match", path, got, matched)
		}
	}
	if n := ix.Len(); n != 1 {
		t.Errorf("Len() = %d, want 1", n)
	}
}

func TestRouteLookupRootOnly(t *testing.T) {
	t.Parallel()
	ix := index(api("root", "/"))
	for _, path := range []string{"/", "/a", "/a/", "/a/b/c"} {
		if got, _ := ix.Lookup([]byte(path), []byte("GET")); got == nil || got.ID != "root" {
			t.Errorf("Lookup(%q) = %v, want root", path, got)
		}
	}
}

func TestRouteLookupAllocs(t *testing.T) {
	ix := index(api("users", "/users"), api("reports", "/reports", "GET"))
	path, method := []byte("/users/7/orders/9"), []byte("GET")
	if n := testing.AllocsPerRun(100, func() { ix.Lookup(path, method) }); n != 0 {
		t.Fatalf("Lookup allocates %v times per call, want 0", n)
	}
}

func TestMethodSetString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		set  MethodSet
		want string
	}{
		{MethodsOf(nil), "every method"},
		{MethodsOf([]string{"POST", "GET"}), "GET, POST"},
		{MethodsOf(nil) & MethodsOf([]string{"DELETE"}), "DELETE"},
	} {
		if got := tt.set.String(); got != tt.want {
			t.Errorf("%b.String() = %q, want %q", tt.set, got, tt.want)
		}
	}
}

// BenchmarkRoute looks up a path three segments below a listen path in
// indexes of 10 and 10,000 APIs: the cost depends on the path's depth, not
// on the number of APIs, and a lookup does not allocate.
func BenchmarkRoute(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("apis=%d", n), func(b *testing.B) {
			apis := make([]*API, n)
			for i := range apis {
				apis[i] = api(fmt.Sprintf("api%d", i), fmt.Sprintf("/svc/api%d", i), "GET", "POST")
			}
			ix := index(apis...)
			path := []byte(fmt.Sprintf("/svc/api%d/v1/items/42", n/2))
			method := []byte("GET")
			b.ReportAllocs()
			for b.Loop() {
				if a, _ := ix.Lookup(path, method); a == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}

// TestRouteAllow: the Allow header of a 405 is what the APIs on the
// longest matching listen path serve.
func TestRouteAllow(t *testing.T) {
	t.Parallel()
	ix := index(
		api("users", "/users"),
		api("user_admin", "/users/admin", "GET"),
		api("reports_read", "/reports", "HEAD", "GET"),
		api("reports_write", "/reports", "POST"),
		api("closed", "/closed", []string{}...),
	)
	tests := []struct {
		path string
		want string // "<nil>" for no listen path
	}{
		{"/users/7", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"},
		{"/users/admin/x", "GET"},
		{"/reports/", "GET, HEAD, POST"},
		{"/closed", ""},
		{"/elsewhere", "<nil>"},
	}
	for _, tt := range tests {
		got := ix.Allow([]byte(tt.path))
		if s := string(got); (got == nil && tt.want != "<nil>") || (got != nil && s != tt.want) {
			t.Errorf("Allow(%s) = %q (nil %v), want %q", tt.path, s, got == nil, tt.want)
		}
	}
}

func TestOwners(t *testing.T) {
	t.Parallel()
	tb := &Table{APIs: map[string]*API{
		"all":   {ID: "all", ListenPath: "/a"},
		"reads": {ID: "reads", ListenPath: "/r", Methods: []string{"GET", "HEAD"}},
		"write": {ID: "write", ListenPath: "/r", Methods: []string{"POST"}},
	}}
	tb.Seal()
	got := tb.Routes.Owners()
	if len(got["/a"]) != 8 || got["/a"][AnyOtherMethod] != "all" || got["/a"]["DELETE"] != "all" {
		t.Errorf("/a: %v", got["/a"])
	}
	if want := map[string]string{"GET": "reads", "HEAD": "reads", "POST": "write"}; !maps.Equal(got["/r"], want) {
		t.Errorf("/r: %v, want %v", got["/r"], want)
	}
}
