package store

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client(id, dev string) Client {
	return Client{
		ClientID: id, ClientSecret: "secret-" + id, ClientName: "app " + id, Developer: dev,
		Catalogue: []string{"gluu_api"}, Policy: "gold", Provider: "gluu",
		TokenEndpoint: "https://idp/token", CreatedAt: t0,
	}
}
