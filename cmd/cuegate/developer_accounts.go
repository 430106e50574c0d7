package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cuegate/cuegate/internal/node"
	"github.com/cuegate/cuegate/internal/outbound"
	"github.com/cuegate/cuegate/portal"
	"github.com/cuegate/cuegate/portal/store"
)

// developerAccounts is what cuegate developer changes: the state file
// (portal.Accounts) or a running node's operator endpoints.
type developerAccounts interface {
	Add(email, password string) (portal.Account, error)
	List() ([]portal.Account, error)
	Remove(email string) (portal.Removal, error)
}

// stateUse is what a developer subcommand does with a --state file.
type stateUse int

const (
	// readsState: the file must exist, and is neither locked nor written,
	// not even to migrate it to the current schema (store.OpenReadOnly).
	readsState stateUse = iota
	// changesState: the file must exist.
	changesState
	// createsState: a file that does not exist yet is started.
	createsState
)

// openAccounts opens the accounts of the state file as use says, or, with
// admin set, of the node at that address (with the admin token from
// adminTokenFile, see readAdminToken). The caller calls done when
// finished with them.
func openAccounts(state, admin, adminTokenFile string, use stateUse) (_ developerAccounts, done func(), _ error) {
	if admin != "" {
		token, err := readAdminToken(adminTokenFile)
		if err != nil {
			return nil, nil, err
		}
		r, err := newRemoteAccounts(admin, token)
		return r, func() {}, err
	}
	// A mistyped path for list or remove must not leave an empty state
	// file (and its lock) behind.
	if _, err := os.Stat(state); use != createsState && errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("no state file at %s (developer add creates one)", state)
	}
	open := store.Open
	if use == readsState {
		open = store.OpenReadOnly
	}
	st, err := open(state)
	if err != nil {
		return nil, nil, err
	}
	return localAccounts{&portal.Accounts{Store: st}}, func() { st.Close() }, nil
}

// localAccounts changes the state file directly.
type localAccounts struct{ *portal.Accounts }

var (
	_ developerAccounts = localAccounts{}
	_ developerAccounts = remoteAccounts{}
	_ error             = (*operatorError)(nil)
)

func (l localAccounts) List() ([]portal.Account, error) { return l.Accounts.List(), nil }

// remoteAccounts calls the operator endpoints (portal.OperatorHandler) on
// a running node's admin listener.
type remoteAccounts struct {
	addr   string
	base   string // http://ADDR/portal
	token  string // the node's admin_token; "" sends none
	client *http.Client
}

// newRemoteAccounts returns the accounts of the node whose admin listener
// is at addr (host:port, or its http:// or https:// URL; not one with
// credentials). Its client follows no redirect: the password and the
// admin token are for that node alone.
func newRemoteAccounts(addr, token string) (remoteAccounts, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u, err := adminURL("--admin", base)
	if err != nil {
		return remoteAccounts{}, err
	}
	return remoteAccounts{addr: u.Host, base: strings.TrimSuffix(u.String(), "/") + node.OperatorPrefix, token: token,
		client: outbound.NoRedirects(&http.Client{Timeout: time.Minute})}, nil
}

// readAdminToken returns the admin token from file, else from
// $CUEGATE_ADMIN_TOKEN (envAdminToken), else "". The error names the
// file, never a value.
func readAdminToken(file string) (string, error) {
	if file == "" {
		return envAdminToken(), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--admin-token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("--admin-token-file %s is empty", file)
	}
	return token, nil
}

func (r remoteAccounts) Add(email, password string) (acc portal.Account, err error) {
	if err = r.call(http.MethodPost, "/developers", map[string]string{"email": email, "password": password}, &acc); err == nil && acc.Email == "" {
		err = fmt.Errorf("--admin %s: the answer names no account added", r.addr)
	}
	return acc, err
}

func (r remoteAccounts) List() (list []portal.Account, err error) {
	err = r.call(http.MethodGet, "/developers", nil, &list)
	return list, err
}

func (r remoteAccounts) Remove(email string) (rm portal.Removal, err error) {
	if err = r.call(http.MethodDelete, "/developers/"+url.PathEscape(email), nil, &rm); err == nil && rm.Email == "" {
		err = fmt.Errorf("--admin %s: the answer names no account removed", r.addr)
	}
	return rm, err
}

// call sends body as JSON and decodes the answer into out. The node's
// refusal comes back as an *operatorError.
func (r remoteAccounts) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, r.base+path, rd)
	if err != nil {
		return fmt.Errorf("--admin %s: %w", r.addr, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return fmt.Errorf("%w (is cuegate serve running with admin_listen %s?)", err, r.addr)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s %s: %s: the node's admin listener needs its gateway.admin_token (pass --admin-token-file FILE or set CUEGATE_ADMIN_TOKEN)", method, req.URL, resp.Status)
	}
	if resp.StatusCode/100 == 3 {
		return fmt.Errorf("%s %s: %s: redirects are not followed; give the admin listener's own address", method, req.URL, resp.Status)
	}
	if resp.StatusCode/100 != 2 {
		oe := &operatorError{status: resp.StatusCode}
		if json.Unmarshal(raw, oe) != nil || oe.Code == "" {
			return fmt.Errorf("%s %s: %s (is %s the admin_listen address of a cuegate serve with --state?)", method, req.URL, resp.Status, r.addr)
		}
		return oe
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: the answer is not understood: %w", method, req.URL, err)
	}
	return nil
}

// operatorError is a refusal by the node's operator endpoints. Its text is
// the node's description, the text cuegate developer --state prints for
// the same mistake, and it matches the same sentinel errors.
type operatorError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description"`
}

func (e *operatorError) Error() string { return e.Description }

func (e *operatorError) Is(target error) bool {
	status, code, ok := portal.OperatorAnswer(target)
	return ok && e.status == status && e.Code == code
}
