// Package memtrim hands back to the kernel the pages of a service's own
// executable that only its start-up touched.
//
// A go-zero service links far more code than it runs: zrpc's resolver
// brings Kubernetes' client, DTM's client the Mongo and Redis drivers. Their
// package initialisers run once, before main, and touch code, read-only
// data and function tables spread over the whole 90 MB binary; the kernel
// maps up to 64 KiB around every such fault. Measured on user, user-score
// and the gateway: 41–52 MB of the executable stayed mapped after start-up,
// next to 13–15 MB of heap and stacks; after a release, serving
// registrations mapped 24–30 MB of it back (docs/perf-log.md).
//
// Those pages are clean copies of the file: dropping the mappings loses
// nothing, and a page needed again is mapped back from the page cache on
// its next access, without disk I/O while the page cache still holds it.
// Only read-only mappings of the executable are dropped; its writable data
// and everything the process allocated stay as they are.
package memtrim

import "fmt"

// Result says what Trim did.
type Result struct {
	Mappings int   // read-only mappings of the executable released
	Bytes    int64 // their total size (mapped or not)
	// RssFileBefore and RssFileAfter are the process's file-backed resident
	// memory (RssFile in /proc/self/status) around the release, in KiB.
	RssFileBefore, RssFileAfter int64
}

// Run trims and says in one line what it released, for the start-up log.
func Run() string {
	r, err := Trim()
	switch {
	case err != nil:
		return "start-up pages kept: " + err.Error()
	case r.Mappings == 0:
		return "start-up pages kept (not on Linux)"
	}
	return fmt.Sprintf("start-up pages released: executable's resident pages %.1f → %.1f MB",
		float64(r.RssFileBefore)/1024, float64(r.RssFileAfter)/1024)
}
