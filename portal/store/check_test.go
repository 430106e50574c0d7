package store

import "testing"

func TestCheckNamesTheBadRecord(t *testing.T) {
	t.Parallel()
	a := &Developer{Email: "a@example.com"}
	c := &Client{ClientID: "c"}
	tests := []struct {
		name string
		st   state
		want string
	}{
		{"good", state{Developers: []*Developer{a}, Clients: []*Client{c}, Tombstones: []*Tombstone{{ClientID: "c"}}}, ""},
		{"nil developer", state{Developers: []*Developer{a, nil}}, "developers[1]: no email"},
		{"developer without email", state{Developers: []*Developer{{}}}, "developers[0]: no email"},
		{"duplicate email", state{Developers: []*Developer{a, a}}, `developers[1]: duplicate email "a@example.com"`},
		{"nil client", state{Clients: []*Client{nil}}, "clients[0]: no client_id"},
		{"client without ID", state{Clients: []*Client{c, {}}}, "clients[1]: no client_id"},
		{"duplicate client ID", state{Clients: []*Client{c, c}}, `clients[1]: duplicate client_id "c"`},
		{"tombstone without ID", state{Tombstones: []*Tombstone{{ClientID: "c"}, {}}}, "tombstones[1]: no client_id"},
	}
	for _, tt := range tests {
		got := ""
		if err := tt.st.check(); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: check() = %q, want %q", tt.name, got, tt.want)
		}
	}
}
