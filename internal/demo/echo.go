package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// listenEcho serves the echo upstream on addr until the caller closes the
// returned server: it answers every request with its method, path, query
// and headers as JSON (the Authorization header's value is never echoed).
func listenEcho(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("echo upstream: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := map[string]string{}
		for k, v := range r.Header {
			if k == "Authorization" {
				v = []string{"(present)"}
			}
			hdr[k] = strings.Join(v, ", ")
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"echo": true, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery, "headers": hdr})
	})}
	go srv.Serve(ln)
	return srv, nil
}
