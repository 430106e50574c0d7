package proxy

import (
	"strings"
	"testing"
	"time"
)

// TestSmallBodyReadWhole: a response body up to maxSmallBody is read
// whole before the client's response begins, so an upstream that breaks
// off inside it gets the client a 502 (or a 504 when it stalls past the
// timeout), not a 200 with a short body; a larger body is streamed as it
// comes.
func TestSmallBodyReadWhole(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", maxSmallBody+1)
	tests := []struct {
		name   string
		resp   string
		stall  bool // the upstream keeps the connection open after resp
		status int
		body   string
	}{
		{"whole", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, 200, "hello"},
		{"empty", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, 200, ""},
		{"at the bound", "HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + big[:maxSmallBody], false, 200, big[:maxSmallBody]},
		{"above the bound", "HTTP/1.1 200 OK\r\nContent-Length: 4097\r\n\r\n" + big, false, 200, big},
		{"cut short", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", false, 502, ""},
		{"stalled", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", true, 504, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := rawUpstream(t, tt.resp, tt.stall)
			p, err := New(Options{Targets: []string{up}, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			resp, body := get(t, serve(t, p)+"/", nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (body %.80q)", resp.StatusCode, tt.status, body)
			}
			if tt.status == 200 && body != tt.body {
				t.Fatalf("body of %d bytes, want %d", len(body), len(tt.body))
			}
		})
	}
}
