package cluster

import (
	"fmt"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/strictjson"
	"github.com/cuegate/cuegate/portal/store"
)

// snapshot is the bindings of every client at one version, as stored in
// Redis and in a follower's file.
type snapshot struct {
	Version  int64     `json:"version"`
	Bindings []binding `json:"bindings"`
}

// binding is one client's entry of a snapshot. A deleted client has only
// its ID and Revoked.
type binding struct {
	ClientID string `json:"client_id"`
	table.Binding
}

// newSnapshot returns the snapshot of bs at version v.
func newSnapshot(v int64, bs []store.ClientBinding) *snapshot {
	s := &snapshot{Version: v, Bindings: make([]binding, len(bs))}
	for i, b := range bs {
		s.Bindings[i] = binding{ClientID: b.ClientID, Binding: b.Binding}
	}
	return s
}

// maxVersion bounds versions, snapshots' and floors' (they are below
// it): far above any clock's (versions are Unix microseconds), and far
// enough below the greatest int64 that the version after one below it
// never overflows.
const maxVersion = 1<<63 - 1<<40

// decodeSnapshot parses and checks an encoded snapshot. Unknown fields are
// errors: a field this version does not know might be one that refuses a
// client.
func decodeSnapshot(b []byte) (*snapshot, error) {
	var s snapshot
	if err := strictjson.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if s.Version <= 0 || s.Version >= maxVersion {
		return nil, fmt.Errorf("version %d: want a positive one below %d", s.Version, int64(maxVersion))
	}
	seen := make(map[string]bool, len(s.Bindings))
	for i, b := range s.Bindings {
		switch {
		case b.ClientID == "":
			return nil, fmt.Errorf("bindings[%d]: no client_id", i)
		case seen[b.ClientID]:
			return nil, fmt.Errorf("bindings[%d]: duplicate client_id %q", i, b.ClientID)
		}
		seen[b.ClientID] = true
	}
	return &s, nil
}

// index is a snapshot indexed for Binding; never modified once built.
type index struct {
	version int64
	clients map[string]table.Binding
}

func newIndex(s *snapshot) *index {
	x := &index{version: s.Version, clients: make(map[string]table.Binding, len(s.Bindings))}
	for _, b := range s.Bindings {
		x.clients[b.ClientID] = b.Binding
	}
	return x
}

// keys names what a publisher and its followers share in Redis.
type keys struct {
	hash    string // fields "version", "snapshot" and "floor"
	channel string // messages are versions published and floors raised
}

func newKeys(prefix string) keys {
	if prefix == "" {
		prefix = "cuegate:"
	}
	return keys{hash: prefix + "v1:bindings", channel: prefix + "v1:bindings:changed"}
}
