package table

import "slices"

// WatchedFiles returns the names, as written, of the files besides the
// .cue files whose change a reload picks up, sorted and without repeats:
// the OpenAPI documents t's catalogue was compiled from (they change the
// table), and the files it is served with, which a reload reads again
// though the table is the same: the listeners' certificates and keys, the
// upstream CA bundle, and the secret files of the admin token, the APIs'
// secret headers and the tracing exporter's headers.
func (t *Table) WatchedFiles() []string {
	var out []string
	for _, e := range t.Portal.Catalogue {
		if e.Reference != nil {
			out = append(out, e.Reference.File)
		}
	}
	for _, tls := range []*TLS{t.Gateway.TLS, t.Gateway.PortalTLS} {
		if tls != nil {
			out = append(out, tls.CertFile, tls.KeyFile)
		}
	}
	out = append(out, t.Gateway.UpstreamCAFile)
	secrets := []*Secret{t.Gateway.AdminToken}
	for _, a := range t.APIs {
		for _, h := range a.Upstream.SecretHeaders {
			secrets = append(secrets, h.Secret)
		}
	}
	if tr := t.Gateway.Tracing; tr != nil {
		for _, s := range tr.Headers {
			secrets = append(secrets, &s)
		}
	}
	for _, s := range secrets {
		if s != nil {
			out = append(out, s.File)
		}
	}
	out = slices.DeleteFunc(out, func(name string) bool { return name == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
