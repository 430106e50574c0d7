package limit

import "time"

// snapshot is a key's state as one call to Redis left it, taken onto
// this node's clock: what a lease counts from and a refusal answers
// from, without a call. It is a value, never changed once made.
type snapshot struct {
	// at is this node's clock at the call, server Redis's clock then
	// (Unix ns).
	at     time.Time
	server int64
	// state is the key's state after the call (the rate's of its rate
	// key, the quota's of its quota key), without a lease's units; per is
	// the rate's window (ns).
	state entry
	per   int64
}

// decide returns the decisions Memory makes at now on lim for a key in
// s's state with k more requests counted: the rate allows the request
// when rateOK and the quota when quotaOK. Nothing counted since the call
// but those k is seen.
func (s *snapshot) decide(lim *limits, k int64, rateOK, quotaOK bool, now time.Time) (rate, quota Decision) {
	t := s.server + int64(now.Sub(s.at))
	e := s.state
	if lim.hasRate {
		e.rCur += k
		rate = e.rateDecision(lim.rate.Requests, s.per, e.advanceRate(s.per, t), rateOK, t)
	}
	if lim.hasQuota {
		e.qCount += k
		quota = e.quotaDecision(lim.quota.Max, quotaOK, t)
	}
	return rate, quota
}

// quotaEnded reports whether, at now, the quota window s saw has ended.
func (s *snapshot) quotaEnded(now time.Time) bool {
	return s.server+int64(now.Sub(s.at)) >= s.state.qEnd
}
