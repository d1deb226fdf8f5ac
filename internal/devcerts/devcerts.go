// Package devcerts makes the suite's TLS material for a machine that has
// none: a CA and one certificate per process, signed by it, written as PEM
// files into one directory. The local stack (make run), the tests and the
// compose file's one-shot certs service use it; a production deployment
// brings certificates from its own CA with the same names (see
// rpc-common/peertls).
package devcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sagasuite/rpc-common/peertls"
)

// Identity is one certificate to make: Name is its common name and file
// name, DNSNames the names a server answers to (a service's etcd key and
// its host names).
type Identity struct {
	Name     string
	DNSNames []string
}

// Suite lists the suite's identities: the two branch services (named by
// their etcd keys, and by their compose host names), their callers, etcd
// itself, and etcd's root (the account that provisions the others). A
// process uses its certificate towards etcd too, where its common name is
// its account (internal/etcdauth). Every certificate also names localhost
// and 127.0.0.1.
var Suite = []Identity{
	{Name: "user", DNSNames: []string{"user.rpc", "user"}},
	{Name: "user-score", DNSNames: []string{"user-score.rpc", "user-score"}},
	{Name: peertls.DTM, DNSNames: []string{"dtm"}},
	{Name: peertls.Gateway, DNSNames: []string{"userapi"}},
	{Name: peertls.Repair},
	{Name: "etcd", DNSNames: []string{"etcd"}},
	{Name: "root"},
}

// Holdings says which keys each identity's process may hold beside its own:
// etcd's health check shows root's certificate. Split gives each process
// a directory with only these (and the CA's certificate, not its key).
var Holdings = map[string][]string{"etcd": {"root"}}

// Held lists the identities whose keys name's process holds: its own, then
// Holdings'.
func Held(name string) []string { return append([]string{name}, Holdings[name]...) }

// Split makes, for each identity, a directory dir/<name> holding ca.pem and
// the certificate and key of each identity Held(name) lists, under the same
// file names as in dir, so that a process mounts only its own directory
// and never sees the CA's key or another process's (compose mounts each
// service's with a volume subpath). It copies from dir, which Ensure filled.
func Split(dir string, ids []Identity) error {
	for _, id := range ids {
		sub := filepath.Join(dir, id.Name)
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return err
		}
		files := []string{"ca.pem"}
		for _, h := range Held(id.Name) {
			files = append(files, h+".pem", h+"-key.pem")
		}
		for _, f := range files {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return err
			}
			mode := os.FileMode(0o644)
			if strings.HasSuffix(f, "-key.pem") {
				mode = 0o600
			}
			if err := writeAtomic(filepath.Join(sub, f), data, mode); err != nil {
				return err
			}
		}
	}
	return nil
}

// validity is long enough for a development machine, short enough that a
// forgotten key does not stay good forever.
const validity = 2 * 365 * 24 * time.Hour

// Ensure makes dir hold a CA (ca.pem, ca-key.pem) and, for each identity,
// <name>.pem and <name>-key.pem signed by it. Files already there are kept
// when the certificate is signed by the CA there and valid for another
// week; otherwise everything is made anew. Keys are written 0600.
func Ensure(dir string, ids []Identity) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if current(dir, ids) {
		return nil
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "sagasuite development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := write(dir, "ca", caDER, caKey); err != nil {
		return err
	}
	for _, id := range ids {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: id.Name},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(validity),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			DNSNames:     append([]string{"localhost"}, id.DNSNames...),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		if err := write(dir, id.Name, der, key); err != nil {
			return err
		}
	}
	return nil
}

// Conf is the peertls configuration of identity name in dir.
func Conf(dir, name string) peertls.Conf {
	return peertls.Conf{
		CertFile: filepath.Join(dir, name+".pem"),
		KeyFile:  filepath.Join(dir, name+"-key.pem"),
		CAFile:   filepath.Join(dir, "ca.pem"),
	}
}

// current says whether dir already holds a usable set for ids.
func current(dir string, ids []Identity) bool {
	ca, err := readCert(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	soon := time.Now().Add(7 * 24 * time.Hour)
	for _, id := range ids {
		c, err := readCert(filepath.Join(dir, id.Name+".pem"))
		if err != nil || soon.After(c.NotAfter) || c.Subject.CommonName != id.Name {
			return false
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: soon, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return false
		}
		if _, err := os.Stat(filepath.Join(dir, id.Name+"-key.pem")); err != nil {
			return false
		}
	}
	return true
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New(path + ": no certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

func write(dir, name string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, name+"-key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, name+".pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeAtomic replaces path, so that a reader never sees half a file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return n
}
