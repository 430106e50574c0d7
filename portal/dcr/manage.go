package dcr

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// manage returns where and how to manage reg at the provider: its
// registration_client_uri with its registration access token (RFC 7592),
// once clientURIProblem accepts that URI; else <registration
// endpoint>/<client_id> with the initial access token for a provider
// that manages clients by ID (table.Provider.DeleteByID), the only
// address that token is ever sent to; uri is "" when the provider gave
// no way.
func (d *driver) manage(reg *Registration) (uri, auth string, err error) {
	switch {
	case reg.RegistrationClientURI != "" && reg.RegistrationAccessToken != "":
		if p := d.clientURIProblem(reg.RegistrationClientURI); p != "" {
			return "", "", fmt.Errorf("%w: %s", ErrBadResponse, p)
		}
		return reg.RegistrationClientURI, bearer + reg.RegistrationAccessToken, nil
	case d.p.DeleteByID && d.s.RegistrationEndpoint != "":
		auth, err = d.authorization()
		return strings.TrimSuffix(d.s.RegistrationEndpoint, "/") + "/" + url.PathEscape(reg.ClientID), auth, err
	}
	return "", "", nil
}

func (d *driver) Delete(ctx context.Context, reg *Registration) error {
	_, _, err := d.call(ctx, http.MethodDelete, reg, nil)
	return err
}

// call sends method with body to where manage says reg is managed and
// returns the provider's 2xx answer; ErrUnmanaged when the provider gave
// no way, else the answer's manageError.
func (d *driver) call(ctx context.Context, method string, reg *Registration, body []byte) (int, []byte, error) {
	uri, auth, err := d.manage(reg)
	if err != nil {
		return 0, nil, err
	}
	if uri == "" {
		return 0, nil, ErrUnmanaged
	}
	status, raw, err := d.do(ctx, method, uri, auth, body)
	if err != nil {
		return 0, nil, err
	}
	if err := manageError(status, raw, auth, reg); err != nil {
		return 0, nil, err
	}
	return status, raw, nil
}

func (d *driver) Update(ctx context.Context, reg *Registration, req Request) (*Registration, error) {
	m := d.body(req)
	m["client_id"] = reg.ClientID
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("dcr: encode request: %w", err)
	}
	status, raw, err := d.call(ctx, http.MethodPut, reg, body)
	if err != nil {
		return nil, err
	}
	out, err := d.current(status, raw, reg)
	if err != nil {
		return nil, err
	}
	if err := d.grantedBeyond(raw); err != nil {
		return out, fmt.Errorf("%w: %w", ErrWidened, err)
	}
	return out, nil
}

func (d *driver) Read(ctx context.Context, reg *Registration) (*Registration, error) {
	status, raw, err := d.call(ctx, http.MethodGet, reg, nil)
	if err != nil {
		return nil, err
	}
	return d.current(status, raw, reg)
}

// current is reg as the provider's 2xx answer raw to an RFC 7592 read or
// update has it: the client secret, registration access token,
// registration_client_uri and token endpoint auth method the answer
// carries replace reg's, the ones it leaves out are kept. An answer about
// another client, or a registration usable refuses, is an error matching
// ErrBadResponse.
func (d *driver) current(status int, raw []byte, reg *Registration) (*Registration, error) {
	out, err := readAnswer(status, raw, reg.TokenEndpointAuthMethod, nil) // a 2xx: no ProviderError
	if err != nil {
		return nil, err
	}
	if out.ClientID != reg.ClientID {
		return nil, fmt.Errorf("%w: the answer is about another client_id", ErrBadResponse)
	}
	out.ClientSecret = cmp.Or(out.ClientSecret, reg.ClientSecret)
	out.RegistrationClientURI = cmp.Or(out.RegistrationClientURI, reg.RegistrationClientURI)
	out.RegistrationAccessToken = cmp.Or(out.RegistrationAccessToken, reg.RegistrationAccessToken)
	if err := d.usable(out); err != nil {
		return nil, err
	}
	return out, nil
}

// bearer begins the Authorization of an RFC 7592 request.
const bearer = "Bearer "
