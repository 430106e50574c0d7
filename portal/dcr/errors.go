package dcr

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrUnmanaged is the error of managing a client the provider gave no way
// to manage (no registration_client_uri and access token).
var ErrUnmanaged = errors.New("dcr: the provider gave no way to manage this client")

// ErrWidened is the error of an update the provider made with more grants
// or scopes than the settings ask for (it also matches ErrBadResponse).
var ErrWidened = errors.New("dcr: the provider widened the client")

// ErrUnknownClient is the error of managing a client the provider no
// longer knows: it answered 404 or 410.
var ErrUnknownClient = errors.New("dcr: the provider does not know this client")

// ErrTokenRefused is the error of managing a client whose registration
// access token the provider refused (401). RFC 7592 §2 has a provider
// answer so for a client it does not know (Hydra does), so the client
// may be gone, or may still exist with a token that no longer works.
var ErrTokenRefused = errors.New("dcr: the provider refused the stored registration access token; the client may still exist there")

// ProviderError is the provider's refusal of a request, with its own error
// and error_description: clipped, every secret the call sent or holds
// replaced with "[redacted]", and replaced by a fixed code and sentence
// when not printable text, so that they may be shown and logged. Some
// providers put a sentence in Code: callers branch on Status, not on Code.
type ProviderError struct {
	Status      int    `json:"-"`
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

var _ error = (*ProviderError)(nil)

func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("dcr: provider answered %d", e.Status)
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += ": " + e.Description
	}
	return msg
}

// ErrBadResponse wraps a provider answer that is not a usable registration.
var ErrBadResponse = errors.New("dcr: unusable provider response")

// ErrLeftAtProvider is the error of a registration whose answer was
// refused (the error also matches ErrBadResponse) and whose client the
// provider did not delete again, or gave no way to delete: the client may
// stay there, for the operator to remove. The error names the client and
// says why the deletion failed, in words only: it never matches the
// deletion's ProviderError, ErrTimeout or ErrTokenRefused.
var ErrLeftAtProvider = errors.New("dcr: the client may stay at the provider, which did not delete it again")

// ErrTimeout is returned when the provider does not answer in time.
var ErrTimeout = errors.New("dcr: provider did not answer in time")

// ErrSettings wraps registration settings that cannot be used as they are:
// none at all, an unknown provider, or an initial access token that cannot
// be read. The operator must fix them; no request can succeed until then.
var ErrSettings = errors.New("dcr: the registration settings are not usable")

// notSent marks the error of a call that failed before anything was sent
// to the provider.
type notSent struct{ error }

var _ error = notSent{}

func (e notSent) Unwrap() error { return e.error }

// NotSent reports whether err is that of a call that failed before
// anything was sent to the provider (the settings cannot be used), so
// that the provider knows nothing of it.
func NotSent(err error) bool { return errors.As(err, new(notSent)) }

// manageError is the error of a provider's answer to a request about
// client reg sent with Authorization auth, or nil for a 2xx:
// ErrUnknownClient for 404 and 410, ErrTokenRefused for 401 to an RFC
// 7592 request (auth is the registration access token's), else a
// *ProviderError that repeats no secret of the call (secretsOf).
func manageError(status int, raw []byte, auth string, reg *Registration) error {
	switch {
	case status >= 200 && status <= 299:
		return nil
	case status == http.StatusNotFound || status == http.StatusGone:
		return ErrUnknownClient
	case status == http.StatusUnauthorized && strings.HasPrefix(auth, bearer):
		return ErrTokenRefused
	}
	return providerError(status, raw, secretsOf(auth, reg))
}

// maxErrorText bounds the provider's words a ProviderError keeps.
const maxErrorText = 300

// providerError keeps the provider's error and error_description, or for
// an answer without them the start of its body (bodyText), with sec
// redacted, as showable makes them: clipped, printable.
func providerError(status int, raw []byte, sec secrets) *ProviderError {
	redact := sec.redactor()
	var e ProviderError
	if json.Unmarshal(raw, &e) == nil && (e.Code != "" || e.Description != "") {
		e.Code, e.Description = redact(e.Code), redact(e.Description)
	} else {
		e = ProviderError{Code: fallbackCode(status), Description: cmp.Or(bodyText(raw, redact), http.StatusText(status))}
	}
	e.Status = status
	e.showable()
	return &e
}

func fallbackCode(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "invalid_token"
	case status == http.StatusForbidden:
		return "access_denied"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request"
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
