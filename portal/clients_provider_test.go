package portal

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testidp"
	"github.com/cuegate/cuegate/internal/testutil"
)

func TestProviderErrorsAreShownVerbatimAndLeaveNoState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		wantStatus int
		wantCode   string
		wantDesc   string
	}{
		{"400 invalid_client_metadata", 400, `{"error":"invalid_client_metadata","error_description":"response_types token is not allowed"}`,
			400, "invalid_client_metadata", "response_types token is not allowed"},
		{"401", 401, `{"error":"invalid_token","error_description":"The initial access token is expired"}`,
			502, "invalid_token", "The initial access token is expired"},
		{"500", 500, `{"error":"server_error","error_description":"database down"}`, 502, "server_error", "database down"},
		{"invalid JSON", 201, `{"client_id":`, 502, "server_error", "the identity provider's answer could not be used"},
		{"timeout", 0, "", 504, "temporarily_unavailable", "the identity provider did not answer in time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			tab := e.freshTable()
			tab.Portal.Catalogue["gluu_api"].DCR.Timeout = table.Duration(100 * time.Millisecond)
			e.table.Store(tab)
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if tt.status == 0 {
					<-r.Context().Done()
					return true
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
				return true
			})
			dev := e.developer("a@example.com")
			var aerr apiError
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
			if resp.StatusCode != tt.wantStatus || aerr.Code != tt.wantCode || aerr.Description != tt.wantDesc {
				t.Errorf("got %d %+v, want %d %q %q", resp.StatusCode, aerr, tt.wantStatus, tt.wantCode, tt.wantDesc)
			}
			if cs := e.store.Clients(""); len(cs) != 0 {
				t.Errorf("state after a failed registration: %+v", cs)
			}
		})
	}
}

// TestProviderRefusalShownWithoutSecrets: a refusal that repeats the
// request's Authorization shows the initial access token as [redacted]
// in the JSON answer, on the page and in the log, and one that holds a
// bidi override is shown as its status alone.
func TestProviderRefusalShownWithoutSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		wantDesc string
	}{
		{"Authorization repeated", `<html>401 Unauthorized: bad credentials "%s"</html>`,
			`<html>401 Unauthorized: bad credentials "[redacted]"</html>`},
		{"bidi override", "<html>401 Unauthorized %s \u202egnp.exe\u202c</html>",
			"Unauthorized (the identity provider's own words are not shown: they are not printable text)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var log testutil.SyncBuffer
			e := newEnvLog(t, zerolog.New(&log))
			e.idp.SetAnswer(func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost {
					return false
				}
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, tt.body, r.Header.Get("Authorization"))
				return true
			})
			dev := e.developer("a@example.com")
			var aerr apiError
			resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
			if resp.StatusCode != http.StatusBadGateway || aerr.Code != "invalid_token" || aerr.Description != tt.wantDesc {
				t.Errorf("got %d %+v, want 502 invalid_token %q", resp.StatusCode, aerr, tt.wantDesc)
			}
			_, _, tok := e.page(dev, "/clients/new?entry=gluu_api")
			_, page := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
			for where, text := range map[string]string{"page": page, "log": log.String()} {
				if strings.Contains(text, testidp.InitialAccessToken) || strings.ContainsRune(text, '\u202e') || strings.Contains(text, `\u202e`) {
					t.Errorf("the %s shows the provider's secret or bidi override:\n%s", where, text)
				}
			}
		})
	}
}

func TestUnreadableInitialAccessTokenIsTheOperators(t *testing.T) {
	t.Parallel()
	var logs testutil.SyncBuffer
	e := newEnvLog(t, zerolog.New(&logs))
	os.Setenv(e.iat, "")
	dev := e.developer("a@example.com")
	const want = "the portal's registration settings are not usable: ask the operator"
	var aerr apiError
	resp := e.api(dev, "POST", "/clients", map[string]any{"catalogue": []string{"gluu_api"}, "client_name": "x"}, &aerr)
	if resp.StatusCode != http.StatusInternalServerError || aerr.Code != "server_error" || aerr.Description != want {
		t.Errorf("API: %d %+v, want 500 %q", resp.StatusCode, aerr, want)
	}
	_, _, tok := e.page(dev, "/clients/new")
	hresp, body := e.post(dev, "/clients", url.Values{"csrf_token": {tok}, "catalogue": {"gluu_api"}, "client_name": {"x"}})
	if hresp.StatusCode != http.StatusInternalServerError || !strings.Contains(body, "The portal&#39;s registration settings are not usable: ask the operator.") {
		t.Errorf("HTML: %d\n%s", hresp.StatusCode, body)
	}
	if n := len(e.requests()); n != 0 {
		t.Errorf("%d provider calls", n)
	}
	if !strings.Contains(logs.String(), "environment variable "+e.iat+" is not set") {
		t.Errorf("the log does not name the variable:\n%s", logs.String())
	}
}
