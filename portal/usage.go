package portal

import (
	"context"
	"time"

	"github.com/cuegate/cuegate/compiler/table"
	"github.com/cuegate/cuegate/portal/store"
	"github.com/cuegate/cuegate/runtime/limit"
)

// usageView is a client's live usage of its policy's limits, read from
// the limiter the gateway counts with; a limit the policy does not set
// is left out.
type usageView struct {
	Rate  *rateUsage  `json:"rate,omitempty"`
	Quota *quotaUsage `json:"quota,omitempty"`
}

type rateUsage struct {
	Used  int64 `json:"used"`
	Limit int64 `json:"limit"`
	// ResetsIn is the seconds, rounded up, until the count is back to 0.
	ResetsIn int64 `json:"resets_in"`
	// Percent is Used of Limit, for the page's bar.
	Percent int `json:"-"`
}

type quotaUsage struct {
	Used int64 `json:"used"`
	Max  int64 `json:"max"`
	// ResetsAt is when the quota's window ends; nil when no window runs
	// (the next request starts one).
	ResetsAt *time.Time `json:"resets_at"`
	Percent  int        `json:"-"`
}

// usage reads c's usage as the gateway counts it: under the client ID
// as identity, for the issuer of its APIs' tokens and the claim the first
// of them takes identities from, under its policy. It
// is nil when there is no limiter, the client's APIs do not check tokens,
// its policy is gone or sets no limit, or the limiter cannot be read
// (logged).
func (s *Server) usage(ctx context.Context, t *table.Table, c store.Client) *usageView {
	p := t.Policies[c.Policy]
	if s.opts.Usage == nil || p == nil || p.Rate == nil && p.Quota == nil {
		return nil
	}
	k := limit.Key{Identity: c.ClientID, Policy: p.ID}
	for _, id := range c.Catalogue {
		if e := t.Portal.Catalogue[id]; e != nil {
			if k.Issuer, k.Claim = t.IdentityNamespace(t.APIs[e.API]); k.Issuer != "" {
				break
			}
		}
	}
	if k.Issuer == "" {
		return nil
	}
	now := s.opts.Now()
	rate, quota, err := s.opts.Usage.Peek(ctx, limit.Request{RateKey: k, Rate: p.Rate, QuotaKey: k, Quota: p.Quota}, now)
	if err != nil {
		s.opts.Logger.Warn().Err(err).Str("client_id", c.ClientID).Msg("portal: usage could not be read")
		return nil
	}
	u := &usageView{}
	if p.Rate != nil {
		u.Rate = &rateUsage{Used: rate.Used, Limit: rate.Limit, ResetsIn: int64((rate.Reset + time.Second - 1) / time.Second),
			Percent: percent(rate.Used, rate.Limit)}
	}
	if p.Quota != nil {
		u.Quota = &quotaUsage{Used: quota.Used, Max: quota.Limit, Percent: percent(quota.Used, quota.Limit)}
		if quota.Reset > 0 {
			at := now.Add(quota.Reset).UTC().Truncate(time.Second)
			u.Quota.ResetsAt = &at
		}
	}
	return u
}

// percent is used of limit in whole percent, within [0, 100].
func percent(used, limit int64) int {
	if limit <= 0 {
		return 100
	}
	return int(min(max(used*100/limit, 0), 100))
}
