package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
	"github.com/cuegate/cuegate/portal/store"
)

// onTake is a Source that runs then, once, right after the publisher
// takes the bindings.
type onTake struct {
	Source
	then func()
}

func (s *onTake) Bindings() []store.ClientBinding {
	b := s.Source.Bindings()
	if then := s.then; then != nil {
		s.then = nil
		then()
	}
	return b
}

// TestStopPublishesADeletionMadeDuringTheLastWrite: a client deleted
// while the publisher writes an older snapshot, just before it stops,
// reaches Redis before Stop returns; when Redis does not answer, Stop
// logs the version it leaves unpublished.
func TestStopPublishesADeletionMadeDuringTheLastWrite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		redisDown bool
	}{
		{"Redis answers", false},
		{"Redis does not answer", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := testutil.StartRedis(t)
			// Stop chooses between its end and the change at random when
			// it drops the change: a few tries find it.
			for range 16 {
				st := newStore(t)
				add(t, st, "c1")
				ctx, cancel := context.WithCancel(context.Background())
				log := &testutil.SyncBuffer{}
				src := &onTake{Source: st, then: func() {
					if tt.redisDown {
						srv.Pause()
					}
					if _, err := st.DeleteClient("c1", t0); err != nil {
						t.Error(err)
					}
					cancel()
				}}
				p := NewPublisher(srv.Client(t), src, PublisherOptions{Timeout: 100 * time.Millisecond, Logger: zerolog.New(log)})
				p.run(ctx)
				if tt.redisDown {
					srv.Resume()
					if !strings.Contains(log.String(), "stopping with changes Redis does not hold") {
						t.Fatalf("Stop with Redis down logged %q; want the unpublished version named", log)
					}
					continue
				}
				snap, err := hashField(srv, "snapshot")
				if err != nil {
					t.Fatal(err)
				}
				s, err := decodeSnapshot([]byte(snap))
				if err != nil {
					t.Fatal(err)
				}
				if len(s.Bindings) != 1 || !s.Bindings[0].Revoked {
					t.Fatalf("after Stop Redis holds %s: the deletion made before Stop is lost", snap)
				}
				if _, err := srv.Do("DEL", newKeys("").hash); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
