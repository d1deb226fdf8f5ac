// Command certs makes the suite's TLS material where there is none: a
// development CA and one certificate per process (internal/devcerts), kept
// as they are when already there and valid. `make run` and the tests make
// theirs themselves; compose runs this once into its tls volume.
//
//	go run ./deploy/certs                    # into .data/tls
//	go run ./deploy/certs -dir /tls -split -chown 65532:65532
//
// With -split it also gives each identity a directory of its own,
// <dir>/<name>, holding only its certificate and key and the CA's
// certificate (devcerts.Split), so that each container mounts only its
// own: the CA's key and the other processes' keys stay in the volume's
// root, which only this command mounts.
//
// A production deployment brings certificates from its own CA instead,
// with the same common names (see rpc-common/peertls).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"sagasuite/internal/devcerts"
)

func main() {
	dir := flag.String("dir", ".data/tls", "directory for the CA and the certificates")
	chown := flag.String("chown", "", "uid:gid to own the files (for containers that run as another user)")
	split := flag.Bool("split", false, "also give each identity a directory <dir>/<name> with only its own key")
	flag.Parse()
	if err := run(*dir, *chown, *split); err != nil {
		fmt.Fprintf(os.Stderr, "certs: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, chown string, split bool) error {
	if err := devcerts.Ensure(dir, devcerts.Suite); err != nil {
		return err
	}
	if split {
		if err := devcerts.Split(dir, devcerts.Suite); err != nil {
			return err
		}
	}
	if chown != "" {
		u, g, ok := strings.Cut(chown, ":")
		uid, err1 := strconv.Atoi(u)
		gid, err2 := strconv.Atoi(g)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("-chown %q: want uid:gid", chown)
		}
		err := filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, uid, gid)
		})
		if err != nil {
			return err
		}
	}
	names := make([]string, len(devcerts.Suite))
	for i, id := range devcerts.Suite {
		names[i] = id.Name
	}
	fmt.Printf("certificates in %s: CA ca.pem; %s (<name>.pem, <name>-key.pem)\n", dir, strings.Join(names, ", "))
	return nil
}
