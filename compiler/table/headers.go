package table

import "bytes"

// ClientSpoofable reports whether a request header (by its canonical
// name) is one by which a client could speak for a proxy or a CDN and
// name another client address, host or scheme (Forwarded, X-Forwarded
// and X-Forwarded-*, X-Real-Ip, Client-Ip, True-Client-Ip and the
// others of spoofable), or rewrite the request past the gateway's
// decision (a method override, X-Original-Url, X-Original-Uri,
// X-Rewrite-Url), or, through a CGI upstream, set its outbound proxy
// (Proxy): the gateway strips it from every client, and no rule may set
// it upstream. It does not allocate.
func ClientSpoofable(canon []byte) bool {
	_, ok := spoofable[string(canon)]
	return ok || bytes.HasPrefix(canon, []byte("X-Forwarded-"))
}

// HopByHop reports whether a header (by its canonical name) is a
// hop-by-hop one of RFC 9110 §7.6.1 (Connection aside, which names more):
// meant for one connection, it is never passed on, and no rule may edit
// it. It does not allocate.
func HopByHop(canon []byte) bool {
	switch string(canon) {
	case "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "Te",
		"Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// spoofable are the headers of ClientSpoofable besides X-Forwarded-*,
// canonical: ones that frameworks (Rails' remote_ip, Symfony, IIS
// rewrite), CDNs (Akamai, Cloudflare, Fastly) and load balancers set and
// trust as the client's address, host, scheme or URL.
var spoofable = map[string]struct{}{
	"Forwarded": {}, "X-Forwarded": {},
	"X-Real-Ip": {}, "Client-Ip": {}, "True-Client-Ip": {}, "X-Client-Ip": {},
	"X-Cluster-Client-Ip": {}, "X-Originating-Ip": {}, "X-Remote-Ip": {},
	"X-Remote-Addr": {}, "X-Proxyuser-Ip": {}, "Cf-Connecting-Ip": {},
	"Cf-Connecting-Ipv6": {}, "Fastly-Client-Ip": {},
	"X-Host": {}, "X-Original-Host": {},
	"Front-End-Https": {}, "X-Url-Scheme": {},
	"X-Http-Method-Override": {}, "X-Http-Method": {}, "X-Method-Override": {},
	"X-Original-Url": {}, "X-Original-Uri": {}, "X-Rewrite-Url": {},
	// A CGI or PHP upstream reads Proxy as HTTP_PROXY, the outbound proxy
	// its HTTP clients use (httpoxy, CVE-2016-5385).
	"Proxy": {},
}

// HeaderRules edits the headers of a message: the Remove names are
// removed, then the Set ones are set. Names are canonical
// (net/textproto's form), checked and unique across both lists.
type HeaderRules struct {
	// Set is sorted by Name.
	Set    []Header `json:"set,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Header is one header field to set.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// SecretHeader sends the value of Secret as the header Name, canonical.
type SecretHeader struct {
	Name   string  `json:"name"`
	Secret *Secret `json:"secret"`
}

// ClaimHeader sends the value of Claim (a dotted path for a nested
// claim) as the header Name, canonical.
type ClaimHeader struct {
	Name  string `json:"name"`
	Claim string `json:"claim"`
}

// CORS is how an API answers browsers' cross-origin requests.
type CORS struct {
	// Origins are canonical origins (lower-case scheme and host, no
	// default port), sorted; AnyOrigin stands for "*" (never with
	// Credentials).
	Origins   []string `json:"origins,omitempty"`
	AnyOrigin bool     `json:"any_origin"`
	// Methods, Headers and ExposeHeaders are the preflight's and the
	// answers' lists, sorted, without repeats.
	Methods       []string `json:"methods"`
	Headers       []string `json:"headers"`
	ExposeHeaders []string `json:"expose_headers,omitempty"`
	Credentials   bool     `json:"credentials"`
	MaxAge        Duration `json:"max_age"`
}
