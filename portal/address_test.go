package portal

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/cuegate/cuegate/internal/testutil"
)

// TestAddressKey: what the limits count a client address by, itself and
// its network (an IPv6 /48; none for IPv4).
func TestAddressKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ addr, want, network string }{
		{"203.0.113.9", "203.0.113.9", ""},
		{"::ffff:203.0.113.9", "203.0.113.9", ""},
		{"2001:db8::1", "2001:db8::/64", "2001:db8::/48"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64", "2001:db8::/48"},
		{"2001:db8:0:1::1", "2001:db8:0:1::/64", "2001:db8::/48"},
		{"2001:db8:7:ffff::1", "2001:db8:7:ffff::/64", "2001:db8:7::/48"},
		{"2001:DB8:0:0:8:800:200c:417a", "2001:db8::/64", "2001:db8::/48"},
		{"fe80::1%eth0", "fe80::/64", "fe80::/48"},
		{"::1", "::/64", "::/48"},
		{"@", "@", ""},
	} {
		if got := addressKey(tt.addr); got != tt.want {
			t.Errorf("addressKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
		if got := networkKey(tt.addr); got != tt.network {
			t.Errorf("networkKey(%q) = %q, want %q", tt.addr, got, tt.network)
		}
	}
}

func TestClientAddress(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name, peer string
		xff        []string
		trusted    []netip.Prefix
		want       string
	}{
		{"no proxies trusted: the peer", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: X-Forwarded-For ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, trusted, "203.0.113.9"},
		{"trusted peer: the address it saw", "10.1.1.1:5000", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"a chain of trusted proxies", "10.1.1.1:5000", []string{"198.51.100.1, 10.2.2.2", "10.3.3.3"}, trusted, "198.51.100.1"},
		{"what the client wrote before is not believed", "10.1.1.1:5000", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"no header from a trusted peer", "10.1.1.1:5000", nil, trusted, "10.1.1.1"},
		{"IPv4 with a port", "10.1.1.1:5000", []string{"203.0.113.5:40000"}, trusted, "203.0.113.5"},
		{"IPv6 with a port", "10.1.1.1:5000", []string{"[2001:db8::5]:40000"}, trusted, "2001:db8::5"},
		{"IPv6 in brackets", "10.1.1.1:5000", []string{"[2001:db8::5]"}, trusted, "2001:db8::5"},
		{"quoted IPv6 with a port", "10.1.1.1:5000", []string{`"[2001:db8::5]:4711"`}, trusted, "2001:db8::5"},
		{"a zone and a port", "10.1.1.1:5000", []string{"[fe80::1%eth0]:80"}, trusted, "fe80::1%eth0"},
		{"mapped with a port", "10.1.1.1:5000", []string{"[::ffff:198.51.100.7]:80"}, trusted, "198.51.100.7"},
		{"a trusted proxy with a port", "10.1.1.1:5000", []string{"198.51.100.1:1, 10.2.2.2:2"}, trusted, "198.51.100.1"},
		{"ports end no walk before the client", "10.1.1.1:5000", []string{"1.2.3.4:9, 198.51.100.1:1"}, trusted, "198.51.100.1"},
		{"garbage from the trusted peer: a key of its own", "10.1.1.1:5000", []string{"198.51.100.1, not-an-ip"}, trusted, `x-forwarded-for:"not-an-ip"`},
		{"garbage from a trusted hop", "10.1.1.1:5000", []string{"unknown, 10.2.2.2"}, trusted, `x-forwarded-for:"unknown"`},
		{"garbage beyond the client is the client's own", "10.1.1.1:5000", []string{"not-an-ip, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"an empty entry", "10.1.1.1:5000", []string{"198.51.100.1,"}, trusted, `x-forwarded-for:""`},
		{"an empty header", "10.1.1.1:5000", []string{""}, trusted, `x-forwarded-for:""`},
		{"a port alone", "10.1.1.1:5000", []string{":40000"}, trusted, `x-forwarded-for:":40000"`},
		{"garbage is quoted and bounded", "10.1.1.1:5000", []string{"\u202e" + strings.Repeat("x", 100)}, trusted, `x-forwarded-for:"\u202e` + strings.Repeat("x", 61) + `"`},
		{"all trusted: the farthest", "10.1.1.1:5000", []string{"10.9.9.9"}, trusted, "10.9.9.9"},
		{"IPv6 and mapped addresses", "[fd00::1]:5000", []string{"::ffff:198.51.100.7"}, trusted, "198.51.100.7"},
		{"a mapped peer", "[::ffff:203.0.113.9]:5000", nil, nil, "203.0.113.9"},
		{"a mapped trusted peer", "[::ffff:10.1.1.1]:5000", []string{"2001:db8::7"}, trusted, "2001:db8::7"},
		{"an IPv6 peer", "[2001:db8::5]:5000", nil, trusted, "2001:db8::5"},
		{"not an IP address", "@", nil, trusted, "@"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		got, unparsed := clientAddress(r, tt.trusted)
		if wantUnparsed := strings.HasPrefix(tt.want, "x-forwarded-for:"); got != tt.want || unparsed != wantUnparsed {
			t.Errorf("%s: clientAddress = %q, %v; want %q, %v", tt.name, got, unparsed, tt.want, wantUnparsed)
		}
	}
}

// A trusted proxy that writes "address:port" (Azure Application Gateway,
// IIS ARR) or something that is no address at all must not make every
// client one: another client's failures then lock out nobody else.
func TestProxyEntriesKeepClientsApart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name            string
		owner, attacker string // X-Forwarded-For of the owner and of the attacker's i-th failure
		unparsed        bool
	}{
		{"IPv4 and a port", "198.51.100.7:51000", "203.0.113.%d:40000", false},
		{"IPv6 and a port", "[2001:db8:1::7]:51000", "[2001:db8:2::%d]:40000", false},
		{"no addresses", "client-7", "unknown-%d", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logs testutil.SyncBuffer
			e := newEnvLog(t, zerolog.New(&logs))
			e.trustProxies()
			const proxy = "10.1.1.1:4000"
			if st := e.callFrom(proxy, tt.owner, "/signup", credentials{"owner@example.com", "correct horse"}); st != http.StatusCreated {
				t.Fatalf("owner's sign-up: %d", st)
			}
			for i := range loginFailuresPerAddress {
				if st := e.callFrom(proxy, fmt.Sprintf(tt.attacker, i+1), "/login", credentials{fmt.Sprintf("victim%d@example.com", i), "wrong password"}); st != http.StatusUnauthorized {
					t.Fatalf("failure %d: %d, want 401", i, st)
				}
			}
			if st := e.callFrom(proxy, tt.owner, "/login", credentials{"owner@example.com", "correct horse"}); st != http.StatusOK {
				t.Errorf("the owner after %d failures of another client: %d, want 200", loginFailuresPerAddress, st)
			}
			var metrics bytes.Buffer
			e.s.WritePrometheus(&metrics)
			want := "cuegate_portal_forwarded_for_unparsed_total 0"
			if tt.unparsed {
				want = "cuegate_portal_forwarded_for_unparsed_total " + strconv.Itoa(loginFailuresPerAddress+2)
			}
			if !strings.Contains(metrics.String(), want+"\n") {
				t.Errorf("metrics lack %q:\n%s", want, metrics.String())
			}
			if logged := strings.Contains(logs.String(), "no IP address"); logged != tt.unparsed {
				t.Errorf("unparsed entry logged: %v, want %v:\n%s", logged, tt.unparsed, logs.String())
			}
		})
	}
}
