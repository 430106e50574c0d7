package runtime

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"sync/atomic"

	"github.com/cuegate/cuegate/compiler/table"
)

// upstreamTLSConfig verifies upstreams against caFile, a name from the
// table, or against the system roots when it is empty. digest is the
// SHA-256 of the file's content ("" for the system roots): a bundle
// rotated in place under the same name has another, so that the pools
// that verify with the old one are replaced.
func (g *Gateway) upstreamTLSConfig(caFile string) (cfg *tls.Config, digest string, err error) {
	if caFile == "" {
		return nil, "", nil // system roots
	}
	pem, err := table.ReadPEM(g.opts.ConfigDir, caFile)
	if err != nil {
		return nil, "", fmt.Errorf("upstream_ca_file: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, "", fmt.Errorf("upstream_ca_file %s: no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, pemDigest(pem), nil
}

// upstreamCACurrent reports whether t's upstream_ca_file holds the bundle
// the pools being served verify with; a file that cannot be read is not.
func (g *Gateway) upstreamCACurrent(t *table.Table) bool {
	name := t.Gateway.UpstreamCAFile
	if name == "" {
		return g.cur.Load().upstreamCA == ""
	}
	pem, err := table.ReadPEM(g.opts.ConfigDir, name)
	return err == nil && pemDigest(pem) == g.cur.Load().upstreamCA
}

// pemDigest is the digest upstreamTLSConfig gives a bundle.
func pemDigest(pem []byte) string {
	sum := sha256.Sum256(pem)
	return hex.EncodeToString(sum[:])
}

// TLSConfig returns the gateway listener's TLS configuration, whose
// certificate follows the table (a reload with a new certificate takes
// effect for new connections). It is nil when the table names no
// certificate.
func (g *Gateway) TLSConfig() *tls.Config { return tlsConfig(&g.cert) }

// PortalTLSConfig is TLSConfig for the portal listener (gateway.portal_tls).
func (g *Gateway) PortalTLSConfig() *tls.Config { return tlsConfig(&g.portalCert) }

func tlsConfig(cert *atomic.Pointer[tls.Certificate]) *tls.Config {
	if cert.Load() == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return cert.Load(), nil
		},
	}
}

// loadCerts reads the certificates t names (nil for those it does not),
// relative names from the configuration directory.
func (g *Gateway) loadCerts(t *table.Table) (gateway, portal *tls.Certificate, err error) {
	if gateway, err = g.loadCert("gateway tls", t.Gateway.TLS); err != nil {
		return nil, nil, err
	}
	if portal, err = g.loadCert("portal tls", t.Gateway.PortalTLS); err != nil {
		return nil, nil, err
	}
	return gateway, portal, nil
}

// storeCerts serves the given certificates from now on; nil keeps the one
// being served (a listener cannot stop serving TLS without a restart).
func (g *Gateway) storeCerts(gateway, portal *tls.Certificate) {
	if gateway != nil {
		g.cert.Store(gateway)
	}
	if portal != nil {
		g.portalCert.Store(portal)
	}
}

func (g *Gateway) loadCert(what string, files *table.TLS) (*tls.Certificate, error) {
	if files == nil {
		return nil, nil
	}
	cert, err := table.ReadPEM(g.opts.ConfigDir, files.CertFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	key, err := table.ReadPEM(g.opts.ConfigDir, files.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	c, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return &c, nil
}
