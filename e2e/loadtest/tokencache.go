package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// tokenLifetime is the exp of minted tokens; a cached pool is used while it
// has more than poolMargin of that left, so no token expires mid-run.
const (
	tokenLifetime = 24 * time.Hour
	poolMargin    = 4 * time.Hour
)

// tokenCache keeps the benchmark's signing keys and minted token pools in a
// directory outside the repository (by default the user cache directory),
// because an RS256 signature costs ~1.2 ms: the (b) pool, which must be
// larger than cuegate's token cache for most requests to need a signature
// check, takes minutes of CPU to mint. Pools expire with their tokens.
type tokenCache struct {
	dir string
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

// openTokenCache loads dir/keys.pem, or generates keys there (dropping any
// pool signed by earlier keys).
func openTokenCache(dir string) (*tokenCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	c := &tokenCache{dir: dir}
	keyFile := filepath.Join(dir, "keys.pem")
	if b, err := os.ReadFile(keyFile); err == nil {
		if err := c.parseKeys(b); err == nil {
			return c, nil
		}
	}
	var err error
	if c.rsa, c.ec, err = generateKeys(); err != nil {
		return nil, err
	}
	old, _ := filepath.Glob(filepath.Join(dir, "*.tok"))
	for _, f := range old {
		os.Remove(f)
	}
	var buf bytes.Buffer
	for _, k := range []any{c.rsa, c.ec} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	return c, writeAtomic(keyFile, buf.Bytes())
}

func (c *tokenCache) parseKeys(b []byte) error {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return err
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			c.rsa = k
		case *ecdsa.PrivateKey:
			c.ec = k
		}
	}
	if c.rsa == nil || c.ec == nil {
		return errors.New("keys.pem: want an RSA and an EC key")
	}
	return nil
}

func (c *tokenCache) file(alg string, identities int) string {
	return filepath.Join(c.dir, fmt.Sprintf("%s-%d.tok", alg, identities))
}

// pool returns the first n cached tokens of alg for identities, or nil when
// the cache has fewer or they are too close to expiry. The file's first
// line is the Unix time of minting, then one token per line.
func (c *tokenCache) pool(alg string, identities, n int) [][]byte {
	f, err := os.Open(c.file(alg, identities))
	if err != nil {
		return nil
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<10)
	if !sc.Scan() {
		return nil
	}
	minted, err := strconv.ParseInt(sc.Text(), 10, 64)
	if err != nil || time.Since(time.Unix(minted, 0)) > tokenLifetime-poolMargin {
		return nil
	}
	out := make([][]byte, 0, n)
	for len(out) < n && sc.Scan() {
		out = append(out, append([]byte("Bearer "), sc.Bytes()...))
	}
	if len(out) < n {
		return nil
	}
	return out
}

// store writes a freshly minted pool (bearer values) to the cache.
func (c *tokenCache) store(alg string, identities int, pool [][]byte) error {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%d\n", time.Now().Unix())
	for _, b := range pool {
		buf.Write(bytes.TrimPrefix(b, []byte("Bearer ")))
		buf.WriteByte('\n')
	}
	return writeAtomic(c.file(alg, identities), buf.Bytes())
}

func writeAtomic(name string, b []byte) error {
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, name)
}
