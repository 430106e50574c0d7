package dcr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// maxBody bounds what is read of a provider's answer.
const maxBody = 1 << 20

func (d *driver) do(ctx context.Context, method, url, auth string, body []byte) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, d.s.CallTimeout())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("dcr: %s %s: %w", method, url, err)
	}
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		hr.Header.Set("Authorization", auth)
	}
	fail := func(step string, err error) (int, []byte, error) {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, nil, fmt.Errorf("%w: %s %s after %v", ErrTimeout, method, url, d.s.CallTimeout())
		}
		return 0, nil, fmt.Errorf("dcr: %s %s: %s%w", method, url, step, err)
	}
	resp, err := d.hc.Do(hr)
	if err != nil {
		return fail("", causeOf(err))
	}
	defer resp.Body.Close()
	if err := redirected(method, url, resp.StatusCode); err != nil {
		return 0, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fail("read answer: ", err)
	}
	return resp.StatusCode, raw, nil
}

// causeOf is the cause an http.Client's *url.Error wraps: that error
// repeats the method and the URL, which the caller's message names already.
func causeOf(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// redirected is the error of a 3xx answer to method url, or nil.
func redirected(method, url string, status int) error {
	if status < 300 || status > 399 {
		return nil
	}
	return fmt.Errorf("%w: %s %s answered %d, a redirect, which is not followed", ErrBadResponse, method, url, status)
}
