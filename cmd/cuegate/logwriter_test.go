package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cuegate/cuegate/internal/testutil"
)

// recordWriter keeps each Write it gets separately.
type recordWriter struct {
	mu     sync.Mutex
	writes []string
}

func (r *recordWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func (r *recordWriter) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.writes...)
}

func TestBatchWriterWholeLines(t *testing.T) {
	var rec recordWriter
	b := newBatchWriter(&rec, 256, time.Hour) // no periodic flush in this test
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				fmt.Fprintf(b, `{"g":%d,"i":%d,"pad":"%s"}`+"\n", g, i, strings.Repeat("x", i%50))
			}
		}()
	}
	wg.Wait()
	big := `{"big":"` + strings.Repeat("y", 1000) + `"}` + "\n"
	b.Write([]byte(big)) //nolint:errcheck
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.Write([]byte("{\"after\":1}\n")) //nolint:errcheck
	writes := rec.all()
	if len(writes) >= 800 {
		t.Errorf("%d writes for 802 lines: not batched", len(writes))
	}
	n := 0
	for _, w := range writes {
		if !strings.HasSuffix(w, "\n") {
			t.Fatalf("a write ends inside a line: %q", w)
		}
		for _, l := range strings.Split(strings.TrimSuffix(w, "\n"), "\n") {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			n++
		}
	}
	if n != 802 {
		t.Errorf("%d lines written, want 802 (none lost at Close, none after it)", n)
	}
}

func TestBatchWriterFlushesPeriodically(t *testing.T) {
	var out testutil.SyncBuffer
	b := newBatchWriter(&out, 64<<10, time.Millisecond)
	defer b.Close()
	b.Write([]byte("{\"a\":1}\n")) //nolint:errcheck
	deadline := time.Now().Add(10 * time.Second)
	for out.String() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the line was never flushed")
		}
		time.Sleep(time.Millisecond)
	}
}
