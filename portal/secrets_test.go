package portal

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/internal/testutil"
)

func TestCheckSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile, emptyFile := filepath.Join(dir, "token"), filepath.Join(dir, "empty")
	testutil.WriteFile(t, tokenFile, "file-token\n", 0o600)
	testutil.WriteFile(t, emptyFile, "", 0o600)
	iat := testutil.Env(t, "PORTAL_TEST_IAT", "env-token")
	tests := []struct {
		name    string
		secrets map[string]*table.Secret // catalogue entry → its token; nil: none configured
		want    []string
	}{
		{"all readable", map[string]*table.Secret{"a": {Env: iat}, "b": {File: tokenFile}, "c": nil}, nil},
		{"unset variable shared by two entries", map[string]*table.Secret{"a": {Env: "PORTAL_TEST_UNSET"}, "b": {Env: "PORTAL_TEST_UNSET"}, "c": {Env: iat}},
			[]string{`portal: catalogue entries "a", "b" cannot register clients: dcr: the registration settings are not usable: initial_access_token: secret: environment variable PORTAL_TEST_UNSET is not set`}},
		{"missing and empty files", map[string]*table.Secret{"a": {File: filepath.Join(dir, "missing")}, "b": {File: emptyFile}},
			[]string{
				`portal: catalogue entry "b" cannot register clients: dcr: the registration settings are not usable: initial_access_token file:` + emptyFile + ` is empty`,
				`portal: catalogue entry "a" cannot register clients: dcr: the registration settings are not usable: initial_access_token: secret: open ` + filepath.Join(dir, "missing") + `: no such file or directory`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := &table.Table{Portal: table.Portal{Catalogue: map[string]*table.CatalogueEntry{
				"nodcr": {ID: "nodcr"},
			}}}
			for id, sec := range tt.secrets {
				tab.Portal.Catalogue[id] = &table.CatalogueEntry{ID: id, DCR: &table.DCR{Provider: "other", InitialAccessToken: sec}}
			}
			var got []string
			for _, err := range CheckSecrets(tab, "") {
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("CheckSecrets =\n%q\nwant\n%q", got, tt.want)
			}
			if all := strings.Join(got, " "); strings.Contains(all, "file-token") || strings.Contains(all, "env-token") {
				t.Error("a secret value is in the errors")
			}
		})
	}
	if errs := CheckSecrets(nil, ""); errs != nil {
		t.Errorf("CheckSecrets(nil) = %v", errs)
	}
}
