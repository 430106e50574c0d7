package portal

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestAddressKey(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ addr, want string }{
		{"203.0.113.9", "203.0.113.9"},
		{"::ffff:203.0.113.9", "203.0.113.9"},
		{"2001:db8::1", "2001:db8::/64"},
		{"2001:db8::ffff:ffff:ffff:ffff", "2001:db8::/64"},
		{"2001:db8:0:1::1", "2001:db8:0:1::/64"},
		{"2001:DB8:0:0:8:800:200c:417a", "2001:db8::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
		{"@", "@"},
	} {
		if got := addressKey(tt.addr); got != tt.want {
			t.Errorf("addressKey(%q) = %q, want %q", tt.addr, got, tt.want)
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
		{"garbage ends the walk", "10.1.1.1:5000", []string{"198.51.100.1, not-an-ip"}, trusted, "10.1.1.1"},
		{"no header from a trusted peer", "10.1.1.1:5000", nil, trusted, "10.1.1.1"},
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
		if got := clientAddress(r, tt.trusted); got != tt.want {
			t.Errorf("%s: clientAddress = %q, want %q", tt.name, got, tt.want)
		}
	}
}
