package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
)

func TestBinding(t *testing.T) { // AllocsPerRun: not parallel
	s, _ := openNew(t)
	addDevelopers(t, s, "a@example.com")
	bound := client("bound", "a@example.com")
	expiring := client("expiring", "a@example.com")
	expiring.ExpiresAt = t0.Add(24 * time.Hour)
	for _, c := range []Client{bound, expiring, client("gone", "a@example.com")} {
		if err := s.AddClient(c, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteClient("gone", t0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id             string
		policy         string
		expiresAt      time.Time
		revoked, found bool
	}{
		{"bound", "gold", time.Time{}, false, true},
		{"expiring", "gold", t0.Add(24 * time.Hour), false, true},
		{"gone", "", time.Time{}, true, true},
		{"stranger", "", time.Time{}, false, false},
	}
	for _, tt := range tests {
		bnd, found := s.Binding(tt.id)
		policy, exp, revoked, catalogue := bnd.Policy, bnd.ExpiresAt, bnd.Revoked, bnd.Catalogue
		if found && !revoked && !slices.Equal(catalogue, []string{"gluu_api"}) {
			t.Errorf("Binding(%s) catalogue %q, want the client's", tt.id, catalogue)
		}
		if policy != tt.policy || !exp.Equal(tt.expiresAt) || revoked != tt.revoked || found != tt.found {
			t.Errorf("Binding(%s) = %q, %v, %v, %v; want %q, %v, %v, %v", tt.id,
				policy, exp, revoked, found, tt.policy, tt.expiresAt, tt.revoked, tt.found)
		}
	}
	if allocs := testing.AllocsPerRun(100, func() { s.Binding("expiring"); s.Binding("stranger") }); allocs != 0 {
		t.Errorf("Binding allocates %v times", allocs)
	}
}

func BenchmarkBinding(b *testing.B) {
	s, err := Open(statePath(b))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	addDevelopers(b, s, "a@example.com")
	for i := range 1000 {
		if err := s.AddClient(client(fmt.Sprintf("c%d", i), "a@example.com"), t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Binding("c500")
		}
	})
}

func TestBindingsMatchBindingAndHoldNoSecrets(t *testing.T) {
	t.Parallel()
	s, _ := openNew(t)
	addDevelopers(t, s, "a@example.com", "b@example.com")
	expiring := client("b-expiring", "a@example.com")
	expiring.ExpiresAt = t0.Add(time.Hour)
	for _, c := range []Client{client("c-bound", "a@example.com"), expiring, client("a-gone", "b@example.com")} {
		if err := s.AddClient(c, t0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.DeleteClient("a-gone", t0); err != nil {
		t.Fatal(err)
	}
	got := s.Bindings()
	want := []ClientBinding{
		{ClientID: "a-gone", Binding: table.Binding{Revoked: true}},
		{ClientID: "b-expiring", Binding: table.Binding{Policy: "gold", ExpiresAt: t0.Add(time.Hour), Catalogue: []string{"gluu_api"}}},
		{ClientID: "c-bound", Binding: table.Binding{Policy: "gold", Catalogue: []string{"gluu_api"}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Bindings() = %+v\nwant %+v", got, want)
	}
	for _, b := range got {
		bnd, found := s.Binding(b.ClientID)
		p, exp, revoked, cat := bnd.Policy, bnd.ExpiresAt, bnd.Revoked, bnd.Catalogue
		if !found || p != b.Policy || !exp.Equal(b.ExpiresAt) || revoked != b.Revoked || !slices.Equal(cat, b.Catalogue) {
			t.Errorf("Bindings has %+v, Binding answers %q %v %v %q %v", b, p, exp, revoked, cat, found)
		}
	}
	got[1].Catalogue[0] = "changed by the caller"
	if bnd, _ := s.Binding("b-expiring"); bnd.Catalogue[0] != "gluu_api" {
		t.Error("the caller's copy shares the store's catalogue")
	}
}
