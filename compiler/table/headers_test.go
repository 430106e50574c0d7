package table_test

import (
	"net/textproto"
	"testing"

	"github.com/cuegate/cuegate/compiler/table"
)

func TestClientSpoofable(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"forwarded": true, "x-forwarded": true, "x-forwarded-for": true, "X-FORWARDED-HOST": true,
		"x-real-ip": true, "client-ip": true, "true-client-ip": true, "x-client-ip": true,
		"x-cluster-client-ip": true, "x-originating-ip": true, "x-remote-ip": true, "x-remote-addr": true,
		"x-proxyuser-ip": true, "cf-connecting-ip": true, "cf-connecting-ipv6": true, "fastly-client-ip": true,
		"x-host": true, "x-original-host": true, "front-end-https": true, "x-url-scheme": true,
		"x-http-method-override": true, "x-http-method": true, "x-method-override": true, "proxy": true,
		"x-original-url": true, "x-original-uri": true, "x-rewrite-url": true,
		"host": false, "x-request-id": false, "x-forwardedfor": false, "accept": false, "x-client": false,
	} {
		canon := textproto.CanonicalMIMEHeaderKey(name)
		if got := table.ClientSpoofable([]byte(canon)); got != want {
			t.Errorf("ClientSpoofable(%q) = %v, want %v", canon, got, want)
		}
	}
}

func TestClientSpoofableAllocs(t *testing.T) {
	canon := []byte("True-Client-Ip")
	if n := testing.AllocsPerRun(100, func() { table.ClientSpoofable(canon) }); n != 0 {
		t.Errorf("ClientSpoofable allocates %v times", n)
	}
}

func TestHopByHop(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"Keep-Alive": true, "Proxy-Connection": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
		"Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
		"Connection": false, "Content-Length": false, "X-Request-Id": false, "keep-alive": false,
	} {
		if got := table.HopByHop([]byte(name)); got != want {
			t.Errorf("HopByHop(%q) = %v, want %v", name, got, want)
		}
	}
}
